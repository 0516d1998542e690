"""NAME
    master - Postfix's process manager

SUMMARY
    master = Master(ctx, VirtualBinder(host)); await master.start()
    master.processes(); print(master.ps())
    master.trigger("qmgr", "I"); await master.reload(); await master.stop()

DESCRIPTION
    master(8) reads master.cf, opens a listener for every inet service (a
    service that is commented out has none: clients get "connection
    refused"), starts the long-running daemons (qmgr, pickup) and wakes
    them every ``wakeup`` seconds, and starts every other daemon process on
    demand: when a client connects, or when another program needs the
    service (use_service); "flush" requests (smtpd's ETRN) go to flush(8).
    Processes are limited per service by the maxproc
    column (default_process_limit for "-", unlimited for 0), exit after
    max_idle idle seconds or max_use clients, and are traced as
    kind="process" events.

    ``reload`` re-reads main.cf and master.cf: listeners of removed
    services close, new ones open, unchanged ones keep their sockets (so
    no client is refused), running processes finish their client and then
    exit, the daemons restart under the new configuration, and queued mail
    stays where it is. It logs ``reload -- version 3.7.11, configuration
    /etc/postfix``; start logs ``daemon started -- ...``.

PARAMETERS
    inet_interfaces, inet_protocols, default_process_limit, max_idle,
    max_use, config_directory.

SEE ALSO
    master(8), master(5), postfix(1)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .assign import AssignMixin
from .pools import install_pools, remove_pools
from .process import CURRENT_PROCESS, Process, ProcessTable, call_later
from .services import daemon_class, inet_endpoints, listener_factory, make_daemon, service_kind

VERSION = "3.7.11"

@dataclass
class ServiceState:
    svc: Any
    kind: str
    handles: list[Any] = field(default_factory=list)
    endpoints: list[tuple[str, int]] = field(default_factory=list)
    factory: Any = None
    warned_limit: bool = False
    timer: Any = None
    key: str = field(init=False, default="")     # svc.key, a property that formats per call

    def __post_init__(self) -> None:
        self.key = self.svc.key


class Master(AssignMixin):
    """One running master(8) of one Postfix instance."""

    def __init__(self, ctx: Any, binder: Any, *, runs: Callable[[Any], bool] | None = None,
                 quiet: bool = False) -> None:
        self.ctx = ctx
        self.binder = binder
        # Which master.cf services this master runs (all by default): ``simlab serve``
        # runs qmgr and what it spawns under a second, quiet master in another process.
        self.runs = runs
        self.quiet = quiet
        self.pid = ctx.pids.next()
        self.started = ctx.now()
        self.table = ProcessTable(ctx)
        self.services: dict[str, ServiceState] = {}
        self.generation = 0
        self.running = False
        self._local: list[Any] = []
        self._flush: Any = None
        self.loop: Any = None
        self._found: dict[str, Any] = {}    # find()'s answers for the current service table
        self._idle_limits: tuple[Any, float, int] = (None, 0.0, 0)    # (Config, max_idle, max_use)

    # -- configuration -------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return Path(self.ctx.config.config_dir)

    def _read_master_cf(self) -> list[Any]:
        from ..config import read_master_cf

        def warn(text: str) -> None:
            self.log("warning: " + text)
        return read_master_cf(self.config_dir, warn=warn)

    def log(self, text: str) -> None:
        self.ctx.log.line("master", self.pid, text)

    def _banner(self, what: str) -> None:
        if self.quiet:
            return
        cdir = self.ctx.config["config_directory"] or "/etc/postfix"
        self.log(f"{what} -- version {VERSION}, configuration {cdir}")

    # -- start / stop / reload --------------------------------------------------------------
    async def start(self) -> None:
        from . import registry
        self.loop = asyncio.get_running_loop()
        self.table.loop = self.loop
        self.started = self.ctx.now()
        self.running = True
        registry.register(self)
        self.ctx.trace.record("master", "process", event="start", pid=self.pid, service="master",
                              command="/usr/lib/postfix/sbin/master -w")
        self._banner("daemon started")
        install_pools(self)
        await self._apply(self._read_master_cf())
        await self._open_local()
        from ..flush import FlushServer
        self._flush = FlushServer(self.ctx).start()   # ETRN and other "flush" requests
        await asyncio.sleep(0)      # let the daemons reach their first wait (and subscribe)

    async def stop(self) -> None:
        from . import registry
        if not self.running:
            return
        if not self.quiet:
            self.log("terminating on signal 15")
        self.running = False
        for state in self.services.values():
            self._close_service(state)
        for h in self._local:
            h.close()
        self._local = []
        if self._flush is not None:
            self._flush.stop()
            self._flush = None
        for proc in list(self.table.procs):
            await self._end_daemon(proc)
            self.table.exit(proc, "stop")
        self.services = {}
        self._found = {}
        remove_pools(self)
        registry.unregister(self)
        self.ctx.trace.record("master", "process", event="exit", pid=self.pid, service="master",
                              reason="stop")
        self.ctx.log.close()        # postlogd is gone too; a later line opens the file again

    async def reload(self) -> None:
        """postfix reload: new main.cf and master.cf, nothing queued or connected is lost."""
        from ..config import ConfigError
        self._banner("reload")
        try:
            self._reload_config()
            entries = self._read_master_cf()
        except ConfigError as e:
            self.log(f"fatal: {e}")     # master keeps running on the configuration it has
            return
        self.generation += 1
        for proc in list(self.table.procs):
            if proc.state == "idle" and proc.task is None:
                self.table.exit(proc, "retired")
        await self._apply(entries)
        await asyncio.sleep(0)

    def _reload_config(self) -> None:
        """Re-read main.cf with the same machine facts (ctx.reload also drops cached tables)."""
        from ..config import load_config
        old = self.ctx.config
        self.ctx.reload()
        self.ctx.config = load_config(old.config_dir, facts=old.facts,
                                      display_dir=old["config_directory"] or None)

    async def _apply(self, entries: list[Any]) -> None:
        self._found = {}
        wanted: dict[str, Any] = {svc.key: svc for svc in entries if self.runs is None or self.runs(svc)}
        for key in list(self.services):
            if key not in wanted:
                state = self.services.pop(key)
                self._close_service(state)
                for proc in self.table.live(state.svc.name):
                    if proc.type == state.svc.type:
                        await self._end_daemon(proc)
                        if proc.busy_count == 0:
                            self.table.exit(proc, "removed")
        for key, svc in wanted.items():
            old = self.services.get(key)
            state = ServiceState(svc, service_kind(svc))
            if old is not None:
                if state.kind == "listener" and old.kind == "listener":
                    state.handles, state.endpoints = old.handles, old.endpoints
                elif old.kind == "listener":
                    self._close_service(old)
                if old.timer is not None:
                    old.timer.cancel()
            self.services[key] = state
            self._found = {}
            await self._setup(state, old)

    async def _setup(self, state: ServiceState, old: ServiceState | None) -> None:
        svc = state.svc
        if state.kind == "listener":
            try:
                state.factory = listener_factory(self.ctx, svc)
                endpoints = inet_endpoints(self.ctx, svc, self._host_ip())
            except (ImportError, ValueError) as e:
                self.log(f"warning: service {svc.name}/{svc.type}: {e}")
                self._close_service(state)
                return
            if endpoints != state.endpoints:
                self._close_service(state)
                for addr, port in endpoints:
                    try:
                        h = await self.binder.listen(addr, port, self._wrap(svc.key), svc.command)
                    except OSError as e:
                        self.log(f"fatal: bind {addr} port {port}: {e.strerror or e}")
                        continue
                    state.handles.append(h)
                state.endpoints = endpoints
        elif state.kind == "daemon":
            for proc in self.table.live(svc.name):
                if proc.task is not None and proc.generation < self.generation:
                    await self._end_daemon(proc)
                    self.table.exit(proc, "reload")
            self._ensure_daemon(state)
        if svc.wakeup > 0 and not svc.wakeup_if_used and svc.type != "inet":
            self._arm_wakeup(state)

    def _close_service(self, state: ServiceState) -> None:
        for h in state.handles:
            h.close()
        state.handles = []
        state.endpoints = []
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None

    def _host_ip(self) -> str | None:
        host = getattr(self.binder, "host", None)
        return getattr(host, "ip", None)

    async def _open_local(self) -> None:
        """Public trigger endpoints for separate command processes (real sockets only)."""
        top = self.ctx.path(self.ctx.config["queue_directory"] or "/var/spool/postfix")
        for state in self.services.values():
            svc = state.svc
            if svc.type in ("unix", "fifo") and not svc.private and svc.name in ("pickup", "qmgr", "flush"):
                h = await self.binder.listen_local(top / "public" / svc.name,
                                                   lambda data, n=svc.name: self._remote_trigger(n, data))
                if h is not None:
                    self._local.append(h)

    def _remote_trigger(self, name: str, data: bytes) -> None:
        self.trigger(name, data.decode("ascii", "replace") or "W")

    # -- daemons ------------------------------------------------------------------------------
    def _ensure_daemon(self, state: ServiceState) -> Process | None:
        svc = state.svc
        live = [p for p in self.table.live(svc.name) if p.task is not None and not p.task.done()]
        if live or not self.running:
            return live[0] if live else None
        try:
            cls = daemon_class(svc)
        except ImportError as e:
            self.ctx.trace.record(svc.command, "process", event="unavailable", service=svc.name, error=str(e))
            return None
        proc = self.table.start(svc, self.generation)
        token = CURRENT_PROCESS.set(proc)
        try:
            proc.daemon = make_daemon(self.ctx, svc, cls)
            proc.task = self.loop.create_task(self._run_daemon(proc))
        finally:
            CURRENT_PROCESS.reset(token)
        return proc

    async def _run_daemon(self, proc: Process) -> None:
        try:
            await proc.daemon.run()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a crashing daemon is logged the way master reports it
            self.ctx.trace.record(proc.command, "process", event="crash", pid=proc.pid, error=repr(e))
            self.log(f"warning: process /usr/lib/postfix/sbin/{proc.command} pid {proc.pid} exit status 1")
        finally:
            if proc.state != "exited":
                self.table.exit(proc, "done")

    async def _end_daemon(self, proc: Process) -> None:
        task, daemon = proc.task, proc.daemon
        if task is None or task.done():
            return
        stop = getattr(daemon, "stop", None)
        if stop is not None:
            result = stop()
            if asyncio.iscoroutine(result):
                await result
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass  # _run_daemon already logged any crash; cancelling is how a daemon is stopped

    def _arm_wakeup(self, state: ServiceState) -> None:
        def fire() -> None:
            state.timer = None
            if self.running and self.services.get(state.svc.key) is state:
                self.trigger(state.svc.name, "W")
                self._arm_wakeup(state)
        state.timer = call_later(self.loop, state.svc.wakeup, fire)

    # -- the public interface --------------------------------------------------------------------
    def find(self, name: str) -> ServiceState | None:
        """A service by master.cf name (unix-side first) or, failing that, by command."""
        found = self._found.get(name, self)
        if found is self or (found is not None and self.services.get(found.key) is not found):
            found = self._found[name] = self._find(name)
        return found    # type: ignore[return-value]

    def _find(self, name: str) -> ServiceState | None:
        by_name = [s for s in self.services.values() if s.svc.name == name]
        by_name.sort(key=lambda s: s.svc.type == "inet")
        if by_name:
            return by_name[0]
        by_cmd = [s for s in self.services.values() if s.svc.command == name and s.svc.type != "inet"]
        return by_cmd[0] if by_cmd else None

    def trigger(self, name: str, request: str = "W") -> bool:
        """Wake a service (Postfix's fifo/unix trigger); False when master.cf has no such service."""
        state = self.find(name)
        if state is None or not self.running:
            return False
        if state.kind == "daemon":
            self._ensure_daemon(state)
        self.ctx.trace.record(state.svc.command, "trigger", service=state.svc.name, request=request)
        self.ctx.events.wakeup(state.svc.name, request)
        return True

    def acquire(self, name: str) -> Process | None:
        """A process of service ``name`` for one client (started if needed), marked busy."""
        state = self.find(name)
        if state is None or not self.running:
            return None
        return self._assign(state)

    def release(self, proc: Process) -> None:
        cfg = self.ctx.config
        known = self._idle_limits
        if known[0] is not cfg:     # memo: a release per client; the limits change with main.cf
            known = self._idle_limits = (cfg, float(cfg.get_time("max_idle")), cfg.get_int("max_use"))
        self.table.idle(proc, known[1], known[2], retired=proc.generation < self.generation)

    def processes(self) -> list[Process]:
        """The live daemon processes (master itself not included)."""
        return list(self.table.procs)

    def ps(self) -> str:
        return self.table.ps(self.pid, self.started)
