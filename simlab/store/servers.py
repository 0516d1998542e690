"""NAME
    servers - start a host's POP3 and IMAP services (Dovecot-like)

SUMMARY
    running = await start_store_servers(root, ctx, pop3=("127.0.0.1", 2110), imap=("127.0.0.1", 2143))
    running.bound; running.close()
    start_virtual_store(host, clock)     # the same on a simulated host (ports 110, 143)

DESCRIPTION
    The accounts come from ROOT/etc/dovecot/users (passwd-file format,
    ``erin:{PLAIN}erin-pw``); INBOX is /var/mail/USER and folders live under
    ~/mail, as in the lab's dovecot.conf (``mbox:~/mail:INBOX=/var/mail/%u``).
    Dovecot's log lines go to ROOT/var/log/dovecot.log (its ``log_path``,
    "Nov 24 13:40:05 pop3-login: Info: Login: ...") and to the trace.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .imapd import imap_handler
from .mailstore import MailStore
from .pop3d import pop3_handler

LOG_PATH = "/var/log/dovecot.log"


class DovecotLog:
    """``log(program, text)`` writing Dovecot's log_path format under a host root."""

    def __init__(self, root: Path, clock: Callable[[], float], trace: Any = None) -> None:
        self.path = root / LOG_PATH.lstrip("/")
        self.clock = clock
        self.trace = trace
        self.lines: list[str] = []

    def __call__(self, program: str, text: str) -> None:
        line = f"{time.strftime('%b %d %H:%M:%S', time.gmtime(int(self.clock())))} {program}: {text}"
        self.lines.append(line)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8", errors="surrogateescape") as f:
            f.write(line + "\n")
        if self.trace is not None:
            # Dovecot writes its own log file (log_path), not Postfix's maillog
            self.trace.record("dovecot", "dovecot-log", program=program, text=text, line=line)


def make_store(root: Path, hostname: str, clock: Callable[[], float]) -> MailStore:
    return MailStore(root, root / "etc/dovecot/users", hostname, clock=clock)


@dataclass
class RunningStore:
    servers: list[asyncio.AbstractServer] = field(default_factory=list)
    bound: list[tuple[str, int]] = field(default_factory=list)

    def close(self) -> None:
        for s in self.servers:
            s.close()


async def start_store_servers(root: Path, ctx: Any, *, pop3: tuple[str, int] | None,
                              imap: tuple[str, int] | None) -> RunningStore:
    """POP3 and IMAP on real sockets for ``simlab serve``."""
    clock = ctx.clock.now
    store = make_store(Path(root), ctx.hostname, clock)
    log = DovecotLog(Path(root), clock, ctx.trace)
    out = RunningStore()
    for addr, handler in ((pop3, pop3_handler(store, clock, log)), (imap, imap_handler(store, clock, log))):
        if addr is None:
            continue
        server = await asyncio.start_server(handler, addr[0], addr[1], reuse_address=True)
        out.servers.append(server)
        out.bound.append(server.sockets[0].getsockname()[:2])
    return out


def start_virtual_store(host: Any, clock: Callable[[], float], *, pop3_port: int = 110,
                        imap_port: int = 143) -> MailStore:
    """POP3 and IMAP on a simulated host; returns the store."""
    from ..postfix.common.context import HostTrace
    store = make_store(host.root, host.name, clock)
    log = DovecotLog(host.root, clock, HostTrace(host.net.trace, host.name, host.net.loop.time))
    host.listen_streams(pop3_port, pop3_handler(store, clock, log), component="pop3d")
    host.listen_streams(imap_port, imap_handler(store, clock, log), component="imapd")
    host.services["store"] = store
    return store
