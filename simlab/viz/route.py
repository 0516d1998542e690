"""NAME
    route - one message's journey, hop by hop, as the trace recorded it

SUMMARY
    hops = message_route(net.trace, "C7D5B160542", host="mail.example.com")
    hops = message_route(net.trace, conn="c1")          # start from the submission
    fig = route_figure(net.trace, "C7D5B160542", host="mail.example.com")

DESCRIPTION
    A message travels MUA -> submission MTA -> the MX of the recipient's
    domain -> a mailbox or store -> the reader's POP3/IMAP session. Each hop is
    found in the trace:

    SMTP/LMTP hops are connections whose server answered ``queued as QID``
    (the envelope is the MAIL FROM and the accepted RCPT TO of that dialog);
    the next queue id comes from the sending MTA's log line ``status=sent
    (250 2.0.0 Ok: queued as QID)``, so the route crosses hosts the way a
    postmaster follows a message through logs. Local deliveries, deferrals
    (one hop per attempt, so retries show) and bounces come from the delivery
    agents' ``to=..., relay=..., status=...`` lines; a bounce continues with the
    non-delivery notification's own queue id. When local(8) expands an alias
    with remote members (a mailing list) or a ``.forward`` file, it logs
    ``status=sent (forwarded as QID)``: the message is queued again on the
    same host under a new queue id, and the route goes on from there (and,
    started from the new id, back to the original). A POP3 or IMAP session
    that logs in as the recipient after delivery is the last hop.

    The figure draws one row per hop: sender, an arrow labelled with the
    protocol and port, receiver, the envelope at that hop and the outcome,
    each outcome in its own colour, as the legend explains. Long envelopes
    and replies are wrapped inside the figure, very long ones cut with an
    ellipsis.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import FancyBboxPatch

from ._style import BLACK, BLUE, GREEN, GREY, MONO, ORANGE, PURPLE, SKY, VERMILLION, SimFigure, blank, finish, short
from .dialog import turns
from .tracedata import QUEUED_AS, LogRecord, conn_lines, connection, parse_log

_RELAY = re.compile(r"^(?P<name>[^\[\s]+)\[(?P<ip>[^\]]+)\](?::(?P<port>\d+))?$")
_CONNECT_TO = re.compile(r"connect to ([^\[\s]+)\[([^\]]+)\](?::(\d+))?")
_NOTIFY = re.compile(r"(?:non-delivery|delivery status|delay) notification: ([0-9A-Za-z]+)")
_FORWARDED = re.compile(r"^forwarded as ([0-9A-Za-z]+)")

# outcome: its colour in the figure and its words in the legend
OUTCOMES = {
    "queued": (BLUE, "accepted and queued"),
    "forwarded": (BLACK, "forwarded: queued again under a new queue id"),
    "sent": (GREEN, "delivered"),
    "read": (SKY, "read by the recipient's client"),
    "deferred": (ORANGE, "deferred (will retry)"),
    "bounced": (VERMILLION, "bounced (returned to sender)"),
    "rejected": (PURPLE, "refused in the session"),
    "in transit": (GREY, "no outcome in the trace yet"),
}


@dataclass
class Hop:
    """One step of a message's journey."""

    src: str
    dst: str
    protocol: str
    port: int | None
    time: float
    sender: str | None = None     # None when this hop does not show the envelope sender
    recipients: list[str] = field(default_factory=list)
    outcome: str = "in transit"   # one of OUTCOMES
    detail: str = ""
    qid: str = ""                 # the queue id the message has after this hop (or at src)
    conn: str = ""
    note: str = ""                # "non-delivery notification", "retry" ...


class _Index:
    """The trace cut once by connection and parsed once for log lines (routes ask many times)."""

    def __init__(self, trace: Any) -> None:
        self.by_conn: dict[str, list[Any]] = {}
        self.records: list[LogRecord] = []
        for ev in trace:
            c = ev.details.get("conn")
            if c:
                self.by_conn.setdefault(str(c), []).append(ev)
            elif ev.kind == "log":
                self.records.append(parse_log(ev))
        self.infos = {c: connection(evs, c) for c, evs in self.by_conn.items()
                      if any(ev.kind == "connect" for ev in evs)}
        self._dialogs: dict[str, tuple[Any, list[Any]]] = {}

    def connections(self) -> list[Any]:
        return list(self.infos.values())

    def lines(self, conn: str) -> list[Any]:
        return conn_lines(self.by_conn.get(conn, []), conn)

    def dialog(self, conn: str) -> tuple[Any, list[Any]]:
        if conn not in self._dialogs:
            if conn not in self.infos:
                raise KeyError(f"there is no connection {conn!r} in this trace")
            info = self.infos[conn]
            self._dialogs[conn] = (info, turns(self.lines(conn), info.protocol))
        return self._dialogs[conn]

    def logs(self, host: str | None = None, qid: str | None = None) -> list[LogRecord]:
        return [r for r in self.records if (host is None or r.host == host) and (qid is None or r.qid == qid)]


