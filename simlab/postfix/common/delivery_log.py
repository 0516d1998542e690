"""NAME
    delivery_log - the delivery status log line every delivery agent writes

SUMMARY
    stats = MsgStats(incoming_arrival=t0, active_arrival=t1, agent_handoff=t2)
    log_delivery(ctx, "postfix/local", pid, "7042316053E", rcpt, relay="local",
                 stats=stats, dsn="2.0.0", status="sent", reason="delivered to mailbox")
    -> "7042316053E: to=<alice@example.com>, orig_to=<team@example.com>, relay=local,
        delay=0.01, delays=0/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)"
    format_tv(1.1499) -> "1.1";  format_tv(12.6) -> "13";  format_tv(0.004) -> "0"

DESCRIPTION
    The line names the final recipient (``to=``), the original one when it
    differs, ignoring case (``orig_to=``), where the mail went (``relay=``),
    ``conn_use=`` for a reused SMTP connection, the total time since the
    message arrived (``delay=``) and its four parts (``delays=a/b/c/d``):

    a   before the queue manager (arrival until the active queue),
    b   in the queue manager (until the delivery agent got the request),
    c   connection setup (DNS, TCP, greeting, HELO/EHLO, TLS),
    d   message transmission.

    A part that did not happen (no network client: c = 0) is zero. Times
    are printed as Postfix's format_tv() does: at most two significant
    digits for numbers below 10 (delay_logging_resolution_limit digits after
    the decimal point at most), integers from 10 on, rounded half up,
    trailing zeros dropped.

    Each line is also a trace event of kind "delivery" (qid, to, orig_to,
    relay, dsn, status, reason), which the notebooks' figures read.

    ``daemon_pid(ctx, program)`` gives a long-running daemon of an instance
    (qmgr, trivial-rewrite, bounce) one stable process id for its log lines.

PARAMETERS
    delay_logging_resolution_limit.

SEE ALSO
    log_adhoc(3) in Postfix, maillog(5)
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

MILLION = 1_000_000
SIG_DIGS = 2


@dataclass
class MsgStats:
    """Postfix's MSG_STATS: epoch seconds of each stage (0 = did not happen)."""

    incoming_arrival: float
    active_arrival: float = 0.0
    agent_handoff: float = 0.0
    conn_setup_done: float = 0.0
    deliver_done: float = 0.0
    reuse_count: int = 0


_TV_MEMO: dict[tuple[int, int, int], str] = {}


def format_tv(seconds: float, sig_dig: int = SIG_DIGS, max_dig: int = 2) -> str:
    """A time value with limited precision (Postfix's format_tv)."""
    if seconds * MILLION <= 0.5:    # what rounds to 0 us (most parts of a virtual-time delay)
        return "0"
    total = int(round(seconds * MILLION))
    # memo: five values per delivery line, and virtual-time delays repeat
    key = (total, sig_dig, max_dig)
    text = _TV_MEMO.get(key)
    if text is None:
        if len(_TV_MEMO) >= 4096:
            _TV_MEMO.clear()
        text = _TV_MEMO[key] = _format_tv(total, sig_dig, max_dig)
    return text


