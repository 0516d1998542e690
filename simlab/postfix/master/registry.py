"""NAME
    registry - find the running master of an instance, wake its services

SUMMARY
    with use_service(ctx, "cleanup") as proc: ctx.log.line("cleanup", proc.pid, ...)
    trigger(ctx, "qmgr", "I")      # False when the mail system is down
    is_running(ctx)                # a master in this process, or a live ``simlab serve``

DESCRIPTION
    Programs that call each other in-process (smtpd -> cleanup, qmgr ->
    local/smtp/bounce) take a process of the called service for the time
    of the request with ``use_service``; the master starts one when none is
    idle, and the process id is what the program logs under. Without a
    running master (unit tests, a command on a stopped system) a stand-in
    process is used, one per service name, so logs still carry stable pids.

    Commands run as separate programs (``simlab postqueue --root R -f``)
    reach a ``simlab serve`` of the same root through its public trigger
    sockets (``var/spool/postfix/public/qmgr``) and learn that it runs from
    ``var/spool/postfix/pid/master.pid``.

SEE ALSO
    master(8), postqueue(1), postdrop(1)
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Any

from .binder import send_trigger
from .process import Process

_masters: list["weakref.ref[Any]"] = []
_systems: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()
_standalone: "weakref.WeakKeyDictionary[Any, dict[str, Process]]" = weakref.WeakKeyDictionary()


def _root_key(root: Any) -> str:
    try:
        return str(Path(root).resolve())
    except OSError:
        return str(root)


def _live_masters() -> list[Any]:
    """The registered masters still in use by someone (their PostfixSystem, a test)."""
    alive = [m for m in (ref() for ref in _masters) if m is not None]
    if len(alive) != len(_masters):
        _masters[:] = [weakref.ref(m) for m in alive]
    return alive


def register(master: Any) -> None:
    # Weak references: a simulation that is dropped (a notebook cell run again)
    # must not stay in memory because its master never stopped.
    if master not in _live_masters():
        _masters.append(weakref.ref(master))


def unregister(master: Any) -> None:
    _masters[:] = [ref for ref in _masters if ref() is not None and ref() is not master]


def register_system(ctx: Any, system: Any) -> None:
    """Remember the PostfixSystem of a context (so ``postfix start`` can start it again)."""
    _systems[ctx] = weakref.ref(system)     # the system refers to ctx: a strong value would keep both


def system_for(ctx: Any) -> Any:
    ref = _systems.get(ctx)
    return ref() if ref is not None else None


def find_master(ctx: Any = None, root: Any = None) -> Any:
    """The running Master of ``ctx`` (or of the same root folder), if any in this process."""
    if ctx is not None:
        for ref in _masters:        # the usual case, per request: no list, no pruning
            m = ref()
            if m is not None and m.ctx is ctx:
                return m
    masters = _live_masters()
    for m in masters:
        if ctx is not None and m.ctx is ctx:
            return m
    key = _root_key(root) if root is not None else (_root_key(ctx.root) if ctx is not None else None)
    if key is None:
        return None
    for m in masters:
        if _root_key(m.ctx.root) == key:
            return m
    return None


def _queue_top(ctx: Any) -> Path:
    return ctx.path(ctx.config["queue_directory"] or "/var/spool/postfix")


def master_pid(ctx: Any) -> int | None:
    """The pid in pid/master.pid when that process is alive (a ``simlab serve`` elsewhere)."""
    p = _queue_top(ctx) / "pid" / "master.pid"
    try:
        pid = int(p.read_text().strip())
    except (OSError, ValueError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except (OSError, AttributeError):
        return None
    return pid


def is_running(ctx: Any, root: Any = None) -> bool:
    return find_master(ctx, root) is not None or master_pid(ctx) is not None


def trigger(ctx: Any, service: str, request: str = "W", root: Any = None) -> bool:
    """Wake ``service`` of the instance; False when the mail system is down."""
    m = find_master(ctx, root)
    if m is not None:
        return bool(m.trigger(service, request))
    if master_pid(ctx) is None:
        return False
    return send_trigger(_queue_top(ctx) / "public" / service, request.encode("ascii"))


def _stand_in(ctx: Any, service: str) -> Process:
    table = _standalone.setdefault(ctx, {})
    proc = table.get(service)
    if proc is None:
        proc = Process(ctx.pids.next(), service, "unix", service, service, ctx.now())
        table[service] = proc
    return proc


def use_service(ctx: Any, service: str) -> "_Using":
    """A process of ``service`` for the duration of one request (``with use_service(...) as proc``)."""
    return _Using(ctx, service)


class _Using:
    """use_service()'s context manager (a class: @contextmanager costs a generator per request)."""

    __slots__ = ("ctx", "service", "master", "proc")

    def __init__(self, ctx: Any, service: str) -> None:
        self.ctx = ctx
        self.service = service
        self.master: Any = None
        self.proc: Process | None = None

    def __enter__(self) -> Process:
        m = self.master = find_master(self.ctx)
        proc = self.proc = m.acquire(self.service) if m is not None else None
        return proc if proc is not None else _stand_in(self.ctx, self.service)

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            self.master.release(self.proc)


def acquire(ctx: Any, service: str) -> Process:
    """Like use_service, for requests that do not fit a ``with`` block; pair with release()."""
    m = find_master(ctx)
    proc = m.acquire(service) if m is not None else None
    return proc if proc is not None else _stand_in(ctx, service)


def release(ctx: Any, proc: Process) -> None:
    m = find_master(ctx)
    if m is not None and m.table.has(proc):
        m.release(proc)