def _dialog(ix: _Index, conn: str) -> tuple[Any, list[Any]]:
    return ix.dialog(conn)


def _smtp_hop(ix: _Index, conn: str) -> Hop:
    info, ts = _dialog(ix, conn)
    proto = info.protocol.upper()
    if info.protocol == "smtp" and info.port in (587, 465, 2587):
        proto = "SMTP submission"
    hop = Hop(info.client, info.server, proto, info.port, info.opened, conn=conn)
    rejected: list[str] = []
    for t in ts:
        if t.kind != "reply":
            continue
        cmd = t.command.upper()
        addr = t.command.split(":", 1)[1].strip().split(" ")[0].strip("<>") if ":" in t.command else ""
        if cmd.startswith("MAIL FROM") and t.klass == "2":
            hop.sender, hop.recipients = addr, []
        elif cmd.startswith("RCPT TO"):
            (hop.recipients if t.klass == "2" else rejected).append(addr)
        m = QUEUED_AS.search(t.lines[-1]) if t.lines else None
        if m and t.klass == "2":
            hop.outcome, hop.qid, hop.detail = "queued", m.group(1), t.lines[-1]
        elif t.command == "." and t.klass in "45" and hop.outcome != "queued":
            hop.outcome, hop.detail = ("deferred" if t.klass == "4" else "rejected"), t.lines[-1]
        elif t.command == "." and t.klass == "2" and info.protocol == "lmtp":
            hop.outcome, hop.detail = "sent", t.lines[-1]
    if rejected and not hop.detail:
        hop.detail = "refused: " + ", ".join(rejected)
    return hop


def _conn_with_reply(ix: _Index, server: str, qid: str) -> str:
    for info in ix.connections():
        if info.server != server:
            continue
        for ln in ix.lines(info.conn):
            if ln.side == "S" and f"queued as {qid}" in ln.text:
                return info.conn
    return ""


def _conn_to(ix: _Index, client: str, ip: str, port: int | None, before: float) -> str:
    best = ""
    for info in ix.connections():
        if info.client == client and info.server_ip == ip and (port is None or info.port == port) \
                and info.opened <= before:
            best = info.conn
    return best


def _sender(ix: _Index, host: str, qid: str) -> str | None:
    return next((r.fields["from"] for r in ix.logs(host=host, qid=qid) if r.program == "qmgr" and "from" in r.fields),
                None)


def _forward_hop(ix: _Index, r: LogRecord, new_qid: str, note: str = "") -> Hop:
    """local(8) resubmitted the message (alias with remote members, .forward): back into the same host's queue."""
    return Hop(r.host, r.host, f"{r.program}(8) forwarding", None, r.time, _sender(ix, r.host, r.qid),
               [r.fields["to"]], "forwarded", r.reason, new_qid, note=note)


def _backwards(ix: _Index, host: str, qid: str, seen: set[tuple[str, str]]) -> list[Hop]:
    hops: list[Hop] = []
    while (host, qid) not in seen:
        seen.add((host, qid))
        conn = _conn_with_reply(ix, host, qid)
        if not conn:
            picked = [r for r in ix.logs(host=host, qid=qid) if r.program == "pickup"]
            if picked:
                r = picked[0]
                hops.insert(0, Hop("local user", host, "sendmail (maildrop)", None, r.time,
                                   r.fields.get("from", ""), [], "queued", f"picked up as {qid}", qid))
                break
            origin = next((r for r in ix.logs(host=host) if r.status == "sent" and "to" in r.fields
                           and (m := _FORWARDED.match(r.reason)) and m.group(1) == qid), None)
            if origin is None:
                break
            hops.insert(0, _forward_hop(ix, origin, qid))
            qid = origin.qid
            continue
        hop = _smtp_hop(ix, conn)
        hops.insert(0, hop)
        prev = next((r for r in ix.logs(host=hop.src)
                     if r.status == "sent" and f"queued as {qid}" in r.reason), None)
        if prev is None:
            break
        host, qid = hop.src, prev.qid
    return hops


