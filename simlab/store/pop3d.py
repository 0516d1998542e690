"""NAME
    pop3d - Dovecot's POP3 service for a host: the POP3 core on asyncio streams

SUMMARY
    await serve_pop3(reader, writer, store, clock, log)
    server = await asyncio.start_server(pop3_handler(store, clock, log), "127.0.0.1", 2110)

DESCRIPTION
    One call serves one connection: it builds a simlab.proto.pop3 core for
    the connection's addresses and runs it with simlab.store.adapter until
    QUIT, a lost connection or the idle timeout. ``log(program, text)``
    receives Dovecot's log lines ("pop3-login", "Info: Login: user=<erin>,
    ..."), ``clock()`` gives epoch seconds (the virtual clock on the
    simulated network).

PARAMETERS
    login_greeting, auth_mechanisms (plain login), auth_failure_delay.

SEE ALSO
    simlab.proto.pop3, simlab.store.mailstore, Dovecot pop3(8)
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..proto.pop3 import Pop3Server
from .adapter import Handler, connection_info, core_handler, run_core
from .mailstore import MailStore

Log = Callable[[str, str], None]


async def serve_pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     store: MailStore, clock: Callable[[], float], log: Log,
                     **options: Any) -> None:
    """Serve one POP3 connection (options go to Pop3Server: greeting, apop, hostname)."""
    options.setdefault("hostname", store.host)
    core = Pop3Server(store, connection_info(writer), clock, log, **options)
    await run_core(core, reader, writer)


def pop3_handler(store: MailStore, clock: Callable[[], float], log: Log, **options: Any) -> Handler:
    """A client_connected_cb for asyncio.start_server (or the virtual network)."""
    return core_handler(serve_pop3, store, clock, log, **options)
