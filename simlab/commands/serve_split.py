"""NAME
    serve_split - simlab serve's second process: qmgr and the delivery agents

SUMMARY
    qmgr = await DeliveryProcess.start(root, verbose)    # in simlab serve
    unsubscribe = qmgr.forward(pf.ctx)                   # cleanup's wake-ups go to it
    qmgr.reload(); await qmgr.stop()

DESCRIPTION
    Postfix runs each program as a process of its own, so that receiving
    (smtpd, cleanup) and delivering (qmgr, local, smtp, ...) use every core
    the machine has. ``simlab serve`` does the same with two processes:
    the first runs master, the listeners (smtpd), cleanup, pickup and the
    mail store servers; the second (``simlab serve --delivery-process``,
    started and supervised by the first) runs qmgr with the agents it
    spawns: local, virtual, smtp, lmtp, pipe, error, discard, bounce.

    They share what Postfix's programs share -- the host root: queue files,
    mailboxes, the maillog (whole lines, O_APPEND) -- and a pipe that
    carries qmgr's wake-up requests (cleanup's ``I``, flush's, ...), the
    role of Postfix's public/qmgr fifo. Separate commands (``postqueue
    -f``) reach the queue manager through public/qmgr, on which the second
    process listens. It logs no start or stop lines of its own (there is
    one master), hands out process ids from its own range, and stops when
    the pipe closes, so it never outlives the first process. If it dies,
    the first process logs it as master(8) logs a crashed daemon and starts
    it again.

    ``simlab serve --one-process`` keeps everything in one process, as
    the virtual network does.

SEE ALSO
    master(8), qmgr(8), simlab.commands.serve
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, Callable

QMGR_COMMANDS = ("qmgr", "oqmgr")
SECOND_PIDS = 60200     # the second process's process ids start here (the first's at 30200)
SECOND_INODES = 0x10000  # and its queue-file "inodes" this far above the first's
READY = b"ready\n"
RESTART_DELAY = 1.0     # seconds before a crashed delivery process starts again (master's throttle)


def front_runs(svc: Any) -> bool:
    """The services of the first process: everything but the queue manager."""
    return svc.command not in QMGR_COMMANDS


def back_runs(svc: Any) -> bool:
    """The services of the second: qmgr and the unix services it uses, no listener, no pickup or flush."""
    from ..postfix.master.services import service_kind
    if svc.type == "inet" or svc.name in ("pickup", "flush"):
        return False
    return svc.command in QMGR_COMMANDS or service_kind(svc) == "on-demand"


class DeliveryProcess:
    """The second process, seen from the first: start, wake, reload, stop, restart on a crash."""

    def __init__(self, root: Path, verbose: bool, log: Callable[[str], None]) -> None:
        self.root = root
        self.verbose = verbose
        self.log = log
        self.proc: asyncio.subprocess.Process | None = None
        self.stopping = False
        self._watch: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, root: Path, verbose: bool, log: Callable[[str], None]) -> "DeliveryProcess":
        self = cls(root, verbose, log)
        await self._spawn()
        self._watch = asyncio.get_running_loop().create_task(self._supervise())
        return self

    async def _spawn(self) -> None:
        args = [sys.executable, "-m", "simlab", "serve", "--root", str(self.root), "--delivery-process"]
        if self.verbose:
            args.append("-v")
        self.proc = await asyncio.create_subprocess_exec(*args, stdin=asyncio.subprocess.PIPE,
                                                         stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if line != READY:
            code = await self.proc.wait()
            raise RuntimeError(f"the delivery process did not start (exit status {code})")

    async def _supervise(self) -> None:
        while True:
            proc = self.proc
            assert proc is not None
            code = await proc.wait()
            if self.stopping:
                return
            self.log(f"warning: process /usr/lib/postfix/sbin/qmgr pid {proc.pid} exit status {code}")
            await asyncio.sleep(RESTART_DELAY)
            try:
                await self._spawn()
            except (OSError, RuntimeError) as e:
                self.log(f"warning: {e}")

    def wake(self, request: str = "I") -> None:
        """A qmgr trigger (one letter per request, as on Postfix's fifo)."""
        proc = self.proc
        if proc is not None and proc.stdin is not None and proc.returncode is None and not proc.stdin.is_closing():
            proc.stdin.write(request.encode("ascii", "replace") or b"W")

    def forward(self, ctx: Any) -> Callable[[], None]:
        """Send ``ctx``'s qmgr wake-ups (cleanup, flush) to the second process."""
        return ctx.events.subscribe("qmgr", lambda request="I", *_: self.wake(request))

    def reload(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGHUP)

    async def stop(self, timeout: float = 20.0) -> None:
        self.stopping = True
        proc = self.proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()          # end of the pipe: the second process stops
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
        if self._watch is not None:
            self._watch.cancel()


async def run_delivery_process(root: Path, verbose: bool, trace: Any) -> int:
    """``simlab serve --delivery-process``: qmgr and the agents until stdin closes."""
    import gc

    from ..postfix.common.context import PidAllocator
    from ..postfix.system import PostfixSystem

    pf = PostfixSystem.for_root(root, trace=trace)
    pf.ctx.pids = PidAllocator(SECOND_PIDS)
    pf.ctx.shared["inode_offset"] = SECOND_INODES    # its queue ids (bounces) never equal the first's
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await pf.start(runs=back_runs, quiet=True)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(pf.reload(announce=False)))

    async def requests() -> None:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            assert pf.master is not None
            pf.master.trigger("qmgr", "".join(sorted(set(data.decode("ascii", "replace")))))
        stop.set()

    pump = loop.create_task(requests())
    gc.collect()
    gc.freeze()
    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    try:
        await stop.wait()
    finally:
        pump.cancel()
        await pf.stop()
    return 0
