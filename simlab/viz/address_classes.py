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
    transport, nexthop and why. The figure never cuts a text: the next hop
    and the "decided by" reason (the parameter that decided) are wrapped,
    one clause per line, and each row is as tall as its longest cell.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterable

from matplotlib.font_manager import FontProperties

from matplotlib.patches import Patch

from ._style import BLUE, GREEN, GREY, ORANGE, PURPLE, SKY, VERMILLION, SimFigure, finish

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


def _wrap(text: str, width_in: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` over as many lines as it needs to fit ``width_in``; clauses ('; ') start a line."""
    lines: list[str] = []
    clauses = text.split("; ")
    for k, clause in enumerate(clauses):
        line = ""
        for word in (clause + (";" if k < len(clauses) - 1 else "")).split(" "):
            candidate = f"{line} {word}" if line else word
            if measure(candidate) <= width_in:
                line = candidate
                continue
            if line:
                lines.append(line)
            while len(word) > 1 and measure(word) > width_in:     # an address has no spaces: cut it
                cut = len(word) - 1
                while cut > 1 and measure(word[:cut]) > width_in:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines or [""]


def address_class_figure(records: Iterable[Any], title: str | None = None) -> SimFigure:
    """The records as a coloured table with a legend of the address classes.

    Every text is shown in full: long ones are wrapped and their row grows.
    """
    rows = rows_of(records)
    width, fontsize, pad_in, line_in = 13.0, 8.5, 0.06, _line_height(8.5)
    col_w = (0.22, 0.11, 0.08, 0.17, 0.42)
    ax_w = 0.98 * width
    fig = SimFigure(figsize=(width, 3), dpi=100)
    renderer = fig.canvas.get_renderer()
    font = FontProperties(size=fontsize)

    def measure(text: str) -> float:
        return renderer.get_text_width_height_descent(text, font, ismath=False)[0] / fig.dpi

    cells = [[r[0], r[1].replace("_", " "), r[2], r[3], r[4]] for r in rows] or [["(no addresses)", "", "", "", ""]]
    wrapped = [["\n".join(_wrap(v, w * ax_w - 2 * pad_in - 0.02, measure)) for v, w in zip(row, col_w)]
               for row in cells]
    row_in = [0.32] + [0.12 + line_in * max(v.count("\n") + 1 for v in row) for row in wrapped]
    table_in = sum(row_in)
    used = [c for c in CLASS_COLOURS if any(r[1] == c for r in rows)]
    legend_in = 0.2 * ((len(used) + 1) // 2) + 0.2 if used else 0.1
    height = 0.6 + table_in + 0.15 + legend_in
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0.01, (legend_in + 0.15) / height, 0.98, table_in / height))
    ax.axis("off")
    table = ax.table(cellText=wrapped, colLabels=list(HEADERS), loc="upper center", cellLoc="left",
                     colWidths=list(col_w))
    table.auto_set_font_size(False)
    table.set_fontsize(fontsize)
    for (row, col), cell in table.get_celld().items():
        cell.set_height(row_in[row] / table_in)
        cell.PAD = pad_in / (col_w[col] * ax_w)
        if row == 0:
            cell.set_text_props(fontweight="bold")
            cell.set_facecolor("#eeeeee")
        elif rows:
            colour = CLASS_COLOURS.get(rows[row - 1][1], GREY)
            if col == 1:
                cell.set_facecolor(colour)
                cell.set_alpha(0.55)
    handles = [Patch(fc=CLASS_COLOURS[c], alpha=0.55, label=CLASS_MEANING[c]) for c in used]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    finish(fig, title or "Address classes: what trivial-rewrite decided for each recipient")
    return fig


def _line_height(points: float) -> float:
    """The height of one text line in inches (matplotlib's line spacing is 1.2)."""
    return points * 1.2 / 72 + 0.005
