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

    A read with a time-out behaves as ``asyncio.wait_for(reader.read(n), t)``
    -- the same result and the same TimeoutError -- without a task, a
    waiter future and two callbacks per read: ``read_within``.

    Nothing here is SMTP-specific: any object with ``data_to_send()``,
    ``receive_data(bytes)``, ``receive_eof()``, ``receive_timeout()`` and a
    ``done`` flag can be driven.

SEE ALSO
    asyncio-stream
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Protocol, TypeVar, Union


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
    deadline: _Deadline | None = None
    try:
        while True:
            out = core.data_to_send()
            if out:
                writer.write(out)
                if _drain_waits(writer):
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
                elif limit > 0 and (deadline is not None or (deadline := _Deadline.start(reader)) is not None):
                    # deadline.read(chunk, limit), inlined: one coroutine less per read
                    deadline.arm(limit)
                    try:
                        data = await reader.read(chunk)
                    except asyncio.CancelledError:
                        if not deadline.fired:
                            raise
                        deadline.task.uncancel()
                        raise asyncio.TimeoutError() from None
                    finally:
                        deadline.reading = False
                else:
                    data = await read_within(reader, chunk, limit)
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
        if deadline is not None:
            deadline.disarm()
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    return core


def _drain_waits(writer: asyncio.StreamWriter) -> bool:
    """False when ``writer.drain()`` would return at once (no error, not closing, not paused).

    Then awaiting it changes nothing but costs two coroutines; whenever it could
    raise or yield to the loop it is awaited as before. Unknown writer internals
    count as "it may wait".
    """
    reader = getattr(writer, "_reader", None)
    if reader is not None and reader.exception() is not None:
        return True
    if writer.transport.is_closing():
        return True
    proto = getattr(writer, "_protocol", None)
    return getattr(proto, "_connection_lost", True) is not False or getattr(proto, "_paused", True) is not False


class _Deadline:
    """The timer of the reads of one task: cancels the task if no data came in time.

    A session's reads reuse one timer: the virtual loop moves it to the next
    read's deadline (``postpone``: the same order as cancel + call_later); it
    stays armed between two reads of ``run_client``, when the task never waits
    and the clock cannot move, and is disarmed when the session ends.
    """

    __slots__ = ("task", "reader", "reading", "fired", "timer", "loop", "postpone")

    def __init__(self, task: "asyncio.Task[Any]", reader: asyncio.StreamReader,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.task = task
        self.reader = reader
        self.reading = False
        self.fired = False
        self.timer: asyncio.TimerHandle | None = None
        self.loop = loop
        self.postpone = getattr(loop, "postpone", None)

    @classmethod
    def start(cls, reader: asyncio.StreamReader) -> "_Deadline | None":
        """The deadline of the running task's reads; None outside a task."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        return cls(task, reader, loop) if task is not None else None

    def expire(self) -> None:
        reader = self.reader
        # data (or EOF) already in: wait_for's inner read has completed, so it returns it
        if not self.reading or getattr(reader, "_buffer", None) or getattr(reader, "_eof", False) \
                or getattr(reader, "_exception", None) is not None:
            return
        self.fired = True
        self.task.cancel()

    def disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def arm(self, limit: float) -> None:
        """Fire ``limit`` seconds from now; a read is in progress until ``reading`` is cleared."""
        timer = self.timer
        if timer is None or self.postpone is None or not self.postpone(timer, limit):
            if timer is not None:
                timer.cancel()
            self.timer = self.loop.call_later(limit, self.expire)
        self.fired = False
        self.reading = True

    async def read(self, n: int, limit: float) -> bytes:
        """``read_within(self.reader, n, limit)`` (limit > 0) for the task of this deadline."""
        self.arm(limit)
        try:
            return await self.reader.read(n)
        except asyncio.CancelledError:
            if self.fired:
                self.task.uncancel()
                raise asyncio.TimeoutError() from None
            raise
        finally:
            self.reading = False


async def read_within(reader: asyncio.StreamReader, n: int, limit: float) -> bytes:
    """``await asyncio.wait_for(reader.read(n), limit)`` without a task, a waiter and two callbacks.

    The same result and the same TimeoutError (a read that completed wins over
    the time-out, as in wait_for), but the caller resumes in the loop turn the
    data arrives instead of three turns later: no virtual time passes either
    way, and wait_for's turn count is an implementation detail that differs
    between Python versions.
    """
    deadline = _Deadline.start(reader) if limit > 0 else None
    if deadline is None:
        return await asyncio.wait_for(reader.read(n), limit)
    try:
        return await deadline.read(n, limit)
    finally:
        deadline.disarm()
