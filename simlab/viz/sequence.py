"""NAME
    sequence - one connection as a sequence diagram (matplotlib and Mermaid)

SUMMARY
    fig = sequence_figure(net.trace, "c1")
    text = to_mermaid(net.trace, "c1");  Mermaid(text)   # JupyterLab renders it natively
    save(fig, "smtp-dialog.svg");  to_svg(fig);  to_png(fig)

DESCRIPTION
    Two lanes, the client on the left and the server on the right, and time
    running down. Every command and every reply is one arrow labelled with its
    text and the virtual time at which it was sent; a multi-line reply (EHLO's
    250- lines, a POP3 listing, IMAP untagged data) is one arrow, and the
    message text sent after 354 is one "content" arrow. Reply arrows are
    coloured by what the reply means (success, go on, temporary or permanent
    failure) and the legend says so. The connection's opening and closing are
    drawn as notes across both lanes.

    Everything is read from the trace's ``connect``, ``send``, ``close`` and
    ``reset`` events of the connection, so the figure shows what was really
    said, pipelined commands included (they leave at the same instant, before
    their replies arrive).

PARAMETERS
    until       show only what happened up to this trace index (the replay player)
    max_lines   lines of text shown per arrow before "… (N more lines)"
    max_turns   arrows drawn before the figure says how many more there were
"""

from __future__ import annotations

from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch

from ._style import (BLACK, GREY, PURPLE, MONO, REPLY_COLOURS, REPLY_MEANING, SimFigure, blank, finish, save,
                     short, to_png, to_svg)
from .dialog import Turn, turns
from .tracedata import ConnInfo, conn_lines, connection

__all__ = ["sequence_figure", "sequence_turns", "to_mermaid", "Mermaid", "save", "to_svg", "to_png"]

CONTENT_COLOUR = PURPLE
LINE_H = 0.16      # inches per text line
WIDTH = 11.0
CLIENT_X, SERVER_X = 2.9, 9.2


def sequence_turns(trace: Any, conn: str, until: int | None = None) -> tuple[ConnInfo, list[Turn]]:
    """The connection's facts and its arrows (commands, contents, replies) in time order."""
    info = connection(trace, conn)
    lines = conn_lines(trace, conn)
    if until is not None:
        lines = [ln for ln in lines if ln.key[0] <= until]
    return info, turns(lines, info.protocol)


def _label(turn: Turn, max_lines: int, width: int = 72) -> list[str]:
    if turn.kind == "content":
        n = len(turn.lines) - (1 if turn.lines and turn.lines[-1] == "." else 0)
        head = [f"[message content: {n} line{'s' if n != 1 else ''}]"]
        shown = [ln for ln in turn.lines[: max_lines - 1]]
        extra = len(turn.lines) - len(shown)
        lines = head + shown + ([f"… ({extra} more lines)"] if extra > 0 else [])
    else:
        lines = turn.lines[:max_lines]
        if len(turn.lines) > max_lines:
            lines.append(f"… ({len(turn.lines) - max_lines} more lines)")
    return [short(ln.replace("\t", "    "), width) or " " for ln in lines]


def _lane_title(info: ConnInfo, side: str) -> str:
    if side == "C":
        return f"{info.client}\n{info.client_ip} · client ({info.client_component})"
    return f"{info.server}:{info.port}\n{info.server_ip} · server ({info.server_component})"


