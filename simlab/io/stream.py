"""NAME
    stream - drive a sans-IO client core with an asyncio reader and writer

SUMMARY
    result_core = await run_client(core, reader, writer, timeout=300)

DESCRIPTION
    The loop: write what the core wants sent, read what arrives, feed it in,
    until the core says it is done; then close the connection. End of file
    and connection errors are reported to the core (``receive_eof``), a read
    that takes longer than the time-out to ``receive_timeout``. The time-out
    may be a number of seconds or a function of the core (Postfix waits
    longer for the reply to the final dot than for a RCPT reply), and runs
    on the event loop's clock: virtual seconds on the simulated network.

    Nothing here is SMTP-specific: any object with ``data_to_send()``,
    ``receive_data(bytes)``, ``receive_eof()``, ``receive_timeout()`` and a
    ``done`` flag can be driven.

SEE ALSO
    asyncio-stream
"""

from __future__ import annotations

import asyncio
from typing import Callable, Protocol, TypeVar, Union


class ClientCore(Protocol):
    done: bool

    def data_to_send(self) -> bytes: ...

    def receive_data(self, data: bytes) -> None: ...

    def receive_eof(self) -> None: ...

    def receive_timeout(self) -> None: ...


C = TypeVar("C", bound=ClientCore)
Timeout = Union[float, Callable[[C], Union[float, None]], None]


async def run_client(core: C, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     timeout: "Timeout[C]" = None, chunk: int = 65536) -> C:
    """Run ``core`` to completion over (reader, writer); returns the core."""
    try:
        while True:
            out = core.data_to_send()
            if out:
                writer.write(out)
                try:
                    await writer.drain()
                except (ConnectionError, OSError):
                    core.receive_eof()
            if core.done:
                break
            limit = timeout(core) if callable(timeout) else timeout
            try:
                if limit is None:
                    data = await reader.read(chunk)
                else:
                    data = await asyncio.wait_for(reader.read(chunk), limit)
            except asyncio.TimeoutError:
                core.receive_timeout()
                continue
            except (ConnectionError, OSError):
                data = b""
            if data:
                core.receive_data(data)
            else:
                core.receive_eof()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return core
