"""NAME
    active - one message in the active queue: resolve, deliver, then bounce, defer or remove

SUMMARY
    await MessageJob(qmgr, qid).run()     # the file is already in the active queue

DESCRIPTION
    The queue manager reads the queue file and logs

        QID: from=<sender>, size=N, nrcpt=M (queue active)

    (nrcpt counts every recipient of the file, also those done earlier).
    A force-expired message (postsuper -e) is not delivered: it is logged
    "status=force-expired, returned to sender" and bounced with its last
    deferral reasons. Otherwise the old defer log is dropped and every
    pending recipient is resolved by trivial-rewrite (a message with a content
    filter record goes, all its recipients unchanged, to the filter's
    transport and nexthop instead; not a sendmail -bv probe) and the recipients are
    sorted as qmgr_message_sort() does (transport, queue name, domain, address,
    ignoring case); recipients with the same transport and nexthop share a
    delivery request (at most
    <transport>_destination_recipient_limit recipients; with a limit of 1
    the destination, and so the concurrency limit, is the recipient).

    When all requests are back, in Postfix's order: the bounce log becomes a
    non-delivery notification; a message with deferred recipients that is
    older than maximal_queue_lifetime (bounce_queue_lifetime for mail from
    <>) is logged "status=expired, returned to sender" and bounced, and one
    whose delay_warning_time has come gets a delay warning; a finished
    message sends its success/verify report (trace log) and is removed
    ("QID: removed"); otherwise it moves to the deferred queue, with its
    file time set to the next attempt: now plus the time it has been
    queued, but at least minimal_backoff_time and at most
    maximal_backoff_time.

PARAMETERS
    default_filter_nexthop,
    <transport>_destination_recipient_limit, default_destination_recipient_limit,
    maximal_queue_lifetime, bounce_queue_lifetime, minimal_backoff_time,
    maximal_backoff_time.

SEE ALSO
    qmgr(8), trivial-rewrite(8), bounce(8)
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import TYPE_CHECKING

from ..bounce import Dsn, LogRecord, append_log, has_log, read_log, remove_log
from ..bounce import bounce_flush, defer_flush, defer_warn, trace_flush
from ..bounce.client import TRACE_ONLY, Reporter
from ..common.delivery_log import MsgStats
from ..common.queue import MODE_EXPIRE, QueueFile, Recipient
from ..common.records import RecordError
from ..common.services import find_service
from ..maps.address import split_addr
from ..maps.tok822 import quote_822_local
from ..trivial_rewrite import resolve
from .agents import agent_for
from .request import DeliveryRequest, RecipientStatus, record_status

if TYPE_CHECKING:
    from .manager import QueueManager


class MessageJob:
    """The queue manager's work on one queue file."""

    def __init__(self, qmgr: "QueueManager", qid: str) -> None:
        self.qmgr = qmgr
        self.ctx = qmgr.ctx
        self.store = qmgr.store
        self.qid = qid
        self.deferred = False
        self.active_arrival = 0.0
        self.trace_flags = 0
        self._by_offset: dict[int, Recipient] = {}   # the file's recipients, for the copies sent out

    def info(self, text: str) -> None:
        self.qmgr.info(f"{self.qid}: {text}")

    # -- the message -------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            qf = self.store.read("active", self.qid)
        except FileNotFoundError:
            return
        except (RecordError, ValueError):
            self.qmgr.corrupt(self.qid, "active")
            return
        self.active_arrival = self.ctx.now()
        self.trace_flags = _trace_flags(qf)
        self.info(f"from=<{_quoted(qf.sender)}>, size={qf.size}, nrcpt={len(qf.recipients)} (queue active)")
        if qf.forced_expire:
            self.info(f"from=<{_quoted(qf.sender)}>, status=force-expired, returned to sender")
            await self._expire(qf)
            await self._finish(qf)
            return
        remove_log(self.ctx, "defer", self.qid)
        self._by_offset = {r.offset: r for r in qf.recipients if r.offset is not None}
        requests = self._requests(qf)
        if len(requests) == 1:
            # The usual case, in the same loop turns as gather() takes (the request's task
            # starts on the next turn; when it ends, a callback, then this one goes on), without a
            # task: each sleep(0) queues this task's next step where the other one's step was.
            try:
                await asyncio.sleep(0)
                await self._dispatch(requests[0])
            finally:
                await asyncio.sleep(0)
                await asyncio.sleep(0)
        else:
            await asyncio.gather(*(self._dispatch(req) for req in requests))
        await self._finish(qf)

    def _reporter(self, qf: QueueFile) -> Reporter:
        stats = MsgStats(incoming_arrival=qf.arrival, active_arrival=self.active_arrival)
        return Reporter(self.ctx, "qmgr", self.qmgr.pid, self.qid, stats, self.trace_flags)

    def _requests(self, qf: QueueFile) -> list[DeliveryRequest]:
        groups: dict[tuple[str, str], list[Recipient]] = {}
        resolved: list[tuple[str, str, Recipient]] = []
        trace_flags = self.trace_flags
        content_filter = qf.filter if not trace_flags & TRACE_ONLY else ""
        for rcpt in qf.pending():
            if content_filter:
                resolved.append((*self._filter_route(content_filter, rcpt.address), rcpt))
                continue
            res = resolve(self.ctx, rcpt.address, qf.sender)
            if "fail" in res.flags:
                self._reporter(qf).defer(rcpt, "none", Dsn("4.3.0", "address resolver failure"))
                self.deferred = True
                continue
            if "error" in res.flags:
                self._reporter(qf).bounce(rcpt, "none", Dsn("5.1.3", "bad address syntax"))
                self.store.mark_done("active", self.qid, rcpt)
                continue
            resolved.append((res.transport, res.nexthop, _readdressed(rcpt, res.address)))
        if len(resolved) > 1:
            resolved.sort(key=self._sort_key)
        spelled: dict[tuple[str, str], str] = {}
        for transport, nexthop, rcpt in resolved:
            # queue names ignore case; the queue keeps the nexthop as its first recipient spelled it
            key = (transport, nexthop.lower())
            spelled.setdefault(key, nexthop)
            groups.setdefault(key, []).append(rcpt)
        out: list[DeliveryRequest] = []
        for key, rcpts in groups.items():
            transport, nexthop = key[0], spelled[key]
            limit = self.qmgr.recipient_limit(transport)
            for i in range(0, len(rcpts), limit if limit > 0 else len(rcpts)):
                chunk = tuple(rcpts[i:i + limit] if limit > 0 else rcpts)
                out.append(DeliveryRequest(self.qid, "active", qf.sender, nexthop, chunk, transport,
                                           qf.arrival, dict(qf.attrs), self.active_arrival,
                                           trace_flags=trace_flags))
        return out

    def _filter_route(self, content_filter: str, address: str) -> tuple[str, str]:
        """The content filter overrides the resolver: (transport, nexthop) for every recipient.

        A filter without a nexthop uses default_filter_nexthop, else the recipient's
        domain, else myhostname.
        """
        transport, _, nexthop = content_filter.partition(":")
        if not nexthop:
            nexthop = self.ctx.config["default_filter_nexthop"]
        if not nexthop:
            nexthop = address.rpartition("@")[2] if "@" in address else ""
        return transport, nexthop or self.ctx.config["myhostname"]

    def _sort_key(self, item: tuple[str, str, Recipient]) -> tuple[str, str, int, str, str]:
        """qmgr_message_sort(): transport, queue name, recipient domain (case ignored), then
        the address as it is (strcmp: "B@x" before "a@x").

        The queue name is the nexthop, or user@nexthop (extension removed) for a transport
        that takes one recipient per delivery.
        """
        transport, nexthop, rcpt = item
        queue = nexthop
        if transport != "error" and self.qmgr.recipient_limit(transport) == 1:
            local = rcpt.address.rpartition("@")[0] if "@" in rcpt.address else rcpt.address
            user = split_addr(local, self.ctx.config["recipient_delimiter"])
            queue = f"{user[0] if user else local}@{nexthop}"
        at = rcpt.address.rfind("@")
        domain = rcpt.address[at:].lower() if at >= 0 else ""
        return transport, queue.lower(), int(at < 0), domain, rcpt.address

    # -- one delivery request ------------------------------------------------------------------
    async def _dispatch(self, req: DeliveryRequest) -> None:
        limit = self.qmgr.recipient_limit(req.transport)
        dest = req.nexthop if limit != 1 else f"{req.nexthop}\0{req.recipients[0].address}"
        # a free slot is taken without a coroutine; else wait for one
        slots, key = self.qmgr.slots, (req.transport, dest)
        if not slots.take(key):
            await slots.acquire(key)
        try:
            svc = find_service(self.ctx, req.transport)
            deliver = agent_for(svc.command) if svc is not None else None
            if svc is None or deliver is None:
                if svc is None:
                    self.qmgr.warn(f"connect to transport private/{req.transport}: "
                                   "No such file or directory")
                statuses = self._unavailable(req, "mail transport unavailable")
            else:
                req = req.handed_off(self.ctx.now())
                try:
                    statuses = list(await deliver(self.ctx, svc, req))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # an agent crash is a transport problem, not lost mail
                    self.qmgr.warn(f"private/{req.transport} socket: malformed response ({exc!r})")
                    statuses = self._unavailable(req, "unknown mail transport error")
        finally:
            slots.release(key)
        for st in statuses:
            self._record(req, st)

    def _unavailable(self, req: DeliveryRequest, text: str) -> list[RecipientStatus]:
        rep = Reporter(self.ctx, "qmgr", self.qmgr.pid, self.qid, req.stats(), req.trace_flags)
        for rcpt in req.recipients:
            rep.defer(rcpt, "none", Dsn("4.3.0", text))
        return [RecipientStatus(r, "4.3.0", "deferred", text, "none", logged=True)
                for r in req.recipients]

    def _record(self, req: DeliveryRequest, st: RecipientStatus) -> None:
        record_status(self.ctx, self.qid, st, req.trace_flags)
        if st.done:
            try:
                self.store.mark_done("active", self.qid, st.rcpt)
            except FileNotFoundError:
                pass
            else:
                if st.rcpt.done:
                    orig = self._by_offset.get(st.rcpt.offset)  # type: ignore[arg-type]
                    if orig is not None:
                        orig.done = True
        else:
            self.deferred = True

    # -- the end of the message's turn ----------------------------------------------------------
    async def _expire(self, qf: QueueFile) -> None:
        recorded = {r.recipient for r in read_log(self.ctx, "defer", self.qid)}
        for rcpt in qf.pending():
            if rcpt.address not in recorded:
                append_log(self.ctx, "defer", self.qid, LogRecord(
                    recipient=rcpt.address, status="4.7.0", action="delayed",
                    reason="message is administratively expired", original_recipient=rcpt.orig,
                    dsn_orig_rcpt=rcpt.orcpt, notify=rcpt.notify, offset=rcpt.offset))
        if await defer_flush(self.ctx, "active", self.qid):
            for rcpt in qf.pending():
                self.store.mark_done("active", self.qid, rcpt)
            remove_log(self.ctx, "defer", self.qid)
            self.deferred = False
        else:
            self.deferred = True

    def _still_active(self, qf: QueueFile) -> bool:
        """Is the file still in the active queue? Refreshes its postsuper -e mark.

        ``qf`` already knows which recipients are done (_record), so the file
        is not read again.
        """
        try:
            mode = os.stat(self.store._name("active", self.qid)).st_mode
        except OSError:
            mode = 0
        if not stat.S_ISREG(mode):
            p = self.store.locate("active", self.qid)
            if p is None:
                return False
            try:
                mode = p.stat().st_mode
            except OSError:
                return False
        qf.forced_expire = bool(mode & MODE_EXPIRE)
        return True

    def _may_trace(self, qf: QueueFile) -> bool:
        """Can there be a trace log? As in Postfix, only for traced mail (sendmail -v, -bv,
        verify probes) or when a recipient asked for NOTIFY=SUCCESS: nothing else writes one."""
        return bool(self.trace_flags) or any("SUCCESS" in r.notify.upper() for r in qf.recipients)

    async def _finish(self, qf: QueueFile) -> None:
        ctx, cfg = self.ctx, self.ctx.config
        if has_log(ctx, "bounce", self.qid) and not await bounce_flush(ctx, "active", self.qid):
            self.deferred = True
        if not self.deferred and not self._may_trace(qf):
            # All done, nothing to report: as qmgr_active_done_2_generic(), no look at the
            # file before it is removed (mail_open_ok() only for a deferred message); a file
            # that went away meanwhile is not logged as removed.
            if self.store.remove("active", self.qid):
                self.info("removed")
            return
        if not self._still_active(qf):
            return
        if self.deferred:
            now = ctx.now()
            created = qf.create_time or qf.arrival
            lifetime = cfg.get_time("maximal_queue_lifetime" if qf.sender else "bounce_queue_lifetime")
            if now >= created + lifetime and not qf.forced_expire:
                self.info(f"from=<{_quoted(qf.sender)}>, status=expired, returned to sender")
                await self._expire(qf)
            elif qf.warn_time > 0 and now >= qf.warn_time - 1:
                await defer_warn(ctx, "active", self.qid)
                qf = self.store.read("active", self.qid)
                qf.warn_time = 0.0
                self.store.write("active", qf)
        if not self.deferred and self._may_trace(qf) and has_log(ctx, "trace", self.qid):
            await trace_flush(ctx, "active", self.qid)
        if self.deferred:
            self._defer(qf)
        else:
            # No defer log to remove: run() reset it and a deferred recipient would have kept
            # the message (qmgr_active_done_3_generic() removes only the queue file too).
            self.store.remove("active", self.qid)
            self.info("removed")

    def _defer(self, qf: QueueFile) -> None:
        cfg = self.ctx.config
        now = self.ctx.now()
        created = qf.create_time or qf.arrival
        delay = now - created if created > 0 else 0.0
        delay = min(delay, cfg.get_time("maximal_backoff_time"))
        delay = max(delay, cfg.get_time("minimal_backoff_time"))
        self.store.move(self.qid, "active", "deferred", when=now + delay)


def _trace_flags(qf: QueueFile) -> int:
    value = qf.attrs.get("trace_flags", "0")
    return int(value) if (str(value).isascii() and str(value).isdigit()) else 0


def _readdressed(rcpt: Recipient, address: str) -> Recipient:
    """A copy of ``rcpt`` for the resolved ``address`` (dataclasses.replace() is slow per recipient)."""
    copy = object.__new__(Recipient)
    copy.__dict__.update(rcpt.__dict__)
    copy.address = address
    return copy


def _quoted(sender: str) -> str:
    """The sender as qmgr logs it: the local part quoted when it needs to be."""
    return quote_822_local(sender) if sender else ""
