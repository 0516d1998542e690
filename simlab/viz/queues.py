"""NAME
    queues - how many messages each Postfix queue holds, against virtual time

SUMMARY
    fig = queue_figure(net.trace, host="mail.example.com")
    series = queue_series(net.trace, host="mail.example.com")   # {"deferred": [(t, n), ...], ...}

DESCRIPTION
    Every ``queue`` trace event (details qid, src, dst) moves one queue file
    from one queue to another; a file that appears has no src and a file that
    is removed has no dst. Counting them gives a step curve per queue: mail
    arriving in incoming, waiting in active, sitting in deferred between
    retries (queue_run_delay, minimal_backoff_time, maximal_backoff_time) and
    leaving. Retries (deferred -> active) are marked on the time axis.

    Moves at the same virtual time count as one instant: a curve changes
    only where the count at the end of an instant differs from the count
    before it. A retry that fails again at once (deferred -> active ->
    deferred at one time) leaves the deferred curve flat; its marker shows it.

PARAMETERS
    host     one Postfix instance; None adds up every host of the trace
    queues   which curves to draw (default: every queue that ever held mail)
"""

from __future__ import annotations

from typing import Any

from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ._style import GREY, QUEUE_COLOURS, SimFigure, finish
from .tracedata import QUEUES, queue_moves


def queue_series(trace: Any, host: str | None = None) -> dict[str, list[tuple[float, int]]]:
    """Per queue, (time, count) at the end of every instant that changed it, starting at (0, 0)."""
    counts = {q: 0 for q in QUEUES}
    series: dict[str, list[tuple[float, int]]] = {q: [(0.0, 0)] for q in QUEUES}
    moves = queue_moves(trace, host)
    for i, mv in enumerate(moves):
        for q, delta in ((mv.src, -1), (mv.dst, +1)):
            if q:
                counts[q] = max(0, counts[q] + delta)
        if i + 1 < len(moves) and moves[i + 1].time == mv.time:
            continue
        for q, n in counts.items():
            last_t, last_n = series[q][-1]
            if n != last_n:
                if last_t == mv.time:
                    series[q][-1] = (mv.time, n)
                else:
                    series[q].append((mv.time, n))
    return series


def queue_figure(trace: Any, host: str | None = None, queues: tuple[str, ...] | None = None,
                 title: str | None = None) -> SimFigure:
    """Messages per queue against virtual time, with retries marked."""
    series = queue_series(trace, host)
    moves = queue_moves(trace, host)
    end = max([ev.time for ev in trace] or [1.0])
    minutes = end > 600
    scale = 60.0 if minutes else 1.0
    used = {q for mv in moves for q in (mv.src, mv.dst) if q}
    shown = queues or tuple(q for q in QUEUES if q in used) or ("incoming", "active", "deferred")
    fig = SimFigure(figsize=(10, 4.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    top = 1
    for q in shown:
        pts = series[q] + [(end, series[q][-1][1])]
        xs = [t / scale for t, _ in pts]
        ys = [n for _, n in pts]
        top = max(top, *ys)
        ax.step(xs, ys, where="post", color=QUEUE_COLOURS[q], lw=2, label=f"{q} queue", gid=f"queue-{q}")
    retries = [mv.time / scale for mv in moves if mv.src == "deferred" and mv.dst == "active"]
    if retries:
        ax.plot(retries, [0] * len(retries), ls="none", marker="^", ms=9, color="black", clip_on=False,
                label="retry: deferred → active", gid="retries")
    ax.set_xlim(0, max(end / scale, 1e-3) * 1.02)
    ax.set_ylim(-0.05 * top, top * 1.15 + 0.2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("virtual time (minutes)" if minutes else "virtual time (seconds)")
    ax.set_ylabel("messages in the queue")
    ax.grid(True, alpha=0.3)
    if not moves:
        ax.text(0.5, 0.5, "no queue events in this trace", transform=ax.transAxes, ha="center", color=GREY)
    ax.legend(handles=[h for h in ax.get_lines() if not h.get_label().startswith("_")] or
              [Line2D([], [], color=GREY, label="(no queue)")], loc="upper right", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.86)
    finish(fig, title or f"Postfix queues over time — {host or 'all hosts'}")
    return fig
