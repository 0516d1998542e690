"""NAME
    address_classes - which address class, transport and next hop Postfix chose, and why

SUMMARY
    rows = [resolve(ctx, a) for a in addresses]          # Resolution-like records
    print(address_table(rows))                           # a text table
    address_table_html(rows)                             # for a notebook or a widget
    fig = address_class_figure(rows)

DESCRIPTION
    trivial-rewrite(8) puts every recipient in one address class (local,
    virtual alias, virtual mailbox, relay, default) from mydestination,
    virtual_alias_domains, virtual_mailbox_domains and relay_domains, and
    picks the transport and next hop from the class's *_transport parameter
    or from transport_maps (ADDRESS_CLASS_README). The records given here are
    what ``resolve`` answered; nothing is decided in this module.

    A record is anything with the attributes (or mapping keys) address, cls,
    transport, nexthop and why.
"""

from __future__ import annotations

import html
from typing import Any, Iterable

from matplotlib.patches import Patch

from ._style import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, SimFigure, finish, short

COLUMNS = ("address", "cls", "transport", "nexthop", "why")
HEADERS = ("address", "address class", "transport", "next hop", "decided by")
CLASS_COLOURS = {"local": GREEN, "virtual_alias": SKY, "virtual_mailbox": BLUE, "relay": ORANGE,
                 "default": PURPLE, "error": VERMILLION}
CLASS_MEANING = {
    "local": "local: a domain in mydestination, delivered by local(8) to a Unix account",
    "virtual_alias": "virtual alias: only forwarded to other addresses (virtual_alias_maps)",
    "virtual_mailbox": "virtual mailbox: mailboxes without Unix accounts (virtual(8))",
    "relay": "relay: this server is a backup MX / gateway for it (relay_domains)",
    "default": "default: anywhere else, looked up in DNS (default_transport)",
    "error": "error: refused (the address is not deliverable)",
}


def _get(rec: Any, name: str) -> str:
    if isinstance(rec, dict):
        return str(rec.get(name, "") or "")
    return str(getattr(rec, name, "") or "")


def rows_of(records: Iterable[Any]) -> list[tuple[str, ...]]:
    """The records as tuples of the five columns."""
    return [tuple(_get(r, c) for c in COLUMNS) for r in records]


def address_table(records: Iterable[Any]) -> str:
    """A fixed-width text table, one address per line."""
    rows = rows_of(records)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(HEADERS)]
    widths[-1] = len(HEADERS[-1])
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*HEADERS).rstrip(), "  ".join("-" * w for w in widths)]
    out += [fmt.format(*r[:-1], r[-1]).rstrip() for r in rows]
    return "\n".join(out)


def address_table_html(records: Iterable[Any]) -> str:
    """An HTML table with each row tinted by its address class."""
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>" for h in HEADERS)
    body = []
    for r in rows_of(records):
        colour = CLASS_COLOURS.get(r[1], GREY)
        cells = "".join(f"<td style='padding:2px 8px;font-family:monospace'>{html.escape(v)}</td>" for v in r)
        body.append(f"<tr style='border-left:6px solid {colour}'>{cells}</tr>")
    return f"<table style='border-collapse:collapse'><tr>{head}</tr>{''.join(body)}</table>"


def address_class_figure(records: Iterable[Any], title: str | None = None) -> SimFigure:
    """The records as a coloured table with a legend of the address classes."""
    rows = rows_of(records)
    height = 1.6 + 0.27 * max(1, len(rows))
    fig = SimFigure(figsize=(13, height), dpi=100)
    ax = fig.add_axes((0.01, 0.75 / height, 0.98, (height - 1.25) / height))
    ax.axis("off")
    cells = [[short(r[0], 34), r[1].replace("_", " "), r[2], short(r[3], 30), short(r[4], 60)] for r in rows] \
        or [["(no addresses)", "", "", "", ""]]
    table = ax.table(cellText=cells, colLabels=list(HEADERS), loc="upper center", cellLoc="left",
                     colWidths=[0.21, 0.12, 0.09, 0.19, 0.39])
    table.auto_set_font_size(False)
    table.set_fontsize(8.5)
    table.scale(1, 1.35)
    for (row, col), cell in table.get_celld().items():
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#eeeeee")
        elif rows:
            colour = CLASS_COLOURS.get(rows[row - 1][1], GREY)
            if col == 1:
                cell.set_facecolor(colour)
                cell.set_alpha(0.55)
    used = [c for c in CLASS_COLOURS if any(r[1] == c for r in rows)]
    handles = [Patch(fc=CLASS_COLOURS[c], alpha=0.55, label=CLASS_MEANING[c]) for c in used]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    finish(fig, title or "Address classes: what trivial-rewrite decided for each recipient")
    return fig
