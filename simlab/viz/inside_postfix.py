"""NAME
    inside_postfix - Postfix's architecture (chapter 3) with one message's path lit up

SUMMARY
    fig = inside_postfix(net.trace, host="mail.example.com", qid="C7D5B160542")
    steps = message_steps(net.trace, "C7D5B160542", host="mail.example.com")

DESCRIPTION
    The daemons (master, smtpd, pickup, cleanup, trivial-rewrite, qmgr, the
    delivery agents local/virtual/smtp/lmtp/pipe/error/discard, bounce), the
    sendmail/postdrop commands and the queues (maildrop, incoming, active,
    deferred, hold, corrupt) drawn as in the Postfix architecture overview.
    Each queue shows how many messages it holds at the chosen moment, counted
    from the trace's ``queue`` events; daemons show how many processes master
    has running when the trace has ``process`` events.

    With ``qid`` the path of that queue file is highlighted: every ``log`` and
    ``queue`` event about it becomes a numbered step, the boxes it touched are
    outlined, the hand-offs drawn as thick arrows, and a table under the
    drawing lists each step with its virtual time since the first one.

PARAMETERS
    host    the Postfix instance (a trace carries every host's events)
    qid     the queue id to follow
    until   draw the state after this trace index (the replay player)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from ._style import BLACK, GREY, MONO, QUEUE_COLOURS, VERMILLION, SimFigure, blank, finish, short
from .tracedata import QUEUES, parse_log, queue_counts, upto

HIGHLIGHT = VERMILLION
AGENTS = ("local", "virtual", "smtp", "lmtp", "pipe", "error", "discard")
DAEMON_FC = "#fde9c4"
QUEUE_FC = "#dcefe6"
OUTSIDE_FC = "#e8f4fb"

# name -> (x, y, label, kind)
NODES: dict[str, tuple[float, float, str, str]] = {
    "network": (0.9, 6.6, "SMTP client\n(network)", "outside"),
    "user": (0.9, 3.0, "local user\n(a program)", "outside"),
    "smtpd": (3.0, 6.6, "smtpd", "daemon"),
    "sendmail": (3.0, 3.0, "sendmail\npostdrop", "command"),
    "maildrop": (3.0, 1.2, "maildrop", "queue"),
    "pickup": (5.1, 3.0, "pickup", "daemon"),
    "cleanup": (5.1, 5.0, "cleanup", "daemon"),
    "trivial-rewrite": (7.5, 7.8, "trivial-rewrite", "daemon"),
    "incoming": (7.5, 5.0, "incoming", "queue"),
    "hold": (7.5, 3.0, "hold", "queue"),
    "corrupt": (9.8, 1.2, "corrupt", "queue"),
    "qmgr": (9.8, 6.6, "qmgr", "daemon"),
    "active": (9.8, 5.0, "active", "queue"),
    "deferred": (9.8, 3.0, "deferred", "queue"),
    "bounce": (7.5, 1.2, "bounce\n(defer, trace)", "daemon"),
    **{a: (12.3, 8.2 - i * 1.1, a, "daemon") for i, a in enumerate(AGENTS)},
    "dest-local": (14.8, 8.2, "mailbox\n/var/mail, ~/Maildir", "outside"),
    "dest-virtual": (14.8, 7.1, "virtual\nmailboxes", "outside"),
    "dest-smtp": (14.8, 6.0, "remote MTA\n(port 25)", "outside"),
    "dest-lmtp": (14.8, 4.9, "LMTP store\n(Dovecot)", "outside"),
    "dest-pipe": (14.8, 3.8, "command\n(pipe)", "outside"),
    "dest-error": (14.8, 2.7, "(refused:\nbounce)", "outside"),
    "dest-discard": (14.8, 1.6, "(thrown\naway)", "outside"),
}
EDGES: list[tuple[str, str, str]] = [
    ("network", "smtpd", ""), ("user", "sendmail", ""), ("sendmail", "maildrop", ""),
    ("maildrop", "pickup", ""), ("smtpd", "cleanup", ""), ("pickup", "cleanup", ""),
    ("cleanup", "trivial-rewrite", "rewrite"), ("qmgr", "trivial-rewrite", "resolve"),
    ("cleanup", "incoming", ""), ("incoming", "active", ""), ("active", "deferred", "try later"),
    ("deferred", "active", "retry"), ("hold", "deferred", "-H"), ("incoming", "hold", "hold"),
    ("bounce", "cleanup", "DSN"),
    *[(a, "dest-" + a, "") for a in AGENTS], *[("active", a, "") for a in AGENTS],
]
BOX_W, BOX_H = 1.55, 0.72


@dataclass
class Step:
    """One thing that happened to a queue file: when, where (a node name) and what."""

    index: int
    time: float
    node: str           # a key of NODES, or "" when the diagram has no box for it
    program: str
    text: str
    src: str = ""       # for a queue move: the queue it left


def message_steps(trace: Any, qid: str, host: str | None = None, until: int | None = None) -> list[Step]:
    """Every trace event about queue file ``qid``, as steps on the diagram."""
    steps: list[Step] = []
    for i, ev in enumerate(upto(trace, until)):
        if host is not None and ev.host != host:
            continue
        if ev.kind == "queue" and str(ev.details.get("qid", "")) == qid:
            src, dst = str(ev.details.get("src") or ""), str(ev.details.get("dst") or "")
            if dst in QUEUES:
                steps.append(Step(i, ev.time, dst, "queue", f"queue file {src or 'new'} → {dst}", src))
            else:
                steps.append(Step(i, ev.time, "", "queue", f"queue file removed from {src or '?'}"))
        elif ev.kind == "log":
            rec = parse_log(ev)
            if rec.qid != qid:
                continue
            node = rec.program if rec.program in NODES else ("sendmail" if rec.program == "postdrop" else "")
            steps.append(Step(i, ev.time, node, rec.program, rec.text))
            if node in AGENTS and rec.status == "sent":
                steps.append(Step(i, ev.time, "dest-" + node, rec.program, rec.fields.get("to", "")))
    return steps


def _path_edges(steps: list[Step]) -> list[tuple[str, str]]:
    """The hand-offs a message made, as (from, to) node pairs in the order they happened."""
    edges: list[tuple[str, str]] = []
    prev = last_queue = last_agent = ""
    for s in steps:
        node = s.node
        if not node or node in ("qmgr", "trivial-rewrite"):
            continue
        if not prev:
            prev = {"smtpd": "network", "pickup": "maildrop", "maildrop": "sendmail",
                    "sendmail": "user"}.get(node, "")
            if node == "pickup":
                edges += [("user", "sendmail"), ("sendmail", "maildrop")]
            elif node == "maildrop":
                edges.append(("user", "sendmail"))
        if node in AGENTS:
            src = last_queue or prev
            last_agent = node
        elif node.startswith("dest-"):
            src = node[5:]
        elif NODES[node][3] == "queue":
            src = s.src if s.src in NODES else prev
            last_queue = node
        elif node == "bounce":
            src = last_agent or last_queue or prev
        else:
            src = prev
        if src and src != node and (src, node) not in edges:
            edges.append((src, node))
        if not node.startswith("dest-"):
            prev = node
    return edges


def _processes(events: list[Any], host: str | None) -> dict[str, int]:
    """Processes running per program, from master's ``process`` events (event start / exit)."""
    running: dict[str, int] = {}
    for ev in events:
        if ev.kind != "process" or (host is not None and ev.host != host):
            continue
        d = ev.details
        name = str(d.get("program") or (ev.component if ev.component not in ("", "process") else "")
                   or d.get("service") or "").rsplit("/", 1)[-1]
        what = str(d.get("event") or d.get("action") or d.get("state") or "start").lower()
        delta = 1 if what in ("start", "started", "spawn") else \
            -1 if what in ("exit", "exited", "stop", "stopped", "crash", "died", "killed") else 0
        running[name] = max(0, running.get(name, 0) + delta)
    return running


