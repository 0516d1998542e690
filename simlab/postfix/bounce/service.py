"""NAME
    service - the bounce(8) daemon's notifications: bounce_flush, defer_flush, defer_warn, trace_flush

SUMMARY
    await bounce_flush(ctx, "active", qid)   # the "bounce" log -> non-delivery notification
    await defer_flush(ctx, "active", qid)    # the "defer" log -> non-delivery (message expired)
    await defer_warn(ctx, "active", qid)     # the "defer" log -> "Delayed Mail (still being retried)"
    await trace_flush(ctx, "active", qid)    # the "trace" log -> success or verify report

DESCRIPTION
    The queue manager calls these when it is done with a message (or when
    the message has been queued for delay_warning_time, or too long). Each
    reads the status log of the queue id and the original queue file,
    builds the notification (notify.py) and submits it through cleanup with
    the null sender <>, logging e.g.

        D103A160599: sender non-delivery notification: D58BD16059B

    Rules, as in Postfix:

    - only recipients whose DSN NOTIFY allows it are reported (FAILURE for
      failures, DELAY for warnings; no NOTIFY means yes); with none left
      no notification is sent;
    - a message from <> is never bounced to <>: its failure becomes a
      "double bounce" to 2bounce_notice_recipient (sender
      double_bounce_sender, the whole message) when notify_classes has
      "bounce" or "2bounce", and is dropped otherwise; a failed
      notification to the double-bounce address is discarded with
      "undeliverable postmaster notification discarded";
    - with "bounce" in notify_classes the postmaster
      (bounce_notice_recipient) gets a copy with headers only ("Postmaster
      Copy: Undelivered Mail"), with "delay" a copy of delay warnings
      (delay_notice_recipient).

    The bounce log is removed after a successful flush, the trace log too;
    the defer log stays (the message is still in the queue) until
    defer_flush.

PARAMETERS
    notify_classes, bounce_notice_recipient, 2bounce_notice_recipient,
    delay_notice_recipient, double_bounce_sender, bounce_size_limit.

SEE ALSO
    bounce(8), qmgr(8), postconf(5)
"""

from __future__ import annotations

from typing import Any

from ..common.queue import QueueStore
from ..trivial_rewrite import rewrite
from .client import TRACE_RECORD, TRACE_USR_VRFY
from .log import LogRecord, read_log, remove_log
from .notify import Original, build_dsn
from .post import post_abandoned, post_mail
from .templates import Template, load_templates


class _Bounce:
    """One bounce(8) request: its process id for the log and its helpers."""

    def __init__(self, ctx: Any, queue: str, qid: str) -> None:
        self.ctx = ctx
        self.queue = queue
        self.qid = qid

    def log(self, pid: int, text: str) -> None:
        self.ctx.log.line("bounce", pid, text)

    def classes(self) -> set[str]:
        return {c.lower() for c in self.ctx.config.get_list("notify_classes")}

    def double_bounce(self) -> str:
        return rewrite(self.ctx, self.ctx.config["double_bounce_sender"], "local")

    def original(self) -> Original | None:
        try:
            qf = QueueStore(self.ctx).read(self.queue, self.qid)
        except FileNotFoundError:
            return None
        return Original.from_queue_file(qf)

    def abandon(self, tmpl: Template, orig: Original, records: list[LogRecord], dest: str) -> None:
        """bounce_notify_service() writes the notification's headers before it finds that no
        recipient wants one (NOTIFY without FAILURE): cleanup sees them, then the stream is closed."""
        post_abandoned(self.ctx, lambda qid, now: build_dsn(
            self.ctx, tmpl, orig, records, dest=dest, postmaster_copy=False, ret_headers=False, now=now,
            warn=lambda text: None))

    async def send(self, pid: int, tmpl: Template, orig: Original, records: list[LogRecord], *,
                   sender: str, dest: str, postmaster_copy: bool, ret_headers: bool,
                   what: str) -> bool:
        def warn(text: str) -> None:
            self.log(pid, "warning: " + text)

        def build(new_qid: str, now: float) -> bytes:
            return build_dsn(self.ctx, tmpl, orig, records, dest=dest, postmaster_copy=postmaster_copy,
                             ret_headers=ret_headers, now=now, warn=warn)

        target = rewrite(self.ctx, dest, "local")
        new_qid = await post_mail(self.ctx, sender, [target], build)
        if new_qid is None:
            warn(f"{self.qid}: {what} failed")
            return False
        self.log(pid, f"{self.qid}: {what}: {new_qid}")
        return True


def _wanted(records: list[LogRecord], keyword: str) -> list[LogRecord]:
    return [r for r in records if not r.notify or keyword in r.notify.upper().split(",")]