def sequence_figure(trace: Any, conn: str, *, until: int | None = None, max_lines: int = 5,
                    max_turns: int = 60, title: str | None = None) -> SimFigure:
    """The sequence diagram of connection ``conn`` as a matplotlib Figure."""
    info, all_turns = sequence_turns(trace, conn, until)
    shown = all_turns[:max_turns]
    labels = [_label(t, max_lines) for t in shown]
    rows = [0.22 + LINE_H * len(lb) for lb in labels]
    closed = info.closed is not None and (until is None or _closed_index(trace, conn) <= until)
    body = sum(rows) + 0.5 + (0.45 if closed else 0) + (0.3 if len(all_turns) > max_turns else 0)
    height = body + 1.55
    fig = SimFigure(figsize=(WIDTH, height), dpi=100)
    ax = fig.add_axes((0.0, 0.55 / height, 1.0, (height - 1.35) / height))
    top = 0.0
    bottom = -body
    blank(ax, (0, WIDTH), (bottom, 0.75))
    ax.set_ylabel("virtual time ↓ (seconds since the run began)", fontsize=8, color=GREY)
    ax.yaxis.set_label_coords(0.012, 0.5)

    for x, side in ((CLIENT_X, "C"), (SERVER_X, "S")):
        ax.add_patch(FancyBboxPatch((x - 1.35, 0.12), 2.7, 0.55, boxstyle="round,pad=0.03",
                                    fc="#f2f2f2", ec=BLACK, lw=1, gid=f"lane-{side}"))
        ax.text(x, 0.395, _lane_title(info, side), ha="center", va="center", fontsize=8.5, gid=f"lane-label-{side}")
        ax.plot([x, x], [0.1, bottom], color=GREY, lw=1, ls="--", zorder=0)

    y = top - 0.25
    ax.text((CLIENT_X + SERVER_X) / 2, y, f"TCP connection {conn} opened · t={info.opened:.3f} s",
            ha="center", va="center", fontsize=7.5, color=GREY, style="italic",
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=GREY, lw=0.6))
    y -= 0.25
    last = len(shown) - 1 if until is not None else -1
    for i, (turn, lb, h) in enumerate(zip(shown, labels, rows)):
        y_arrow = y - h + 0.08
        colour = BLACK if turn.kind == "command" else CONTENT_COLOUR if turn.kind == "content" \
            else REPLY_COLOURS.get(turn.klass, GREY)
        x0, x1 = (CLIENT_X, SERVER_X) if turn.side == "C" else (SERVER_X, CLIENT_X)
        lw = 2.6 if i == last else 1.4
        ax.annotate("", xy=(x1, y_arrow), xytext=(x0, y_arrow), gid=f"arrow-{i}",
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=lw, shrinkA=0, shrinkB=0,
                                    ls="--" if turn.kind == "content" else "-"))
        ax.text((CLIENT_X + SERVER_X) / 2, y_arrow + 0.05, "\n".join(lb), ha="center", va="bottom",
                fontsize=7.5, family=MONO, color=colour if turn.side == "S" else BLACK, linespacing=1.15,
                gid=f"text-{i}")
        ax.text(0.25, y_arrow, f"{turn.time:.3f} s", ha="left", va="center", fontsize=7.5, color=GREY,
                gid=f"time-{i}")
        y -= h
    if len(all_turns) > max_turns:
        y -= 0.15
        ax.text((CLIENT_X + SERVER_X) / 2, y, f"… {len(all_turns) - max_turns} more commands and replies",
                ha="center", va="center", fontsize=8, color=GREY)
        y -= 0.15
    if closed:
        who = {"C": "the client", "S": "the server"}.get(info.closed_by, "?")
        ax.text((CLIENT_X + SERVER_X) / 2, y - 0.25, f"connection closed by {who} · t={info.closed:.3f} s",
                ha="center", va="center", fontsize=7.5, color=GREY, style="italic",
                bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=GREY, lw=0.6))

    used = {t.klass for t in shown if t.side == "S"}
    handles = [Line2D([], [], color=BLACK, lw=2, label="client command")]
    if any(t.kind == "content" for t in shown):
        handles.append(Line2D([], [], color=CONTENT_COLOUR, lw=2, ls="--", label="message content (after 354)"))
    handles += [Line2D([], [], color=REPLY_COLOURS[k], lw=2, label="reply: " + REPLY_MEANING[k])
                for k in ("2", "3", "4", "5", "?") if k in used]
    fig.legend(handles=handles, loc="lower center", ncol=min(3, len(handles)), fontsize=8, frameon=False)
    proto = info.protocol.upper()
    finish(fig, title or f"{proto} dialog on connection {conn}: {info.client} → {info.server} port {info.port}")
    return fig


def _closed_index(trace: Any, conn: str) -> int:
    for i, ev in enumerate(trace):
        if ev.details.get("conn") == conn and ev.kind in ("close", "reset"):
            return i
    return 1 << 60


# -- Mermaid --------------------------------------------------------------------------
def _mm(text: str) -> str:
    """Text made safe for a Mermaid message (entity codes for its special characters)."""
    out = []
    for ch in text:
        if ch in "#;<>&\"{}%":
            out.append(f"#{ord(ch)};")
        else:
            out.append(ch)
    return "".join(out)


def to_mermaid(trace: Any, conn: str, max_lines: int = 5) -> str:
    """The sequence diagram of ``conn`` as Mermaid ``sequenceDiagram`` text."""
    info, all_turns = sequence_turns(trace, conn)
    out = ["sequenceDiagram",
           f"    participant C as {_mm(info.client)} (client, {_mm(info.client_component)})",
           f"    participant S as {_mm(info.server)}:{info.port} ({_mm(info.server_component)})",
           f"    Note over C,S: {info.protocol.upper()} · TCP connection {conn} opened at t={info.opened:.3f} s"]
    for turn in all_turns:
        arrow = "C->>S" if turn.side == "C" else "S-->>C"
        text = "<br/>".join(_mm(ln) for ln in _label(turn, max_lines, width=90))
        out.append(f"    {arrow}: {turn.time:.3f} s · {text}")
    if info.closed is not None:
        who = {"C": "client", "S": "server"}.get(info.closed_by, "?")
        out.append(f"    Note over C,S: connection closed by the {who} at t={info.closed:.3f} s")
    return "\n".join(out) + "\n"


class Mermaid(str):
    """Mermaid text that JupyterLab (4.1 and later) draws when it is a cell's result."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/vnd.mermaid": str(self), "text/plain": str(self)}
