"""NAME
    process - the master's table of simulated daemon processes

SUMMARY
    table = ProcessTable(ctx)
    proc = table.start(service)          # trace: kind="process", event="start"
    table.busy(proc); table.idle(proc)   # idle ones exit after max_idle
    table.exit(proc, "idle")             # trace: kind="process", event="exit"
    print(table.ps())
    current_process()                    # the process a protocol is being created for

DESCRIPTION
    Every Postfix daemon is a process that master(8) starts when there is
    work and that goes away again: after ``max_idle`` seconds without a
    client, or after serving ``max_use`` clients. Here a process is a record
    with a process id (from the instance's PidAllocator, so runs are
    reproducible), its service, its command line as ps(1) shows it, the
    user it runs as, its state and how many clients it served.

    The user is master.cf's unpriv column: ``y`` (or ``-``) daemons run as
    ``mail_owner``, ``n`` ones (local, virtual, pipe in Debian's master.cf)
    as root. local(8) and pipe(8) switch to the recipient or ``user=``
    account only in the child that delivers; the daemon itself, as ps(1)
    lists it, stays root. Long-running daemons (qmgr,
    pickup) also carry the asyncio task that does their work.

    Idle timers are daemon timers on the virtual loop: an idle smtpd does not
    keep ``net.run()`` from returning, and its exit happens at the right
    virtual time when the simulation runs on.

PARAMETERS
    max_idle, max_use, mail_owner.

SEE ALSO
    master(8), ps(1)
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Process:
    """One simulated daemon process."""

    pid: int
    service: str                 # master.cf service name ("smtp", "127.0.0.1:2525", "cleanup")
    type: str                    # inet, unix, fifo, pass, unix-dgram
    command: str                 # master.cf command ("smtpd", "trivial-rewrite")
    argv: str                    # what ps shows: "smtpd -n smtp -t inet -u"
    started: float               # epoch seconds
    user: str = "root"           # mail_owner for unpriv services, else root
    state: str = "idle"          # "busy", "idle" or "exited"
    clients: int = 0             # clients served so far (max_use)
    busy_count: int = 0          # clients being served right now
    generation: int = 0          # master.cf generation (reload retires older ones)
    task: asyncio.Task[Any] | None = field(default=None, repr=False)
    daemon: Any = field(default=None, repr=False)   # the object doing the work (QueueManager, Pickup)
    exited: float | None = None
    _timer: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The program name as it appears in the maillog (``postfix/smtpd``)."""
        return self.command


CURRENT_PROCESS: contextvars.ContextVar[Process | None] = contextvars.ContextVar("simlab_process", default=None)


def current_process() -> Process | None:
    """The process whose protocol is being created (read it in a protocol's __init__)."""
    return CURRENT_PROCESS.get()


# loop class -> does its call_later() take daemon=True (the virtual loop's)?
_DAEMON_TIMERS: dict[type, bool] = {}


def call_later(loop: Any, delay: float, fn: Callable[..., None], *args: Any) -> Any:
    """A timer that does not keep a virtual simulation running."""
    daemon = _DAEMON_TIMERS.get(type(loop))
    if daemon is None:
        try:
            handle = loop.call_later(delay, fn, *args, daemon=True)
        except TypeError:       # an asyncio loop: learnt once, not raised per idle process
            handle = loop.call_later(delay, fn, *args)
            _DAEMON_TIMERS[type(loop)] = False
            return handle
        _DAEMON_TIMERS[type(loop)] = True
        return handle
    if daemon:
        return loop.call_later(delay, fn, *args, daemon=True)
    return loop.call_later(delay, fn, *args)


def run_as(svc: Any, mail_owner: str) -> str:
    """The account master(8) runs a master.cf service's daemon under."""
    return (mail_owner or "postfix") if svc.unpriv else "root"


def ps_argv(svc: Any) -> str:
    """The command line master(8) gives a daemon for a master.cf entry."""
    parts = [svc.command]
    if svc.name != svc.command:
        parts += ["-n", svc.name]
    if svc.maxproc == 1:
        parts.append("-l")
    elif svc.maxproc == 0:
        parts.append("-z")
    parts += ["-t", svc.type]
    if svc.unpriv:
        parts.append("-u")
    if svc.chroot:
        parts.append("-c")
    for k, v in svc.overrides.items():
        parts += ["-o", f"{k}={v}"]
    parts += list(svc.args)
    return " ".join(parts)


