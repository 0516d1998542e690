"""NAME
    _style - the shared look of simlab's figures, and their export

SUMMARY
    fig, ax = new_figure(8, 4); finish(fig, ax, "Title")
    to_svg(fig) -> bytes; to_png(fig) -> bytes; save(fig, "slide.svg")

DESCRIPTION
    Every figure is a ``SimFigure``: a plain matplotlib Figure with its own
    Agg canvas (no pyplot state, so a notebook can make hundreds) that a
    notebook shows as PNG. Colours come from the Okabe-Ito palette, which
    colour-blind readers can tell apart; a colour always means one thing
    inside a figure and its legend says which.

    Exports are deterministic: SVG ids come from a fixed ``svg.hashsalt`` and
    the date is left out of the metadata, so the same trace gives the same
    bytes.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

HASHSALT = "simlab"
MONO = "DejaVu Sans Mono"

# Okabe-Ito
ORANGE, SKY, GREEN, YELLOW, BLUE, VERMILLION, PURPLE, GREY, BLACK = (
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999", "#000000")

ROLE_COLOURS = {"MUA": SKY, "MTA": ORANGE, "store": GREEN, "DNS": PURPLE, "host": GREY}
REPLY_COLOURS = {"2": GREEN, "3": BLUE, "4": ORANGE, "5": VERMILLION, "?": GREY}
REPLY_MEANING = {"2": "success (2xx, +OK, OK)", "3": "go on (3xx, + continuation)",
                 "4": "temporary failure (4xx)", "5": "permanent failure (5xx, -ERR, NO, BAD)",
                 "?": "other server output"}
OUTCOME_COLOURS = {"sent": GREEN, "queued": BLUE, "deferred": ORANGE, "bounced": VERMILLION,
                   "rejected": VERMILLION, "expired": VERMILLION, "read": GREEN, "in transit": GREY}
QUEUE_COLOURS = {"maildrop": PURPLE, "incoming": SKY, "active": GREEN, "deferred": ORANGE,
                 "hold": GREY, "corrupt": VERMILLION}


class SimFigure(Figure):
    """A matplotlib Figure with an Agg canvas that notebooks display as PNG."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def _repr_png_(self) -> bytes:
        return to_png(self)


def new_figure(width: float, height: float) -> tuple[SimFigure, Any]:
    """A figure of ``width`` x ``height`` inches with one axes."""
    fig = SimFigure(figsize=(width, height), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    return fig, ax


def blank(ax: Any, xlim: tuple[float, float], ylim: tuple[float, float]) -> None:
    """An axes used as a drawing board: fixed limits, no ticks, no frame."""
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)


def finish(fig: Any, title: str) -> Any:
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig


def short(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


# -- export ---------------------------------------------------------------------------
def _savefig(fig: Any, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    meta: dict[str, Any] = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
                            "png": {}}.get(fmt, {})
    with matplotlib.rc_context({"svg.hashsalt": HASHSALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, metadata=meta, **kw)
    return buf.getvalue()


def to_svg(fig: Any) -> bytes:
    """The figure as SVG bytes (deterministic)."""
    return _savefig(fig, "svg")


def to_png(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    return _savefig(fig, "png", dpi=dpi)


def save(fig: Any, path: str | Path, dpi: int = 150) -> Path:
    """Write the figure for slides; the format follows the suffix (.svg, .png, .pdf)."""
    p = Path(path)
    fmt = p.suffix.lstrip(".").lower() or "svg"
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"cannot save a figure as .{fmt}: use .svg, .png or .pdf")
    p.write_bytes(_savefig(fig, fmt, **({"dpi": dpi} if fmt == "png" else {})))
    return p
