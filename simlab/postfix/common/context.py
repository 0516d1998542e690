"""NAME
    context - one running Postfix instance: its root, configuration, clock and log

SUMMARY
    ctx = PostfixContext.create(root, hostname="mail.example.com",
                                clock=VirtualClock(loop, EPOCH0), trace=HostTrace(...),
                                net=VirtualNetAccess(host))
    ctx.config["myhostname"]; ctx.path("/etc/aliases"); ctx.map("hash:/etc/aliases")
    ctx.log.info("smtpd", pid, "connect from ...")

DESCRIPTION
    Every simlab Postfix program receives the context of the instance it
    belongs to and touches the outside world only through it: time (``clock``:
    virtual on the simulated network, the wall clock under ``simlab serve``),
    files (``path`` maps a Unix path into the host root), lookup tables
    (``map``/``maps``, cached until the table file changes), the accounts of
    ``/etc/passwd``, the network (``net``), the trace and the maillog. Nothing
    here blocks, sleeps on the wall clock or starts a thread, so the same code
    runs on the virtual loop and on a real one.

    ``events`` is how one daemon wakes another without sharing state
    (cleanup and pickup wake qmgr, as Postfix does with a trigger on the
    qmgr fifo); ``pids`` hands out process ids in order, so a run is
    reproducible.

PARAMETERS
    config_directory (where ``reload`` reads main.cf), myhostname (the
    maillog host label).

SEE ALSO
    master(8), postconf(5)
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from ...sim.rootfs import PasswdEntry, read_passwd
from .tables import open_table

if TYPE_CHECKING:
    from ...sim.loop import VirtualLoop
    from ...sim.trace import Trace
    from .maillog import MailLog

# 2026-11-24 13:36:50 UTC, the morning the reference battery was captured.
LAB_EPOCH = 1795527410.0


# -- time -------------------------------------------------------------------------
@runtime_checkable
class Clock(Protocol):
    def now(self) -> float: ...

    async def sleep(self, s: float) -> None: ...


class VirtualClock:
    """Epoch seconds = ``epoch0`` + the virtual loop's time."""

    def __init__(self, loop: "VirtualLoop | asyncio.AbstractEventLoop", epoch0: float = LAB_EPOCH) -> None:
        self.loop = loop
        self.epoch0 = float(epoch0)
        self._start = (time.time(), self.now())

    def now(self) -> float:
        return self.epoch0 + self.loop.time()

    def file_time(self, mtime: float) -> float:
        """A host file's wall-clock mtime (set-up, student, commands) counted from this clock's start."""
        wall0, virtual0 = self._start
        return virtual0 + (mtime - wall0)

    async def sleep(self, s: float) -> None:
        await asyncio.sleep(max(0.0, s))


class RealClock:
    """The wall clock, for ``simlab serve``."""

    def now(self) -> float:
        return time.time()

    def file_time(self, mtime: float) -> float:
        return mtime

    async def sleep(self, s: float) -> None:
        await asyncio.sleep(max(0.0, s))


# -- trace ------------------------------------------------------------------------
class TraceSink(Protocol):
    def record(self, component: str, kind: str, **details: Any) -> Any: ...


class HostTrace:
    """Records into a ``Trace`` with this host's name and the loop's time."""

    def __init__(self, trace: "Trace", host: str, time_fn: Callable[[], float]) -> None:
        self.trace = trace
        self.host = host
        self.time_fn = time_fn
        # Trace.add takes the details dict as is: no second packing of the keywords per event.
        # record() is then a closure in the instance: ~20 events per SMTP transaction find
        # the trace, host and clock in its cells instead of three attribute loads and a test.
        add = getattr(trace, "add", None)
        if add is not None:
            def record(component: str, kind: str, **details: Any) -> Any:
                return add(time_fn(), host, component, kind, details)
            self.record = record  # type: ignore[method-assign]

    def record(self, component: str, kind: str, **details: Any) -> Any:
        return self.trace.record(self.time_fn(), self.host, component, kind, **details)


