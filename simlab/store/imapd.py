"""NAME
    imapd - Dovecot's IMAP service for a host: the IMAP core on asyncio streams

SUMMARY
    await serve_imap(reader, writer, store, clock, log)
    server = await asyncio.start_server(imap_handler(store, clock, log), "127.0.0.1", 2143)

DESCRIPTION
    One call serves one connection: it builds a simlab.proto.imap core for
    the connection's addresses and runs it with simlab.store.adapter until
    LOGOUT, a lost connection or the idle timeout; an IDLE wakes up every
    mailbox_idle_check_interval to look for new mail. ``log(program, text)``
    receives Dovecot's log lines ("imap-login", "Info: Login: ..."),
    ``clock()`` gives epoch seconds (the virtual clock on the simulated
    network).

PARAMETERS
    login_greeting, imap_capability, auth_mechanisms (plain login),
    mailbox_idle_check_interval, imap_idle_notify_interval.

SEE ALSO
    simlab.proto.imap, simlab.store.mailstore, Dovecot imap(8)
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..proto.imap import ImapServer
from .adapter import Handler, connection_info, core_handler, run_core
from .mailstore import MailStore

Log = Callable[[str, str], None]


async def serve_imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     store: MailStore, clock: Callable[[], float], log: Log,
                     **options: Any) -> None:
    """Serve one IMAP connection (options go to ImapServer: greeting, capability)."""
    core = ImapServer(store, connection_info(writer), clock, log, **options)
    await run_core(core, reader, writer)


def imap_handler(store: MailStore, clock: Callable[[], float], log: Log, **options: Any) -> Handler:
    """A client_connected_cb for asyncio.start_server (or the virtual network)."""
    return core_handler(serve_imap, store, clock, log, **options)
