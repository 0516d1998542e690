"""NAME
    lmtpd - Dovecot's LMTP service for a host: the LMTP core on asyncio streams

SUMMARY
    handler = lmtp_handler(deliverer, clock, log, settings=LmtpSettings(hostname="store.example.com"))
    host.listen_streams(24, handler, component="lmtp")                     # virtual network
    server = await asyncio.start_server(handler, "127.0.0.1", 2424)        # real socket

DESCRIPTION
    One call serves one connection: it builds a simlab.proto.lmtp_server
    core for the connection's addresses and runs it with
    simlab.store.adapter until QUIT, a lost connection or the idle timeout.
    The deliverer (simlab.store.delivery.MailDeliverer) looks recipients
    up and saves each copy. ``log(program, text)`` receives Dovecot's log
    lines ("lmtp(1001): Info: Connect from 10.0.0.25", "lmtp(erin)<1001>
    <...>: Info: msgid=<...>: saved mail to INBOX"), ``clock()`` gives epoch
    seconds (the virtual clock on the simulated network).

    Dovecot runs lmtp with service_count = 0: a process serves one client
    after another, so consecutive connections log the same pid and only
    overlapping ones start a new process (``ProcessPool``).

PARAMETERS
    hostname, login_greeting, recipient_delimiter, lmtp_rcpt_check_quota,
    quota_full_tempfail.

SEE ALSO
    simlab.proto.lmtp_server, simlab.store.delivery, Dovecot lmtp(8)
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from ..proto.lmtp_delivery import LmtpBackend, LmtpSettings
from ..proto.lmtp_server import LmtpServer
from .adapter import connection_info, run_core

Log = Callable[[str, str], None]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ProcessPool:
    """Process ids of one Dovecot service: an idle process is reused before a new one starts."""

    def __init__(self, new_pid: Callable[[], int]) -> None:
        self.new_pid = new_pid
        self.idle: list[int] = []

    def take(self) -> int:
        if self.idle:
            self.idle.sort()
            return self.idle.pop(0)
        return self.new_pid()

    def give(self, pid: int) -> None:
        if pid not in self.idle:
            self.idle.append(pid)


async def serve_lmtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     backend: LmtpBackend, clock: Callable[[], float], log: Log, *,
                     pid: int = 0, settings: LmtpSettings = LmtpSettings()) -> None:
    """Serve one LMTP connection."""
    core = LmtpServer(backend, connection_info(writer), clock, log, pid=pid, settings=settings)
    await run_core(core, reader, writer)


def lmtp_handler(backend: LmtpBackend, clock: Callable[[], float], log: Log, *,
                 settings: LmtpSettings | Callable[[], LmtpSettings] = LmtpSettings(),
                 pids: ProcessPool | None = None) -> Handler:
    """A client_connected_cb for asyncio.start_server (or Host.listen_streams).

    ``settings`` may be a callable, read at each connection (a store whose
    configuration a lesson changes).
    """
    pool = pids or ProcessPool(lambda: 0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pid = pool.take()
        current = settings() if callable(settings) else settings
        try:
            await serve_lmtp(reader, writer, backend, clock, log, pid=pid, settings=current)
        finally:
            pool.give(pid)

    return handle
