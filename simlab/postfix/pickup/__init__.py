"""NAME
    pickup - Postfix local mail pickup

SUMMARY
    pickup = Pickup(ctx, service); task = loop.create_task(pickup.run())
    await pickup.scan()          # one pass over the maildrop

DESCRIPTION
    pickup(8) waits for a wake-up (postdrop's trigger, or master's every
    ``wakeup`` seconds) and then takes every file in the maildrop queue,
    hands its envelope and content to cleanup(8), and removes the file once
    cleanup has it safely in the incoming queue. It logs ``QUEUEID: uid=0
    from=<bob@example.com>`` (the id is the one cleanup gave the new queue
    file) and prepends ``Received: by HOST (Postfix, from userid UID)`` with
    the file's time.

    A file that ``postsuper -r`` moved here (mode 0700 instead of
    postdrop's 0444) is logged with ``orig_id=OLDID`` and keeps its
    attributes (log_ident too: the new file's is the first queue id; a
    sendmail submission has none); delivered (done) recipients are not passed on, and a
    message without recipients left is dropped. Recipients that sendmail -t
    extracted from the headers go to cleanup as extracted ones (they stay
    after the X record of the new queue file; cleanup removes Bcc:). A malformed file is
    removed with "warning: uid=N: unexpected or malformed record type N".
    pickup's content_filter (main.cf, or -o in master.cf) becomes the new
    queue file's content filter, as for smtpd.

PARAMETERS
    myhostname, mail_name, mail_owner, pickup_service_name, content_filter.

SEE ALSO
    pickup(8), postdrop(1), cleanup(8)
"""

from __future__ import annotations

import asyncio
import stat
from typing import Any

from ..common import records as R
from ..maps.tok822 import quote_822_local
from ..common.queue import QueueStore, decode_queue_file


class Pickup:
    """The pickup daemon of one instance."""

    def __init__(self, ctx: Any, service: Any = None) -> None:
        from ..master import acquire, current_process
        self.ctx = ctx
        self.service = service
        self.store = QueueStore(ctx)
        proc = current_process() or acquire(ctx, "pickup")
        self.pid = proc.pid
        self._wake = asyncio.Event()
        self._stopping = False
        self.name = service.name if service is not None else (ctx.config["pickup_service_name"] or "pickup")
        self._unsubscribe = ctx.events.subscribe(self.name, self.wakeup)

    # -- the daemon loop ------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while not self._stopping:
                self._wake.clear()
                await self.scan()
                if not self._wake.is_set():
                    await self._wake.wait()
        finally:
            self._unsubscribe()

    def wakeup(self, request: str = "W") -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def scan(self) -> int:
        """Pick up every maildrop file; repeat while files keep disappearing (pickup_service)."""
        total = 0
        while True:
            removed = 0
            for qid in self.store.list("maildrop"):
                try:
                    gone = await self.pickup_file(qid)
                except Exception as e:  # keep the file and the daemon; try again on the next wake-up
                    self.warn(f"maildrop/{qid}: error writing {qid}: {e}")
                    gone = False
                if gone:
                    removed += 1
            total += removed
            if not removed:
                return total

    # -- one file ---------------------------------------------------------------------------
    def _owner_uid(self) -> int:
        owner = self.ctx.config["mail_owner"] or "postfix"
        entry = self.ctx.passwd().get(owner)
        return entry.uid if entry is not None else 0

    def warn(self, text: str) -> None:
        self.ctx.log.line("pickup", self.pid, "warning: " + text)

    async def pickup_file(self, qid: str) -> bool:
        """Hand one maildrop file to cleanup; True when the file is gone afterwards."""
        path = self.store.locate("maildrop", qid)
        if path is None:
            return False
        try:
            st = path.stat()
            raw = path.read_bytes()
        except FileNotFoundError:
            return False
        requeued = not st.st_mode & stat.S_IROTH
        try:
            records = list(R.iter_records(raw))
            qf = decode_queue_file(raw, qid)
        except (R.RecordError, ValueError):
            bad = raw[:1].decode("latin-1") or "?"
            self.warn(f"uid={st.st_uid}: unexpected or malformed record type {ord(bad) if bad else -1}")
            self.store.remove("maildrop", qid)
            return True
        uid_attr = qf.attrs.pop("submit_uid", None)
        uid = int(uid_attr) if uid_attr and uid_attr.isascii() and uid_attr.isdigit() else (self._owner_uid() if requeued else st.st_uid)
        if not any(r.type == R.REC_TYPE_FROM for r in records):
            self.warn(f"{qid}: uid={uid}: no envelope sender")
            self.store.remove("maildrop", qid)
            return True
        rcpts = [r for r in qf.recipients if not r.done]
        if not rcpts:
            self.store.remove("maildrop", qid)
            return True
        try:
            from ..cleanup import ClientInfo, open_cleanup, received_local
        except ImportError as e:
            self.ctx.trace.record("pickup", "unavailable", error=str(e))
            return False
        for r in rcpts:
            r.done = False
            r.offset = None
        attrs = dict(qf.attrs)
        attrs.setdefault("rewrite_context", "local")
        # the new file keeps a requeued file's log_ident (its first queue id); sendmail's has none
        attrs["log_ident"] = next((r.data[10:].decode("utf-8", "replace") for r in records
                                   if r.type == R.REC_TYPE_ATTR and r.data.startswith(b"log_ident=")), "")
        if qf.fullname:
            attrs["fullname"] = qf.fullname
        cfg = self.ctx.config.for_service(self.service) if self.service is not None else self.ctx.config
        client = ClientInfo(name="", addr="", port=0, helo="", protocol="", rewrite_context=attrs["rewrite_context"])
        session = open_cleanup(self.ctx, cfg, client, content_filter=cfg["content_filter"])
        new_id = session.qid
        sender = qf.sender
        text = f"{new_id}: uid={uid} from=<{quote_822_local(sender) if sender else ''}>"
        if requeued:
            text += f" orig_id={qid}"
        self.ctx.log.line("pickup", self.pid, text)
        content = qf.content
        if content[:1] in (b" ", b"\t"):
            content = b"\n" + content
        received = received_local(myhostname=self.ctx.config["myhostname"],
                                  mail_name=self.ctx.config["mail_name"] or "Postfix", uid=uid, qid=new_id,
                                  when=st.st_mtime)
        result = await session.finish(sender, rcpts, received + content, attrs, arrival=qf.arrival or st.st_mtime)
        if result.ok or not (result.reply or "").startswith("4"):
            self.store.remove("maildrop", qid)
            if requeued:
                self._drop_logs(qid)
            return True
        return False

    def _drop_logs(self, qid: str) -> None:
        """The requeued message's old defer/bounce/trace logs (postsuper -r leaves them)."""
        for queue in ("defer", "bounce", "trace"):
            path = self.store.locate(queue, qid)
            if path is not None:
                path.unlink(missing_ok=True)