class ProcessTable:
    """The processes of one master: start, busy/idle bookkeeping, exit."""

    def __init__(self, ctx: Any, on_exit: Callable[[Process], None] | None = None) -> None:
        self.ctx = ctx
        self.procs: list[Process] = []
        self.history: list[Process] = []
        # memo: live(service) runs per client and per delivery; procs holds every service's
        self._by_service: dict[str, list[Process]] = {}
        self.on_exit = on_exit
        self._loop: Any = None
        self._postpone: Callable[[Any, float], bool] | None = None

    def has(self, proc: Process) -> bool:
        """Is ``proc`` one of this table's processes? (``in`` would compare every field of each.)"""
        for p in self._by_service.get(proc.service, ()):
            if p is proc:
                return True
        return False

    def live(self, service: str | None = None) -> list[Process]:
        if service is None:
            return [p for p in self.procs if p.state != "exited"]
        return [p for p in self._by_service.get(service, ()) if p.state != "exited"]

    def serving(self, service: str, type: str, generation: int) -> list[Process]:
        """live(service), only the processes of that type and master.cf generation."""
        return [p for p in self._by_service.get(service, ())
                if p.type == type and p.generation == generation and p.state != "exited"]

    def idle_one(self, service: str, type: str, generation: int) -> Process | None:
        """The first idle process of serving(service, type, generation), without the list."""
        for p in self._by_service.get(service, ()):
            if p.state == "idle" and p.type == type and p.generation == generation:
                return p
        return None

    def start(self, svc: Any, generation: int = 0) -> Process:
        proc = Process(self.ctx.pids.next(), svc.name, svc.type, svc.command, ps_argv(svc),
                       self.ctx.now(), user=run_as(svc, self.ctx.config["mail_owner"]),
                       generation=generation)
        self.procs.append(proc)
        self._by_service.setdefault(proc.service, []).append(proc)
        self.ctx.trace.record(svc.command, "process", event="start", pid=proc.pid, service=svc.name,
                              command=proc.argv)
        return proc

    def busy(self, proc: Process) -> None:
        timer = proc._timer
        if timer is not None and self._postpone is None:
            timer.cancel()
            proc._timer = None
        # On the virtual loop the idle timer stays armed while the process is busy
        # (it does nothing then): arm_idle() moves it instead of making a new one.
        proc.busy_count += 1
        proc.clients += 1
        proc.state = "busy"

    def idle(self, proc: Process, max_idle: float, max_use: int, retired: bool = False) -> None:
        """The client is done; exit when used up or retired, else arm the idle timer."""
        proc.busy_count = max(0, proc.busy_count - 1)
        if proc.busy_count or proc.state == "exited":
            return
        proc.state = "idle"
        if retired or (max_use > 0 and proc.clients >= max_use):
            self.exit(proc, "retired" if retired else "max_use")
            return
        self.arm_idle(proc, max_idle)

    def arm_idle(self, proc: Process, max_idle: float) -> None:
        timer = proc._timer
        if timer is not None:
            # VirtualLoop.postpone(): the timer moved as cancel() + call_later() would place it
            if max_idle > 0 and self._postpone is not None and self._postpone(timer, max_idle):
                return
            timer.cancel()
            proc._timer = None
        if max_idle > 0:
            loop = self._loop or asyncio.get_event_loop()
            proc._timer = call_later(loop, max_idle, self._idle_expired, proc)

    @property
    def loop(self) -> Any:
        return self._loop

    @loop.setter
    def loop(self, loop: Any) -> None:
        # memo: busy() and arm_idle() ask for VirtualLoop.postpone per client
        self._loop = loop
        self._postpone = getattr(loop, "postpone", None) if loop is not None else None

    def _idle_expired(self, proc: Process) -> None:
        proc._timer = None
        if proc.state == "idle":
            self.exit(proc, "max_idle")

    def exit(self, proc: Process, why: str) -> None:
        if proc.state == "exited":
            return
        if proc._timer is not None:
            proc._timer.cancel()
            proc._timer = None
        proc.state = "exited"
        proc.exited = self.ctx.now()
        self.procs.remove(proc)
        same = self._by_service[proc.service]
        same.remove(proc)
        if not same:
            del self._by_service[proc.service]
        self.history.append(proc)
        self.ctx.trace.record(proc.command, "process", event="exit", pid=proc.pid, service=proc.service,
                              reason=why)
        if self.on_exit is not None:
            self.on_exit(proc)

    def ps(self, master_pid: int | None = None, master_started: float = 0.0,
           master_argv: str = "/usr/lib/postfix/sbin/master -w") -> str:
        """A ps(1)-like listing: USER, PID, STAT, START (virtual HH:MM:SS), COMMAND."""
        import time as _time
        rows = ["USER         PID STAT  STARTED COMMAND"]
        if master_pid is not None:
            started = _time.strftime("%H:%M:%S", _time.gmtime(int(master_started)))
            rows.append(f"{'root':<8} {master_pid:7d} Ss   {started:>8} {master_argv}")
        for p in sorted(self.procs, key=lambda p: p.pid):
            stat = "R" if p.busy_count else "S"
            started = _time.strftime("%H:%M:%S", _time.gmtime(int(p.started)))
            rows.append(f"{_ps_user(p.user):<8} {p.pid:7d} {stat:<4} {started:>8} {p.argv}")
        return "\n".join(rows) + "\n"


def _ps_user(name: str) -> str:
    """ps(1) shows a user name longer than 8 characters cut to 7 and a "+"."""
    return name if len(name) <= 8 else name[:7] + "+"
