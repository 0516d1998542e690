"""NAME
    tracedata - what the figures read from a trace: connections, log records, queue moves

SUMMARY
    conn_lines(trace, "c1")          -> [Line(key, time, side, text)]
    connection(trace, "c1")          -> ConnInfo(client, server, port, protocol, opened, closed)
    log_records(trace, host=None)    -> [LogRecord(time, host, program, pid, qid, text, fields)]
    queue_moves(trace)               -> [QueueMove(time, host, qid, src, dst)]
    queue_counts(trace, at=None, host=None) -> {"incoming": 0, "active": 1, ...}

DESCRIPTION
    Views never ask the MTA what happened; they read the trace (design
    principle 4). Connection lines come from ``send`` events, maillog lines
    from ``log`` events (details program, pid, text, line), queue moves from
    ``queue`` events (details qid, src, dst). A log line's queue id and its
    ``name=value`` fields (to, orig_to, relay, delay, delays, dsn, status,
    from, size, nrcpt) are parsed the way Postfix writes them (maillog(5)).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .dialog import Line, guess_protocol

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")
_QID = re.compile(r"^(?!NOQUEUE)([0-9A-F]{5,16}|(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{12,20}): (.*)$", re.S)
_FIELD = re.compile(r"(\w+)=(<[^>]*>|[^,\s]*)")
_STATUS = re.compile(r"status=(\w+)(?: \((.*)\))?\s*$", re.S)
QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]+)")


def _events(trace: Any, kind: str | None = None) -> Iterable[tuple[int, Any]]:
    for i, ev in enumerate(trace):
        if kind is None or ev.kind == kind:
            yield i, ev


@dataclass
class ConnInfo:
    conn: str
    client: str
    server: str
    client_ip: str
    server_ip: str
    port: int
    client_component: str
    server_component: str
    protocol: str
    opened: float
    closed: float | None
    closed_by: str          # "C", "S" or "" (still open)


def connection(trace: Any, conn: str) -> ConnInfo:
    """Who talked to whom on ``conn``, which protocol, and when it opened and closed."""
    start = next((ev for _, ev in _events(trace, "connect") if ev.details.get("conn") == conn), None)
    if start is None:
        raise KeyError(f"there is no connection {conn!r} in this trace")
    d = start.details
    closed, by = None, ""
    first_server = ""
    for ev in trace:
        if ev.details.get("conn") != conn:
            continue
        if ev.kind in ("close", "reset") and closed is None:
            closed, by = ev.time, ev.details.get("side", "")
        if ev.kind == "send" and ev.details.get("side") == "S" and not first_server:
            first_server = ev.details.get("data", "")
    proto = guess_protocol(d.get("port"), d.get("server_component", ""), first_server)
    return ConnInfo(conn, d.get("client", start.host), d.get("server", ""), d.get("client_ip", ""),
                    d.get("server_ip", ""), int(d.get("port", 0)), start.component,
                    d.get("server_component", ""), proto, start.time, closed, by)


def connections(trace: Any) -> list[ConnInfo]:
    return [connection(trace, ev.details["conn"]) for _, ev in _events(trace, "connect")]


def conn_lines(trace: Any, conn: str) -> list[Line]:
    """Every complete line of ``conn`` with the event order and time at which it ended."""
    pending: dict[str, tuple[str, int, float]] = {}
    out: list[Line] = []
    for i, ev in _events(trace, "send"):
        if ev.details.get("conn") != conn:
            continue
        side = ev.details.get("side", "C")
        text, *_ = pending.get(side, ("", i, ev.time))
        text += ev.details.get("data", "")
        *lines, rest = text.split("\n")
        for j, ln in enumerate(lines):
            out.append(Line((i, j), ev.time, side, ln.removesuffix("\r")))
        pending[side] = (rest, i, ev.time)
    for side, (rest, i, t) in pending.items():
        if rest:
            out.append(Line((i, 10 ** 6), t, side, rest))
    out.sort(key=lambda ln: ln.key)
    return out


# -- the maillog ------------------------------------------------------------------------
@dataclass
class LogRecord:
    time: float
    host: str
    program: str            # short name: "smtpd", "qmgr", "local", "smtp", ...
    pid: int
    qid: str                # "" when the line is not about one queue file
    text: str               # the text after "QID: " (or the whole text)
    line: str
    fields: dict[str, str] = field(default_factory=dict)
    status: str = ""        # sent / deferred / bounced / expired ...
    reason: str = ""        # the text in parentheses after status=


def parse_log(ev: Any) -> LogRecord:
    """One ``log`` event as a LogRecord."""
    d = ev.details
    program = str(d.get("program", ev.component)).rsplit("/", 1)[-1]
    text = str(d.get("text", ""))
    m = _QID.match(text)
    qid, rest = (m.group(1), m.group(2)) if m else ("", text)
    status, reason = "", ""
    sm = _STATUS.search(rest)
    if sm:
        status, reason = sm.group(1), sm.group(2) or ""
    head = rest[: sm.start()] if sm else rest
    fields = {k: v.strip("<>") for k, v in _FIELD.findall(head)} if m else {}
    if status:
        fields["status"] = status
    return LogRecord(ev.time, ev.host, program, int(d.get("pid", 0) or 0), qid, rest,
                     str(d.get("line", text)), fields, status, reason)


def log_records(trace: Any, host: str | None = None, qid: str | None = None) -> list[LogRecord]:
    out = []
    for _, ev in _events(trace, "log"):
        if host is not None and ev.host != host:
            continue
        rec = parse_log(ev)
        if qid is not None and rec.qid != qid:
            continue
        out.append(rec)
    return out


def queue_ids(trace: Any, host: str | None = None) -> list[str]:
    """Queue ids in the order they first appear (queue moves and log lines)."""
    seen: dict[str, None] = {}
    for _, ev in _events(trace):
        if host is not None and ev.host != host:
            continue
        if ev.kind == "queue" and ev.details.get("qid"):
            seen.setdefault(str(ev.details["qid"]), None)
        elif ev.kind == "log":
            rec = parse_log(ev)
            if rec.qid:
                seen.setdefault(rec.qid, None)
    return list(seen)


# -- queue moves --------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueMove:
    time: float
    host: str
    qid: str
    src: str                 # "" for a new file
    dst: str                 # "" when the file was removed


def _queue_name(v: Any) -> str:
    s = str(v or "").strip().lower()
    return s if s in QUEUES else ""


def queue_moves(trace: Any, host: str | None = None) -> list[QueueMove]:
    return [QueueMove(ev.time, ev.host, str(ev.details.get("qid", "")), _queue_name(ev.details.get("src")),
                      _queue_name(ev.details.get("dst")))
            for _, ev in _events(trace, "queue") if host is None or ev.host == host]


def queue_counts(trace: Any, at: float | None = None, host: str | None = None) -> dict[str, int]:
    """How many messages each queue holds at virtual time ``at`` (default: the end)."""
    where: dict[tuple[str, str], str] = {}
    for mv in queue_moves(trace, host):
        if at is not None and mv.time > at:
            break
        where[(mv.host, mv.qid)] = mv.dst
    counts = {q: 0 for q in QUEUES}
    for q in where.values():
        if q:
            counts[q] += 1
    return counts


def fmt_time(t: float) -> str:
    """Virtual seconds as a short label: 0.004 s, 12.5 s, 5 min 0 s, 2 h 3 min."""
    if t < 10:
        return f"{t:.3f} s"
    if t < 120:
        return f"{t:.1f} s"
    if t < 7200:
        return f"{int(t // 60)} min {int(t % 60)} s"
    return f"{int(t // 3600)} h {int(t % 3600 // 60)} min"


def upto(trace: Any, until: int | None) -> list[Any]:
    """The events of ``trace`` up to and including index ``until`` (all when None)."""
    events = list(trace)
    return events if until is None else events[: until + 1]