class NullTrace:
    """A trace that keeps nothing (commands run outside a simulation)."""

    def record(self, component: str, kind: str, **details: Any) -> None:
        return None


# -- processes and wake-ups ---------------------------------------------------------
class PidAllocator:
    """Process ids handed out in order, so that every run logs the same ones."""

    def __init__(self, start: int = 30200) -> None:
        self._next = start

    def next(self) -> int:
        pid = self._next
        self._next += 1
        return pid


class PidPool:
    """The processes of one service: an idle one is reused, else a new one starts.

    Postfix daemons serve many clients in turn, so the log shows the same
    smtpd[30259] for one connection after another, and a new pid only when
    connections overlap.
    """

    def __init__(self, pids: PidAllocator) -> None:
        self.pids = pids
        self.idle: list[int] = []

    def take(self) -> int:
        if self.idle:
            self.idle.sort()
            return self.idle.pop(0)
        return self.pids.next()

    def give(self, pid: int) -> None:
        if pid and pid not in self.idle:
            self.idle.append(pid)


class EventBus:
    """Named wake-up channels between daemons (Postfix's fifo/unix triggers)."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[..., Any]]] = {}

    def subscribe(self, name: str, callback: Callable[..., Any]) -> Callable[[], None]:
        self._subs.setdefault(name, []).append(callback)

        def unsubscribe() -> None:
            subs = self._subs.get(name, [])
            if callback in subs:
                subs.remove(callback)
        return unsubscribe

    def wakeup(self, name: str, *args: Any) -> int:
        """Call every subscriber of ``name``; returns how many there were."""
        subs = list(self._subs.get(name, []))
        for cb in subs:
            cb(*args)
        return len(subs)


def _stat_stamp(path: str) -> tuple[int, int] | None:
    """_stamp() of a path given as a string."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


# What _map_stamp() watches per table type (the files that type's reader opens).
_INDEXED = ("", ".db")
_TEXT = ("",)
_TABLE_FILES = {"hash": _INDEXED, "btree": _INDEXED, "texthash": _TEXT, "regexp": _TEXT,
                "pcre": _TEXT, "cidr": _TEXT}


