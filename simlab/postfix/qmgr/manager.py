"""NAME
    manager - the queue manager daemon: scans, wake-ups, concurrency

SUMMARY
    qmgr = QueueManager(ctx, service)     # master starts it; or run it yourself:
    task = loop.create_task(qmgr.run())
    ctx.events.wakeup("qmgr", "I")        # cleanup's "new mail" trigger
    await qmgr.stop()

DESCRIPTION
    At start the queue manager moves files left in the active queue back to
    incoming (a crash or reload interrupted them) and scans both the
    incoming and the deferred queue. Then it waits for wake-ups on the
    "qmgr" channel (Postfix's qmgr fifo): a request is a string of letters,
    I = scan incoming, D = scan deferred, A = scan all and ignore file time
    stamps (postqueue -f), F = forget dead destinations, W = wake up (scan
    incoming). Every queue_run_delay seconds it scans the deferred queue
    on its own.

    A scan moves each queue file whose time stamp is not in the future
    into the active queue and starts a MessageJob for it (active.py).
    Deliveries to the same transport and destination run at most
    <transport>_destination_concurrency_limit at a time (default
    default_destination_concurrency_limit).

    Everything waits on the instance's clock through asyncio, so a whole
    retry schedule runs in virtual time. The waits between scans are
    *daemon* timers on the virtual loop: a simulation with nothing but a
    deferred message in the queue is quiet, and ``net.run()`` returns; run
    on to a later time (``net.run(until=...)``) to see the retries.

PARAMETERS
    queue_run_delay, <transport>_destination_concurrency_limit,
    default_destination_concurrency_limit, <transport>_destination_recipient_limit,
    default_destination_recipient_limit.

SEE ALSO
    qmgr(8), postqueue(1), master(5)
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

from ..common.delivery_log import daemon_pid
from ..common.queue import QueueStore
from ..common.services import master_services
from ..master.process import call_later
from .active import MessageJob


def _param(cfg: Any, transport: str, suffix: str) -> int:
    for name in (f"{transport}_{suffix}", f"default_{suffix}"):
        try:
            return cfg.get_int(name)
        except (KeyError, ValueError):
            continue
    return 0


class Slots:
    """Per (transport, destination) delivery concurrency."""

    def __init__(self, qmgr: "QueueManager") -> None:
        self.qmgr = qmgr
        self.busy: dict[tuple[str, str], int] = {}
        self.waiters: dict[tuple[str, str], collections.deque[asyncio.Future[None]]] = {}

    def take(self, key: tuple[str, str]) -> bool:
        """Take a free slot now (True), else False: then ``await acquire(key)`` waits for one."""
        busy = self.busy.get(key, 0)
        if busy:
            limit = self.qmgr.limit(key[0], "destination_concurrency_limit")
            if limit > 0 and busy >= limit:
                return False
        self.busy[key] = busy + 1
        return True

    async def acquire(self, key: tuple[str, str]) -> None:
        """Wait for a slot; ``release(key)`` gives it back (one delivery to that destination)."""
        if not self.take(key):
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.setdefault(key, collections.deque()).append(fut)
            await fut

    def release(self, key: tuple[str, str]) -> None:
        queue = self.waiters.get(key)
        while queue and queue[0].done():
            queue.popleft()
        if queue:
            queue.popleft().set_result(None)   # hand the slot over, busy count unchanged
        else:
            self.busy[key] -= 1
            if not self.busy[key]:
                del self.busy[key]


def _set(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class QueueManager:
    """qmgr(8) of one Postfix instance."""

    name = "qmgr"

    def __init__(self, ctx: Any, service: Any = None) -> None:
        self.ctx = ctx
        self.service = service
        self.store = QueueStore(ctx)
        self.slots = Slots(self)
        self.jobs: dict[str, asyncio.Task[None]] = {}
        self.requests: set[str] = set()
        self.pid = self._own_pid()
        self._stopping = False
        self._wake: asyncio.Future[None] | None = None
        self._unsubscribe: Any = None
        self._next_deferred = 0.0
        self._limits: tuple[Any, dict[tuple[str, str], int]] = (None, {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: Any = None         # the wait's timeout (the next deferred scan)
        self._postpone: Any = None      # VirtualLoop.postpone, when the loop has one

    def _own_pid(self) -> int:
        from ..master.process import current_process
        proc = current_process()
        if proc is not None and proc.command == "qmgr":
            return proc.pid
        return daemon_pid(self.ctx, "qmgr")

    # -- logging and helpers ------------------------------------------------------------------
    def info(self, text: str) -> None:
        self.ctx.log.line("qmgr", self.pid, text)

    def warn(self, text: str) -> None:
        self.ctx.log.line("qmgr", self.pid, "warning: " + text)

    def services(self) -> list[Any]:
        """master.cf's services, re-read when the file changes."""
        return master_services(self.ctx)

    def recipient_limit(self, transport: str) -> int:
        return self.limit(transport, "destination_recipient_limit")

    def limit(self, transport: str, suffix: str) -> int:
        """<transport>_<suffix>, else default_<suffix>, remembered per configuration."""
        cfg = self.ctx.config
        known = self._limits
        if known[0] is not cfg:
            known = self._limits = (cfg, {})
        key = (transport, suffix)
        value = known[1].get(key)
        if value is None:
            value = known[1][key] = _param(cfg, transport, suffix)
        return value

    def corrupt(self, qid: str, queue: str) -> None:
        self.warn(f'saving corrupt file "{qid}" from queue "{queue}" to queue "corrupt"')
        with contextlib.suppress(FileNotFoundError):
            self.store.move(qid, queue, "corrupt")

    # -- wake-ups -------------------------------------------------------------------------------
    def trigger(self, *args: Any) -> None:
        """A wake-up on the qmgr channel (request letters, default "W")."""
        request = str(args[0]) if args else "W"
        self.requests.update(request or "W")
        if self._wake is not None:
            _set(self._wake)

    def _timeout(self) -> None:
        self._timer = None
        if self._wake is not None:
            _set(self._wake)

    async def _idle(self, delay: float) -> None:
        loop = self._loop or asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._wake = fut
        if self.requests:
            _set(fut)
        delay = max(0.0, delay)
        # On the virtual loop the timer stays armed between waits (it does nothing while qmgr
        # works) and is moved per wait, as cancel() + call_later() would place it, not made anew.
        timer, postpone = self._timer, self._postpone
        if timer is None or postpone is None or not postpone(timer, delay):
            if timer is not None:
                timer.cancel()
            timer = self._timer = call_later(loop, delay, self._timeout)
        try:
            await fut
        finally:
            self._wake = None
            if postpone is None:
                timer.cancel()
                self._timer = None

    # -- the work loop --------------------------------------------------------------------------
    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()     # the loop _scan() and _idle() work on
        self._postpone = getattr(self._loop, "postpone", None)
        self._unsubscribe = self.ctx.events.subscribe(self.name, self.trigger)
        try:
            for qid in self.store.list("active"):
                if qid not in self.jobs:
                    with contextlib.suppress(FileNotFoundError):
                        self.store.move(qid, "active", "incoming")
            self.requests.update("ID")
            while not self._stopping:
                requests, self.requests = self.requests, set()
                now = self.ctx.now()
                scan_all = "A" in requests
                if "I" in requests or "W" in requests or scan_all:
                    self._scan("incoming", scan_all)
                if "D" in requests or scan_all or now >= self._next_deferred:
                    self._scan("deferred", scan_all)
                    self._next_deferred = now + self.ctx.config.get_time("queue_run_delay")
                if self.requests:
                    await asyncio.sleep(0)
                    continue
                await self._idle(self._next_deferred - self.ctx.now())
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._unsubscribe is not None:
                self._unsubscribe()

    def _scan(self, queue: str, scan_all: bool) -> None:
        now = self.ctx.now()
        for qid in self.store.list(queue):
            if qid in self.jobs:
                continue
            if queue == "deferred" and not scan_all and self.store.mtime(queue, qid) > now + 1:
                continue
            try:
                self.store.move(qid, queue, "active")
            except FileNotFoundError:
                continue
            self.ctx.trace.record("qmgr", "scan", queue=queue, qid=qid)
            self._start(qid)

    def _start(self, qid: str) -> None:
        task = (self._loop or asyncio.get_running_loop()).create_task(self._job(qid))
        self.jobs[qid] = task

    async def _job(self, qid: str) -> None:
        try:
            await MessageJob(self, qid).run()
        finally:
            self.jobs.pop(qid, None)

    async def stop(self) -> None:
        """Finish the deliveries in progress and stop scanning."""
        self._stopping = True
        if self._wake is not None:
            _set(self._wake)
        if self.jobs:
            await asyncio.gather(*list(self.jobs.values()), return_exceptions=True)

    async def drain(self) -> None:
        """Wait until no message is being worked on (tests and the notebooks' run helpers)."""
        while self.jobs or self.requests:
            if self.jobs:
                await asyncio.gather(*list(self.jobs.values()), return_exceptions=True)
            else:
                await asyncio.sleep(0)
