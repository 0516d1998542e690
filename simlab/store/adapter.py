"""NAME
    adapter - run a sans-IO protocol core over asyncio streams

SUMMARY
    await run_core(core, reader, writer)
    conn = connection_info(writer)
    handle = core_handler(serve_pop3, store, clock, log, hostname="mail")

DESCRIPTION
    The loop every server adapter shares: send what the core has to say,
    then do what it asks next -- read (with its idle timeout), sleep
    (Dovecot's authentication delays) or close. Only StreamReader,
    StreamWriter and asyncio.sleep are used: no thread, no blocking call,
    no clock, so the same adapter runs on a real socket under
    ``simlab serve`` and on the virtual network's in-memory transports in
    virtual time.

    ``connection_info`` reads the peer and local addresses from the
    transport ("peername", "sockname"); a transport that has none gets
    127.0.0.1 on both ends.

    ``core_handler`` turns a serve function (serve_pop3, serve_imap) and
    its arguments into the client_connected_cb that asyncio.start_server
    and the virtual network call for each connection.

SEE ALSO
    simlab.proto.actions, simlab.store.pop3d, simlab.store.imapd
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Awaitable, Callable

from ..proto.actions import Close, ConnectionInfo, ServerCore, Sleep

READ_SIZE = 65536

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _address(value: Any) -> tuple[str, int]:
    if isinstance(value, (tuple, list)) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return "127.0.0.1", 0


def connection_info(writer: asyncio.StreamWriter) -> ConnectionInfo:
    rip, rport = _address(writer.get_extra_info("peername"))
    lip, lport = _address(writer.get_extra_info("sockname"))
    return ConnectionInfo(rip, rport, lip, lport)


async def run_core(core: ServerCore, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
    """Drive CORE until it closes or the client goes away."""
    try:
        while True:
            out = core.data_to_send()
            if out:
                writer.write(out)
                await writer.drain()
            action = core.next_action()
            if isinstance(action, Close):
                break
            if isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                core.wake()
                continue
            try:
                if action.timeout is None:
                    data = await reader.read(READ_SIZE)
                else:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), action.timeout)
            except asyncio.TimeoutError:
                core.timeout()
                continue
            except (ConnectionError, OSError):
                data = b""
            core.receive_data(data)
            if not data and not isinstance(core.next_action(), (Close, Sleep)):
                break
    except (ConnectionError, OSError):
        core.receive_data(b"")
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            out = core.data_to_send()
            if out and not writer.is_closing():
                writer.write(out)
                await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await writer.wait_closed()


def core_handler(serve: Callable[..., Awaitable[None]], *args: Any, **options: Any) -> Handler:
    """A client_connected_cb: serve(reader, writer, *args, **options) for each connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve(reader, writer, *args, **options)

    return handle