# -- the context ------------------------------------------------------------------------
@dataclass(eq=False)
class PostfixContext:
    """One running Postfix instance (= one host)."""

    root: Path
    hostname: str
    config: Any  # simlab.postfix.config.Config
    clock: Clock
    trace: TraceSink = field(default_factory=NullTrace)
    net: Any = None  # NetAccess
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    fsync: bool = False
    pids: PidAllocator = field(default_factory=PidAllocator)
    events: EventBus = field(default_factory=EventBus)
    facts: Any = None  # simlab.postfix.config.HostFacts: name and interfaces of the machine
    shared: dict[str, Any] = field(default_factory=dict)  # per-program state, e.g. cleanup's pid pool
    log: "MailLog" = field(init=False)
    _maps: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _passwd: tuple[Any, dict[str, PasswdEntry]] | None = field(default=None, init=False, repr=False)
    _paths: dict[str, tuple[Path, Path]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from .maillog import MailLog
        self.root = Path(self.root)
        self.log = MailLog(self)

    @classmethod
    def create(cls, root: str | Path, *, hostname: str, config: Any = None, clock: Clock | None = None,
               trace: TraceSink | None = None, net: Any = None, seed: int = 0, fsync: bool = False,
               interfaces: tuple[str, ...] | None = None) -> "PostfixContext":
        """A context for ``root``; main.cf is read from ROOT/etc/postfix when ``config`` is None.

        ``interfaces`` ("127.0.0.1/8", "10.0.0.25/24", ...) are the machine's
        addresses, from which Postfix computes mynetworks and inet_interfaces.
        """
        root = Path(root)
        facts = _facts(hostname, interfaces)
        if config is None:
            config = _load(root, facts)
        return cls(root=root, hostname=hostname, config=config, clock=clock or RealClock(),
                   trace=trace or NullTrace(), net=net, rng=random.Random(seed), fsync=fsync,
                   facts=facts)

    # -- files ------------------------------------------------------------------------
    def path(self, unix_path: str) -> Path:
        """The real file behind a Unix path of this host."""
        key = unix_path if type(unix_path) is str else str(unix_path)
        hit = self._paths.get(key)
        if hit is not None and hit[0] is self.root:
            return hit[1]
        p = self.root / key.lstrip("/")
        if len(self._paths) > 512:
            self._paths.clear()
        self._paths[key] = (self.root, p)
        return p

    def now(self) -> float:
        return self.clock.now()

    def file_time(self, mtime: float) -> float:
        """A file's modification time on this instance's clock (see VirtualClock.file_time)."""
        convert = getattr(self.clock, "file_time", None)
        return convert(mtime) if convert is not None else mtime

    async def sleep(self, s: float) -> None:
        await self.clock.sleep(s)

    def reload(self) -> None:
        """Re-read main.cf (``postfix reload``); open tables are re-opened on next use."""
        self.config = _load(self.root, self.facts or _facts(self.hostname, None))
        self._maps.clear()

    # -- tables -----------------------------------------------------------------------
    def map(self, spec: str, proc: tuple[str, int] | None = None) -> Any:
        """``open_map(spec, root=self.root)``, cached until the table's file changes.

        Without ``proc`` a table that cannot be opened raises MapError. A daemon passes
        its (program, pid): then such a table is a stand-in whose lookups fail, and the
        process logs the table's problems once (tables.py).
        """
        return open_table(self, spec, proc)

    def maps(self, param: str, proc: tuple[str, int] | None = None) -> list[Any]:
        """Open every table listed in parameter ``param`` (empty list when unset)."""
        return [self.map(spec, proc) for spec in self.config.get_list(param)]

    def _map_stamp(self, spec: str) -> Any:
        """The (mtime_ns, size) of the files a table is read from; None when it has no file name.

        A hash:/btree: table is FILE and FILE.db, a text table (texthash, regexp, pcre,
        cidr) FILE alone: the index files of other types could not change what they read.
        Other types (unsupported ones included) get every candidate.
        """
        kind, _, rest = spec.partition(":")
        if not rest.startswith("/"):
            return None
        base = str(self.path(rest))
        files = _TABLE_FILES.get(kind)
        if files is _INDEXED:
            return (_stat_stamp(base), _stat_stamp(base + ".db"))
        if files is _TEXT:
            return (_stat_stamp(base),)
        return (_stat_stamp(base), _stat_stamp(base + ".db"), _stat_stamp(base + ".cdb"),
                _stat_stamp(base + ".lmdb"))

    # -- accounts ---------------------------------------------------------------------
    def pid_pool(self, program: str) -> PidPool:
        """The shared process pool of a program (cleanup, local, ...)."""
        pool = self.shared.get("pids:" + program)
        if pool is None:
            pool = self.shared["pids:" + program] = PidPool(self.pids)
        return pool

    def passwd(self) -> dict[str, PasswdEntry]:
        """The accounts of the root's /etc/passwd (re-read when the file changes)."""
        p = self.path("/etc/passwd")
        stamp = _stat_stamp(str(p))
        if self._passwd is None or self._passwd[0] != stamp:
            self._passwd = (stamp, read_passwd(p))
        return self._passwd[1]


def _facts(hostname: str, interfaces: tuple[str, ...] | None) -> Any:
    from ..config.hostfacts import HostFacts
    if interfaces is None:
        return HostFacts(hostname=hostname)
    return HostFacts(hostname=hostname, interfaces=tuple(interfaces))


def _load(root: Path, facts: Any) -> Any:
    from ..config import load_config
    return load_config(root / "etc" / "postfix", facts=facts)
