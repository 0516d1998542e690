"""NAME
    simlab.viz - figures that show what happened in a run, read from its trace

SUMMARY
    topology_figure(net), route_figure(trace, qid, host=...), inside_postfix(trace, host, qid),
    sequence_figure(trace, conn), to_mermaid(trace, conn), address_class_figure(records),
    queue_figure(trace, host); save(fig, "x.svg"), to_svg(fig), to_png(fig)

DESCRIPTION
    Every function returns a matplotlib Figure (no pyplot state; a notebook
    shows it as PNG) with a title, labelled parts and a legend where colours
    carry meaning. The same trace always gives the same image.
"""

from __future__ import annotations

from ._style import save, to_png, to_svg
from .address_classes import address_class_figure, address_table, address_table_html
from .inside_postfix import inside_postfix, message_steps
from .queues import queue_figure, queue_series
from .route import message_route, route_figure
from .sequence import Mermaid, sequence_figure, to_mermaid
from .topology import host_roles, topology_figure

__all__ = ["Mermaid", "address_class_figure", "address_table", "address_table_html", "host_roles",
           "inside_postfix", "message_route", "message_steps", "queue_figure", "queue_series", "route_figure",
           "save", "sequence_figure", "to_mermaid", "to_png", "to_svg", "topology_figure"]