def _forwards(ix: _Index, host: str, qid: str, seen: set[tuple[str, str]], note: str = "") -> list[Hop]:
    if (host, qid) in seen:
        return []
    seen.add((host, qid))
    hops: list[Hop] = []
    sender: str | None = None
    attempts: dict[str, int] = {}
    for r in ix.logs(host=host, qid=qid):
        if r.program == "qmgr" and "from" in r.fields:
            sender = r.fields["from"]
        m = _NOTIFY.search(r.text)
        if m and r.program == "bounce":
            hops.extend(_forwards(ix, host, m.group(1), seen, "non-delivery notification"))
            continue
        if "to" not in r.fields or not r.status:
            continue
        to = r.fields["to"]
        attempts[to] = attempts.get(to, 0) + 1
        relay = r.fields.get("relay", "")
        fwd = _FORWARDED.match(r.reason) if r.status == "sent" else None
        if fwd:
            hops.append(_forward_hop(ix, r, fwd.group(1), note))
            hops.extend(_forwards(ix, host, fwd.group(1), seen))
            continue
        outcome = {"sent": "sent", "deferred": "deferred"}.get(r.status, "bounced")
        hop = Hop(host, "", r.program, None, r.time, sender, [to], outcome, r.reason, qid,
                  note=note or ("retry" if attempts[to] > 1 else ""))
        rm = _RELAY.match(relay)
        if relay in ("local", "virtual") or r.program in ("local", "virtual", "pipe", "discard", "error") or not rm:
            hop.dst = f"{to}'s mailbox" if r.program in ("local", "virtual") else (relay or "none")
            hop.protocol = f"{r.program}(8) delivery"
            if relay == "none":
                cm = _CONNECT_TO.search(r.reason)
                hop.dst = cm.group(1) if cm else "(not delivered)"
                hop.protocol = r.program.upper() if r.program in ("smtp", "lmtp") else f"not sent ({r.program})"
                hop.port = int(cm.group(3)) if cm and cm.group(3) else None
            hops.append(hop)
            if hop.outcome == "sent" and r.program in ("local", "virtual"):
                hops.extend(_reader(ix, host, to, r.time))
            continue
        port = int(rm.group("port")) if rm.group("port") else None
        conn = _conn_to(ix, host, rm.group("ip"), port, r.time)
        if conn and any(h.conn == conn for h in hops):
            continue
        if conn:
            seen_hop = _smtp_hop(ix, conn)
            if r.status != "sent" or seen_hop.outcome == "in transit":
                seen_hop.outcome, seen_hop.detail = outcome, r.reason
            seen_hop.note = hop.note
            hop = seen_hop
        else:
            hop.port, hop.protocol, hop.dst = port, r.program.upper(), rm.group("name")
        hops.append(hop)
        nxt = QUEUED_AS.search(r.reason)
        if r.status == "sent" and nxt and conn:
            hops.extend(_forwards(ix, hop.dst, nxt.group(1), seen))
        elif r.status == "sent" and r.program == "lmtp" and conn:
            hops.extend(_reader(ix, hop.dst, to, r.time))
    return hops


def _reader(ix: _Index, host: str, rcpt: str, after: float) -> list[Hop]:
    user = rcpt.partition("@")[0].lower()
    for info in ix.connections():
        if info.server != host or info.protocol not in ("pop3", "imap") or info.opened < after:
            continue
        _, ts = _dialog(ix, info.conn)
        words = [t.command.split() for t in ts if t.kind == "reply" and t.klass == "2"]
        login = any((w[:1] and w[0].upper() == "USER" and w[1:2] and w[1].strip('"').lower() == user) or
                    (len(w) > 2 and w[1].upper() == "LOGIN" and w[2].strip('"').lower() == user) for w in words)
        reads = [" ".join(w) for w in words if w and (w[0].upper() in ("RETR", "TOP") or
                                                       (len(w) > 1 and w[1].upper() in ("FETCH", "UID")))]
        if login:
            return [Hop(host, info.client, info.protocol.upper(), info.port, info.opened, None, [rcpt],
                        "read" if reads else "sent", ", ".join(reads[:3]) or "logged in, read nothing",
                        conn=info.conn)]
    return []


def message_route(trace: Any, qid: str | None = None, *, host: str | None = None,
                  conn: str | None = None) -> list[Hop]:
    """The hops of one message, from its first submission to its last delivery or bounce."""
    ix = _Index(trace)
    seen: set[tuple[str, str]] = set()
    if conn is not None:
        first = _smtp_hop(ix, conn)
        if not first.qid:
            return [first]
        host, qid = first.dst, first.qid
    if qid is None:
        raise ValueError("say which message: a queue id (with its host) or the connection that submitted it")
    if host is None:
        hosts = [r.host for r in ix.logs(qid=qid)]
        if not hosts:
            return []
        host = hosts[0]
    return _backwards(ix, host, qid, set()) + _forwards(ix, host, qid, seen)


# the figure's geometry, in inches (one data unit is one inch: the axes fill the figure's width)
_ENV_X, _ENV_CHARS, _MAX_RCPTS, _DETAIL_LINES = 8.5, 72, 6, 4
_CHAR_W = 7.3 * 0.602 / 72            # DejaVu Sans Mono at 7.3 pt
_LINE_H = 7.3 * 1.2 * 1.17 / 72       # its line height at linespacing 1.2
_WIDTH = _ENV_X + _ENV_CHARS * _CHAR_W + 0.35


