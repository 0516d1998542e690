"""NAME
    simlab serve - run a host's MTA, POP3 and IMAP on real loopback sockets

SUMMARY
    simlab serve --root ROOT [--smtp ADDR:PORT] [--submission ADDR:PORT]
                 [--pop3 ADDR:PORT] [--imap ADDR:PORT] [--port-offset N] [--one-process] [-v]

DESCRIPTION
    Starts the same Postfix-like MTA that runs on the virtual network, on
    real sockets: master(8) listens on every ``inet`` service of
    ROOT/etc/postfix/master.cf at the address the service names. The plain
    ``smtp`` service (port 25) moves to --smtp (default 127.0.0.1:2525) and
    ``submission`` (587) to --submission (default 127.0.0.1:2587), so no
    privileges are needed. --port-offset N moves every other inet listener
    from its master.cf port P to P+N (the reference lab's 127.0.0.1:2525,
    2527, 2523 and 2522 smtpd listeners, when those ports are taken).
    POP3 and IMAP serve the host's mailboxes with
    the accounts of ROOT/etc/dovecot/users.

    When everything listens, one line ``simlab serve: ready ...`` goes to
    stderr (scripts and tests wait for it). The maillog goes to the file
    named by ``maillog_file`` under ROOT and, with -v, to stderr.
    SIGINT or SIGTERM stops it cleanly; the queue stays on disk for the
    next start; SIGHUP (``simlab postfix --root ROOT reload``) re-reads
    main.cf and master.cf. Delivery never leaves this machine: the
    smtp/lmtp clients may connect to loopback addresses only.

    As Postfix runs each program as its own process, qmgr and the delivery
    agents run in a second process that this one starts, wakes and stops
    (serve_split); --one-process keeps them in this one.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import signal
import sys
from pathlib import Path
from typing import Any

DEFAULTS = {"smtp": "127.0.0.1:2525", "submission": "127.0.0.1:2587",
            "pop3": "127.0.0.1:2110", "imap": "127.0.0.1:2143"}


def parse_addr(text: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``[::1]:PORT`` or ``PORT`` (loopback)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        return host, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not ADDR:PORT: {text!r}") from None


class StderrLog:
    """A trace sink that echoes maillog lines to stderr (``-v``)."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose

    def record(self, component: str, kind: str, **details: Any) -> None:
        if self.verbose and kind == "log":
            sys.stderr.write(details.get("line", "") + "\n")
            sys.stderr.flush()


async def serve(root: Path, addrs: dict[str, tuple[str, int]], verbose: bool,
                ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                port_offset: int = 0, freeze_gc: bool = False, split: bool = False) -> int:
    """Run until ``stop`` is set (or a signal arrives); returns the exit status.

    ``freeze_gc`` (the command, not tests that serve in a thread): once every
    daemon is up, its long-lived objects leave the collector's generations,
    so full collections during the sessions do not walk them again.
    ``split``: qmgr and the delivery agents run in a second process (serve_split).
    SIGHUP is ``postfix reload`` (what ``simlab postfix reload`` sends).
    """
    from ..postfix.system import PostfixSystem
    from ..store.servers import start_store_servers
    from .serve_split import DeliveryProcess, front_runs

    remap = {25: addrs["smtp"], 587: addrs["submission"]}
    pf = PostfixSystem.for_root(root, remap=remap, trace=StderrLog(verbose))
    pf.binder.offset = port_offset
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    second: DeliveryProcess | None = None

    def reload() -> None:
        loop.create_task(pf.reload(announce=False))
        if second is not None:
            second.reload()
    for sig, action in ((signal.SIGINT, stop.set), (signal.SIGTERM, stop.set), (signal.SIGHUP, reload)):
        try:
            loop.add_signal_handler(sig, action)
        except (NotImplementedError, RuntimeError):
            pass  # not the main thread (a test runs us in a thread): the caller sets ``stop``
    try:
        await pf.start(runs=front_runs if split else None)
    except OSError as e:
        sys.stderr.write(f"simlab serve: fatal: cannot listen: {e.strerror or e}\n")
        return 1
    if split:
        assert pf.master is not None
        try:
            second = await DeliveryProcess.start(root, verbose, pf.master.log)
        except (OSError, RuntimeError) as e:
            sys.stderr.write(f"simlab serve: fatal: {e}\n")
            await pf.stop()
            return 1
        second.forward(pf.ctx)
    store = await start_store_servers(root, pf.ctx, pop3=addrs["pop3"], imap=addrs["imap"])
    bound = ", ".join(f"{h}:{p}" for h, p in pf.binder.bound + store.bound)
    if freeze_gc:
        gc.collect()
        gc.freeze()
    sys.stderr.write(f"simlab serve: ready: {pf.ctx.hostname} listening on {bound}\n")
    sys.stderr.flush()
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        store.close()
        if second is not None:
            await second.stop()
        await pf.stop()
    sys.stderr.write("simlab serve: stopped\n")
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="simlab serve", description=__doc__.split("DESCRIPTION")[0].split("\n")[1])
    p.add_argument("--root", required=True, help="the host root (simlab init ROOT makes one)")
    for name, default in DEFAULTS.items():
        p.add_argument(f"--{name}", type=parse_addr, default=parse_addr(default), metavar="ADDR:PORT",
                       help=f"where the {name} service listens (default {default})")
    p.add_argument("--port-offset", type=int, default=0, metavar="N",
                   help="move every other inet listener of master.cf from port P to P+N")
    p.add_argument("-v", "--verbose", action="store_true", help="also write the maillog to stderr")
    p.add_argument("--one-process", action="store_true",
                   help="run qmgr and the delivery agents in this process too (default: a second process)")
    p.add_argument("--delivery-process", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    root = Path(a.root)
    if not (root / "etc/postfix/main.cf").exists():
        sys.stderr.write(f"simlab serve: fatal: {root}/etc/postfix/main.cf not found: "
                         f"create the host first with: simlab init {root}\n")
        return 1
    addrs = {name: getattr(a, name) for name in DEFAULTS}
    from ..sim.loop import _GC_GEN0
    # As on the virtual loop: sessions allocate quickly, and collecting the youngest
    # generation every 700 allocations costs more than it frees.
    threshold = gc.get_threshold()
    if threshold[0] and threshold[0] < _GC_GEN0:
        gc.set_threshold(_GC_GEN0, *threshold[1:])
    try:
        if a.delivery_process:
            from .serve_split import run_delivery_process
            return asyncio.run(run_delivery_process(root, a.verbose, StderrLog(a.verbose)))
        return asyncio.run(serve(root, addrs, a.verbose, port_offset=a.port_offset, freeze_gc=True,
                                 split=not a.one_process))
    finally:
        if gc.get_threshold()[0] == _GC_GEN0 and threshold[0] < _GC_GEN0:
            gc.set_threshold(*threshold)