def _box(ax: Any, name: str, lit: bool, extra: str = "") -> None:
    x, y, label, kind = NODES[name]
    fc = {"daemon": DAEMON_FC, "queue": QUEUE_FC, "command": DAEMON_FC, "outside": OUTSIDE_FC}[kind]
    ec = HIGHLIGHT if lit else QUEUE_COLOURS.get(name, BLACK) if kind == "queue" \
        else GREY if kind == "outside" else BLACK
    style = "round,pad=0.05" if kind != "queue" else "square,pad=0.05"
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle=style, fc=fc, ec=ec,
                                lw=3 if lit else (1.8 if kind == "queue" else 1), ls="--" if kind == "outside" else "-",
                                gid=f"node-{name}"))
    text = label + (f"\n{extra}" if extra else "")
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5 if "\n" in text else 8.5,
            fontweight="bold" if kind in ("daemon", "queue") and lit else "normal", gid=f"label-{name}")


def _arrow(ax: Any, a: str, b: str, colour: str, lw: float, label: str = "", gid: str = "",
           rad: float = 0.0) -> None:
    xa, ya = NODES[a][:2]
    xb, yb = NODES[b][:2]
    arr = FancyArrowPatch((xa, ya), (xb, yb), arrowstyle="-|>", mutation_scale=12, color=colour, lw=lw,
                          connectionstyle=f"arc3,rad={rad}", shrinkA=24, shrinkB=24, gid=gid, zorder=3 if lw > 2 else 1)
    ax.add_patch(arr)
    if not label:
        return
    x, y = (xa + xb) / 2, (ya + yb) / 2
    if rad:
        # arc3 bends toward (dy, -dx) of the chord; a pair of opposite arrows bends to opposite
        # sides, so each label goes outside its own arc and the two can never meet.
        bx, by = rad * (yb - ya) / 2, -rad * (xb - xa) / 2
        x, y = x + bx + (0.08 if bx >= 0 else -0.08), y + by
        ha = "left" if bx > 0 else "right" if bx < 0 else "center"
    elif xa == xb:
        x, ha = x + 0.18, "left"
    else:
        y, ha = y + 0.12, "center"
    ax.text(x, y, label, fontsize=6.5, color=colour if lw > 2 else GREY, ha=ha, va="center",
            gid=f"edgelabel-{a}-{b}")


