"""NAME
    system - one Postfix instance: its context, its master, its commands

SUMMARY
    pf = PostfixSystem.for_host(host)          # a simulated host (virtual time)
    net.run_sync(pf.start())
    pf.command("mailq"); pf.command("postsuper", "-d", "ALL"); pf.ps()
    pf = PostfixSystem.for_root("/srv/mailhost", remap={25: ("127.0.0.1", 2525)})   # simlab serve
    await pf.start(); ...; await pf.stop()

DESCRIPTION
    The glue between the programs: builds the PostfixContext for a simulated
    Host (virtual clock on the network's loop, the network's trace, the
    host's connections and DNS, no fsync) or for a root folder on disk (wall
    clock, real sockets, fsync before a 250 reply), and starts master(8) on
    the matching binder. ``start`` logs like ``postfix start``
    (``postfix-script: starting the Postfix mail system``); under serve it
    also writes var/spool/postfix/pid/master.pid so that separate
    ``simlab postfix/postqueue --root`` commands find the running instance.

    ``command(name, *args, stdin=...)`` runs an administration command
    (postqueue, mailq, postsuper, postcat, sendmail, postfix, ...) against
    the live instance, as a student would in a shell on that host, and
    returns its exit status, stdout and stderr.

SEE ALSO
    master(8), postfix(1)
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common.context import LAB_EPOCH, HostTrace, PostfixContext, RealClock, VirtualClock
from .common.netaccess import RealNetAccess, VirtualNetAccess
from .master import Master, RealBinder, VirtualBinder
from .master.registry import register_system

COMMANDS = ("postqueue", "mailq", "postsuper", "postcat", "sendmail", "postfix", "postconf",
            "postmap", "postalias", "newaliases")


@dataclass(frozen=True)
class CommandResult:
    rc: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return self.stdout + self.stderr


def _load(root: Path, hostname: str, interfaces: tuple[str, ...] | None) -> Any:
    from .config import HostFacts, load_config
    facts = HostFacts(hostname=hostname, interfaces=interfaces) if interfaces else HostFacts(hostname=hostname)
    return load_config(root / "etc" / "postfix", facts=facts, display_dir="/etc/postfix")


class PostfixSystem:
    """A Postfix instance: context + master + administration commands."""

    def __init__(self, ctx: PostfixContext, binder: Any) -> None:
        self.ctx = ctx
        self.binder = binder
        self.master: Master | None = None
        register_system(ctx, self)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def for_host(cls, host: Any, *, epoch0: float = LAB_EPOCH, seed: int | None = None) -> "PostfixSystem":
        """The instance of a simulated host (its root is laid out first if empty)."""
        from ..sim.rootfs import init_root
        root = Path(host.root)
        if not (root / "etc" / "postfix" / "main.cf").exists():
            init_root(root, host.name)
        net = host.net
        interfaces = ("127.0.0.1/8", f"{host.ip}/24", "::1/128")
        config = _load(root, host.name, interfaces)
        ctx = PostfixContext(root=root, hostname=host.name, config=config,
                             clock=VirtualClock(net.loop, epoch0),
                             trace=HostTrace(net.trace, host.name, net.loop.time),
                             net=VirtualNetAccess(host),
                             rng=random.Random(f"{net.seed if seed is None else seed}/{host.name}"),
                             fsync=False, facts=config.facts)
        system = cls(ctx, VirtualBinder(host))
        host.services["postfix"] = system
        return system

    @classmethod
    def for_root(cls, root: str | Path, *, hostname: str | None = None, wildcard: str = "127.0.0.1",
                 remap: dict[int, tuple[str, int]] | None = None, trace: Any = None,
                 fsync: bool = True) -> "PostfixSystem":
        """The instance of a host root on disk, on real sockets (``simlab serve``)."""
        from .commands.cmdutil import root_hostname
        rootp = Path(root)
        name = hostname or root_hostname(rootp)
        config = _load(rootp, name, None)
        ctx = PostfixContext(root=rootp, hostname=name, config=config, clock=RealClock(),
                             net=RealNetAccess(rootp), fsync=fsync, rng=random.Random(), facts=config.facts)
        if trace is not None:
            ctx.trace = trace
        return cls(ctx, RealBinder(wildcard=wildcard, remap=remap))

    # -- life cycle ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.master is not None and self.master.running

    async def start(self, *, runs: Any = None, quiet: bool = False) -> None:
        """``postfix start``.

        ``runs`` (a predicate on master.cf entries) and ``quiet`` are for a
        second master that runs part of the services in another process
        (``simlab serve``): it logs no start line and writes no pid file.
        """
        if self.running:
            return
        if not quiet:
            self.ctx.log.line("postfix-script", self.ctx.pids.next(), "starting the Postfix mail system")
        self.master = Master(self.ctx, self.binder, runs=runs, quiet=quiet)
        await self.master.start()
        if self.binder.real and not quiet:
            self._pid_file().parent.mkdir(parents=True, exist_ok=True)
            self._pid_file().write_text("%10d\n" % os.getpid())

    async def stop(self) -> None:
        """``postfix stop``."""
        if not self.running:
            return
        assert self.master is not None
        quiet = self.master.quiet
        if not quiet:
            self.ctx.log.line("postfix-script", self.ctx.pids.next(), "stopping the Postfix mail system")
        await self.master.stop()
        if self.binder.real and not quiet:
            try:
                self._pid_file().unlink()
            except OSError:
                pass

    async def reload(self, announce: bool = True) -> None:
        """``postfix reload`` (``announce=False`` for a SIGHUP whose sender already logged)."""
        if self.master is not None and self.running:
            if announce:
                self.ctx.log.line("postfix-script", self.ctx.pids.next(), "refreshing the Postfix mail system")
            await self.master.reload()

    def _pid_file(self) -> Path:
        return self.ctx.path(self.ctx.config["queue_directory"] or "/var/spool/postfix") / "pid" / "master.pid"

    # -- looking at it ------------------------------------------------------------------
    @property
    def store(self) -> Any:
        from .common.queue import QueueStore
        return QueueStore(self.ctx)

    def processes(self) -> list[Any]:
        return self.master.processes() if self.master is not None else []

    def ps(self) -> str:
        return self.master.ps() if self.master is not None else ""

    def command(self, name: str, *args: str, stdin: str | bytes = b"") -> CommandResult:
        """Run an administration command on this instance, as in a shell on the host."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command: {name}")
        module = importlib.import_module(f"simlab.postfix.commands.{name}")
        data = stdin.encode("utf-8", "surrogateescape") if isinstance(stdin, str) else stdin
        out, err = io.StringIO(), io.StringIO()
        inp = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="surrogateescape")
        if "ctx" in inspect.signature(module.main).parameters:
            rc = module.main(list(args), ctx=self.ctx, stdin=inp, stdout=out, stderr=err)
        else:
            cfg_args = ["--root", str(self.ctx.root)]
            rc = _call_plain(module, cfg_args + list(args), inp, out, err)
        return CommandResult(int(rc or 0), out.getvalue(), err.getvalue())


def _call_plain(module: Any, argv: list[str], inp: Any, out: Any, err: Any) -> int:
    """Commands without keyword streams: swap sys.std* for the call."""
    import sys
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = inp, out, err
    try:
        return int(module.main(argv) or 0)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved

