"""NAME
    adapter - run a sans-IO protocol core over asyncio streams

SUMMARY
    await run_core(core, reader, writer)
    conn = connection_info(writer)

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

SEE ALSO
    simlab.proto.actions, simlab.store.pop3d, simlab.store.imapd
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ..proto.actions import Close, ConnectionInfo, ServerCore, Sleep

READ_SIZE = 65536


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