def inside_postfix(trace: Any, host: str | None = None, qid: str | None = None, *,
                   until: int | None = None, title: str | None = None) -> SimFigure:
    """The chapter-3 architecture drawing, with queue counts and the path of ``qid``."""
    events = upto(trace, until)
    counts = queue_counts(events, host=host)
    procs = _processes(events, host)
    steps = message_steps(events, qid, host) if qid else []
    lit = {s.node for s in steps if s.node}
    table = steps[:18]
    n_rows = len(table) + 2 + (len(steps) > len(table)) if qid else 0
    height = 7.45 + (0.14 * n_rows + 0.15 if qid else 0)
    fig = SimFigure(figsize=(13.5, height), dpi=100)
    ax = fig.add_axes((0.01, 1 - 6.9 / height, 0.98, 6.35 / height))
    blank(ax, (0, 15.8), (0.5, 9.9))

    ax.add_patch(FancyBboxPatch((2.2, 9.05), 11.0, 0.6, boxstyle="round,pad=0.05", fc=DAEMON_FC,
                                ec=HIGHLIGHT if "master" in lit else BLACK, lw=1.2, gid="node-master"))
    running = sum(n for name, n in procs.items() if name != "master")
    ax.text(7.7, 9.35, "master(8): reads master.cf, starts every daemon below on demand and restarts it"
            + (f"  ·  {running} daemon processes running" if procs else ""), ha="center", va="center",
            fontsize=8.5, gid="label-master")

    path_edges = _path_edges(steps)
    lit |= {n for e in path_edges for n in e}

    for a, b, label in EDGES:
        if (a, b) in path_edges:
            continue
        _arrow(ax, a, b, GREY, 0.9, label, gid=f"edge-{a}-{b}",
               rad=0.25 if (b, a) in [(x, y) for x, y, _ in EDGES] else 0.0)
    edge_labels = {(a, b): label for a, b, label in EDGES}
    for k, (a, b) in enumerate(path_edges):
        _arrow(ax, a, b, HIGHLIGHT, 2.6, edge_labels.get((a, b), ""), gid=f"path-{k}",
               rad=0.25 if (b, a) in [(x, y) for x, y, _ in EDGES] or (b, a) in path_edges else 0.0)

    for name, (_, _, _, kind) in NODES.items():
        extra = ""
        if kind == "queue":
            n = counts.get(name, 0)
            extra = f"{n} message{'s' if n != 1 else ''}"
        elif name in procs:
            extra = f"{procs[name]} running"
        _box(ax, name, name in lit, extra)
    numbers: dict[str, list[str]] = {}
    for k, s in enumerate(steps, 1):
        if s.node:
            numbers.setdefault(s.node, []).append(str(k))
    for node, nums in numbers.items():
        x, y = NODES[node][:2]
        ax.text(x + BOX_W / 2 - 0.02, y + BOX_H / 2 + 0.02, short(",".join(nums), 12), ha="right", va="bottom",
                fontsize=7, color="white", fontweight="bold", gid=f"step-{node}",
                bbox=dict(boxstyle="round,pad=0.15", fc=HIGHLIGHT, ec="none"))
    ax.text(12.3, 9.0 - 0.15, "delivery agents", ha="center", va="top", fontsize=7.5, color=GREY)

    if qid:
        t0 = steps[0].time if steps else 0.0
        rows = [f"{'#':>2}  {'time':>10}  {'program':<9} what happened"]
        for k, s in enumerate(table, 1):
            rows.append(f"{k:>2}  {'+' + format(s.time - t0, '.3f') + ' s':>10}  {short(s.program, 9):<9} "
                        f"{short(s.text, 118)}")
        if len(steps) > len(table):
            rows.append(f"    … {len(steps) - len(table)} more steps")
        if not steps:
            rows.append("    (nothing in the trace about this queue id"
                        + (f" on {host}" if host else "") + " yet)")
        fig.text(0.02, 1 - 7.45 / height, "\n".join(rows), ha="left", va="top", fontsize=7.5,
                 family=MONO, gid="steps")

    handles = [Patch(fc=DAEMON_FC, ec=BLACK, label="daemon or command (a Postfix program)"),
               Patch(fc=QUEUE_FC, ec=QUEUE_COLOURS["deferred"], lw=1.8,
                     label="queue: a folder of /var/spool/postfix, with its message count"),
               Patch(fc=OUTSIDE_FC, ec=GREY, ls="--", label="outside Postfix"),
               Line2D([], [], color=GREY, lw=1, label="how work is handed on (queue ids, requests)")]
    if qid:
        handles.append(Line2D([], [], color=HIGHLIGHT, lw=2.6, label=f"path of {qid} (numbers: step order)"))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 6.9 / height),
               ncol=3, fontsize=7.5, frameon=False)
    where = f" on {host}" if host else ""
    total = f" — {steps[-1].time - steps[0].time:.3f} s from first to last step" if len(steps) > 1 else ""
    finish(fig, title or (f"Inside Postfix{where}: the path of {qid}{total}" if qid
                          else f"Inside Postfix{where}: daemons, queues and delivery agents"))
    return fig


__all__ = ["inside_postfix", "message_steps", "Step", "NODES", "EDGES"]