def _format_tv(total: int, sig_dig: int, max_dig: int) -> str:
    sec, usec = divmod(total, MILLION)
    max_dig = min(6, max(0, max_dig))
    pow10 = [1, 10, 100, 1000, 10000, 100000, 1000000]
    ures = MILLION // pow10[max_dig]
    wid = pow10[sig_dig]
    if ures < MILLION:
        if sec > 0:
            n = 1
            while sec >= n and n <= wid // 10:
                n *= 10
            ures = (MILLION // wid) * n
        else:
            while usec >= wid * ures:
                ures *= 10
    if ures > 1:
        usec += ures // 2
        if usec >= MILLION:
            sec += 1
            usec -= MILLION
    out = [str(sec)]
    if usec >= ures:
        out.append(".")
        rem, n = usec, MILLION // 10
        while rem >= ures and n > 0:
            out.append("0123456789"[rem // n])
            rem %= n
            n //= 10
    return "".join(out)


def _delta(later: float, earlier: float) -> float:
    return max(0.0, later - earlier)


def _usec(seconds: float) -> int:
    """format_tv()'s rounding: what its text depends on (0 for what rounds to 0 us)."""
    return 0 if seconds * MILLION <= 0.5 else int(round(seconds * MILLION))


# memo: (delay, a, b, c, d in us, max_dig) -> the text; virtual-time delays repeat
_DELAY_MEMO: dict[tuple[int, int, int, int, int, int], str] = {}


def delay_text(stats: MsgStats, now: float, max_dig: int = 2) -> str:
    """"delay=D, delays=a/b/c/d" as log_adhoc() computes them."""
    end = stats.deliver_done or now
    delay = _delta(end, stats.incoming_arrival)
    adelay = sdelay = xdelay = 0.0
    if stats.active_arrival:
        pdelay = _delta(stats.active_arrival, stats.incoming_arrival)
        if stats.agent_handoff:
            adelay = _delta(stats.agent_handoff, stats.active_arrival)
            if stats.conn_setup_done:
                sdelay = _delta(stats.conn_setup_done, stats.agent_handoff)
                xdelay = _delta(end, stats.conn_setup_done)
            else:
                xdelay = _delta(end, stats.agent_handoff)
        else:
            adelay = _delta(end, stats.active_arrival)
    else:
        pdelay = _delta(end, stats.incoming_arrival)
    key = (_usec(delay), _usec(pdelay), _usec(adelay), _usec(sdelay), _usec(xdelay), max_dig)
    text = _DELAY_MEMO.get(key)
    if text is None:
        if len(_DELAY_MEMO) >= 4096:
            _DELAY_MEMO.clear()
        tv = [_format_tv(total, SIG_DIGS, max_dig) if total else "0" for total in key[:5]]
        text = _DELAY_MEMO[key] = f"delay={tv[0]}, delays={tv[1]}/{tv[2]}/{tv[3]}/{tv[4]}"
    return text


def delivery_text(qid: str, address: str, orig: str, relay: str, stats: MsgStats, now: float,
                  dsn: str, status: str, reason: str, max_dig: int = 2) -> str:
    """The text of one delivery status line (without the syslog prefix)."""
    out = f"{qid}: to=<{address}>"
    if orig and orig.casefold() != address.casefold():
        out += f", orig_to=<{orig}>"
    out += f", relay={relay}"
    if stats.reuse_count > 0:
        out += f", conn_use={stats.reuse_count + 1}"
    out += f", {delay_text(stats, now, max_dig)}, dsn={dsn}, status={status} ({reason})"
    return out


def log_delivery(ctx: Any, program: str, pid: int, qid: str, address: str, orig: str,
                 relay: str, stats: MsgStats, dsn: str, status: str, reason: str) -> str:
    """Write one delivery status line to the instance's maillog; returns the line."""
    max_dig = _resolution(ctx)
    text = delivery_text(qid, address, orig, relay, stats, ctx.clock.now(), dsn, status, reason,
                         max_dig)
    line = ctx.log.line(program, pid, text)
    component = _COMPONENTS.get(program)
    if component is None:
        if len(_COMPONENTS) >= 256:
            _COMPONENTS.clear()
        component = _COMPONENTS[program] = program.rsplit("/", 1)[-1]
    ctx.trace.record(component, "delivery", qid=qid, to=address, orig_to=orig,
                     relay=relay, dsn=dsn, status=status, reason=reason)
    return line


_COMPONENTS: dict[str, str] = {}     # program ident -> its trace component ("postfix/discard" -> "discard")


def _resolution(ctx: Any) -> int:
    """delay_logging_resolution_limit, read once per configuration."""
    cfg = ctx.config
    shared = getattr(ctx, "shared", None)
    hit = shared.get("delivery_log:resolution") if isinstance(shared, dict) else None
    if hit is not None and hit[0] is cfg:
        return hit[1]
    try:
        max_dig = cfg.get_int("delay_logging_resolution_limit")
    except (KeyError, ValueError):
        max_dig = 2
    if isinstance(shared, dict):
        shared["delivery_log:resolution"] = (cfg, max_dig)
    return max_dig


_DAEMON_PIDS: "weakref.WeakKeyDictionary[Any, dict[str, int]]" = weakref.WeakKeyDictionary()


def daemon_pid(ctx: Any, program: str) -> int:
    """The process id of a long-running daemon of this instance (allocated on first use)."""
    pids = _DAEMON_PIDS.setdefault(ctx, {})
    if program not in pids:
        pids[program] = ctx.pids.next()
    return pids[program]


def forget_daemon(ctx: Any, program: str) -> None:
    """The daemon exited (e.g. qmgr on ``postfix reload``): the next one gets a new pid."""
    _DAEMON_PIDS.get(ctx, {}).pop(program, None)