def _envelope_lines(h: Hop) -> list[str]:
    """The envelope and outcome column of one hop, wrapped to fit the figure."""
    env = [f"MAIL FROM:<{h.sender}>"] if h.sender is not None else []
    env += [f"RCPT TO:<{r}>" for r in h.recipients[:_MAX_RCPTS]]
    if len(h.recipients) > _MAX_RCPTS:
        env.append(f"… and {len(h.recipients) - _MAX_RCPTS} more RCPT TO")
    wrap = textwrap.TextWrapper(_ENV_CHARS, subsequent_indent="  ", break_long_words=True, break_on_hyphens=False)
    lines = [part for ln in env for part in wrap.wrap(ln)]
    outcome = {"queued": "accepted", "sent": "delivered", "read": "read by the mail client"}.get(h.outcome, h.outcome)
    wrap.max_lines, wrap.placeholder = _DETAIL_LINES, " …"
    return lines + wrap.wrap(f"→ {outcome}: {h.detail}" if h.detail else f"→ {outcome}")


def _default_title(hops: list[Hop], qid: str | None) -> str:
    if not hops:
        return "Route of a message" + (f" {qid}" if qid else "")
    rcpts = hops[0].recipients
    shown = ", ".join(rcpts[:3]) + (f" and {len(rcpts) - 3} more" if len(rcpts) > 3 else "")
    return f"Route of a message: <{hops[0].sender or ''}> → {shown}"


def route_figure(trace: Any, qid: str | None = None, *, host: str | None = None, conn: str | None = None,
                 title: str | None = None) -> SimFigure:
    """The journey of one message as a figure: one row per hop."""
    hops = message_route(trace, qid, host=host, conn=conn)
    texts = [_envelope_lines(h) for h in hops]
    rows = [max(1.0, 0.27 + len(t) * _LINE_H) for t in texts] or [0.8]
    used = list(dict.fromkeys(h.outcome for h in hops))
    ncol = min(len(used), 4) or 1
    title_lines = textwrap.wrap(title or _default_title(hops, qid), int(_WIDTH * 72 / (13 * 0.6)))
    top, bottom = 0.25 + 0.27 * len(title_lines), 0.2 + 0.22 * -(-len(used) // ncol)
    board = sum(rows) + 0.35
    height = top + board + bottom
    fig = SimFigure(figsize=(_WIDTH, height), dpi=100)
    ax = fig.add_axes((0.0, bottom / height, 1.0, board / height))
    blank(ax, (0, _WIDTH), (-sum(rows), 0.35))
    for x, text in ((1.4, "from"), (4.2, "protocol, port"), (7.0, "to"), (_ENV_X, "envelope and outcome")):
        ax.text(x, 0.18, text, ha="center" if x < _ENV_X else "left", fontsize=8.5, fontweight="bold", color=GREY)
    y = 0.0
    for k, (h, lines, rh) in enumerate(zip(hops, texts, rows), 1):
        yc = y - 0.45
        colour = OUTCOMES.get(h.outcome, OUTCOMES["in transit"])[0]
        for x, name in ((1.4, h.src), (7.0, h.dst)):
            ax.add_patch(FancyBboxPatch((x - 1.2, yc - 0.25), 2.4, 0.5, boxstyle="round,pad=0.04",
                                        fc="#f2f2f2", ec="black", lw=1, gid=f"host-{k}"))
            ax.text(x, yc, short(name, 30), ha="center", va="center", fontsize=8)
        ax.annotate("", xy=(5.7, yc), xytext=(2.7, yc), gid=f"hop-{k}",
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.2, shrinkA=0, shrinkB=0,
                                    ls="--" if h.outcome == "deferred" else "-"))
        port = f" port {h.port}" if h.port else ""
        ax.text(4.2, yc + 0.08, f"{k}. {h.protocol}{port}", ha="center", va="bottom", fontsize=8, gid=f"proto-{k}")
        ax.text(4.2, yc - 0.08, short(f"t={h.time:.3f} s" + (f" · {h.note}" if h.note else ""), 48), ha="center",
                va="top", fontsize=7, color=GREY)
        ax.text(_ENV_X, y - 0.12, "\n".join(lines), ha="left", va="top", fontsize=7.3, family=MONO,
                linespacing=1.2, gid=f"envelope-{k}")
        y -= rh
    if not hops:
        ax.text(_WIDTH / 2, -0.4, "the trace says nothing about this message (yet)", ha="center", fontsize=10,
                color=GREY)
    handles = [Line2D([], [], color=OUTCOMES[o][0], lw=2.2, ls="--" if o == "deferred" else "-",
                      label=OUTCOMES[o][1]) for o in used if o in OUTCOMES]
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=ncol, fontsize=8, frameon=False)
    finish(fig, "\n".join(title_lines))
    return fig