def _pid(ctx: Any) -> Any:
    from ..master.registry import use_service
    return use_service(ctx, "bounce")


async def _failure(ctx: Any, queue: str, qid: str, service: str) -> bool:
    b = _Bounce(ctx, queue, qid)
    records = read_log(ctx, service, qid)
    if not records:
        return True
    orig = b.original()
    if orig is None:
        remove_log(ctx, service, qid)
        return True
    with _pid(ctx) as proc:
        pid = proc.pid
        cfg = ctx.config
        tmpl = load_templates(ctx, lambda t: b.log(pid, "warning: " + t))["failure"]
        classes = b.classes()
        ok = True
        if orig.sender and orig.sender.lower() == b.double_bounce().lower():
            b.log(pid, f"warning: {qid}: undeliverable postmaster notification discarded")
        elif not orig.sender:
            if classes & {"bounce", "2bounce"}:
                ok = await b.send(pid, tmpl, orig, records, sender=b.double_bounce(),
                                  dest=cfg["2bounce_notice_recipient"], postmaster_copy=True,
                                  ret_headers=False, what="postmaster non-delivery notification")
        else:
            wanted = _wanted(records, "FAILURE")
            if wanted:
                ok = await b.send(pid, tmpl, orig, wanted, sender="", dest=orig.sender,
                                  postmaster_copy=False, ret_headers=orig.ret == "HDRS",
                                  what="sender non-delivery notification")
            else:
                b.abandon(tmpl, orig, records, orig.sender)
            if ok and "bounce" in classes:
                await b.send(pid, tmpl, orig, records, sender=b.double_bounce(),
                             dest=cfg["bounce_notice_recipient"], postmaster_copy=True,
                             ret_headers=True, what="postmaster non-delivery notification")
    if ok:
        remove_log(ctx, service, qid)
    return ok


async def bounce_flush(ctx: Any, queue: str, qid: str) -> bool:
    """Send the non-delivery notification for the recipients in the bounce log."""
    return await _failure(ctx, queue, qid, "bounce")


async def defer_flush(ctx: Any, queue: str, qid: str) -> bool:
    """The message expired: report every deferred recipient as failed."""
    return await _failure(ctx, queue, qid, "defer")


async def defer_warn(ctx: Any, queue: str, qid: str) -> bool:
    """Tell the sender that delivery is delayed (the defer log stays)."""
    b = _Bounce(ctx, queue, qid)
    records = read_log(ctx, "defer", qid)
    orig = b.original()
    if not records or orig is None or not orig.sender:
        return True
    with _pid(ctx) as proc:
        pid = proc.pid
        tmpl = load_templates(ctx, lambda t: b.log(pid, "warning: " + t))["delay"]
        ok = True
        wanted = _wanted(records, "DELAY")
        if wanted and orig.sender.lower() != b.double_bounce().lower():
            ok = await b.send(pid, tmpl, orig, wanted, sender="", dest=orig.sender,
                              postmaster_copy=False, ret_headers=True,
                              what="sender delay notification")
        if ok and "delay" in b.classes():
            await b.send(pid, tmpl, orig, records, sender=b.double_bounce(),
                         dest=ctx.config["delay_notice_recipient"], postmaster_copy=True,
                         ret_headers=True, what="postmaster delay notification")
    return ok


async def trace_flush(ctx: Any, queue: str, qid: str) -> bool:
    """Send the success (NOTIFY=SUCCESS) or verify (sendmail -bv/-v) report."""
    b = _Bounce(ctx, queue, qid)
    records = read_log(ctx, "trace", qid)
    orig = b.original()
    if not records or orig is None:
        remove_log(ctx, "trace", qid)
        return True
    ok = True
    with _pid(ctx) as proc:
        pid = proc.pid
        verify = bool(orig.trace_flags & (TRACE_USR_VRFY | TRACE_RECORD))
        tmpl = load_templates(ctx, lambda t: b.log(pid, "warning: " + t))["verify" if verify else "success"]
        if not verify:    # only the recipients that asked for SUCCESS are reported
            records = [r for r in records if "SUCCESS" in r.notify.upper().split(",")]
        if not orig.sender:
            b.log(pid, f"{qid}: not sending trace/success notification for single-bounce message")
        elif orig.sender.lower() == b.double_bounce().lower():
            b.log(pid, f"{qid}: not sending trace/success notification for double-bounce message")
        elif records:
            ok = await b.send(pid, tmpl, orig, records, sender="", dest=orig.sender,
                              postmaster_copy=False, ret_headers=True,
                              what="sender delivery status notification")
    if ok:
        remove_log(ctx, "trace", qid)
    return ok
