"""NAME
    reading - smtpd(8) input: one command or content line at a time

SUMMARY
    raw, crlf, too_long = await session.read_line(limit)   # limit: line_length_limit, or None
    got = session.buffered_line(limit)                     # the same without waiting, or None
    raw, crlf, too_long = await session.wait_line(limit)   # read_line() after buffered_line() gave None

DESCRIPTION
    A line ends at LF; ``crlf`` tells whether a CR came before it. Of a
    line longer than ``limit`` the first ``limit`` bytes are kept and the
    rest is discarded (``too_long``). A line that has already arrived is
    cut from the reader's buffer directly (what StreamReader.readuntil()
    would return without waiting); otherwise the reader's data is awaited
    as readuntil() awaits it, and readuntil() itself takes over for a line
    longer than the reader's limit. At the end of the input, or a reset,
    _Lost is raised; in DATA the bytes of a partial last line still count
    in data_bytes.

    Every line read re-arms the smtpd_timeout timer.

SEE ALSO
    smtpd(8), session.py, data.py
"""

from __future__ import annotations

import asyncio
from typing import Any


class _Lost(Exception):
    """The client went away (EOF or reset)."""


class LineReaderMixin:
    """read_line() for SmtpdSession (its _reader, _reset_timeout, in_data and data_bytes)."""

    _reader: Any
    in_data: bool
    data_bytes: int

    async def read_line(self, limit: int | None) -> tuple[bytes, bool, bool]:
        """(line without its end, ended in CRLF, was longer than limit). Raises _Lost at EOF."""
        got = self.buffered_line(limit)
        if got is not None:
            return got
        return await self.wait_line(limit)

    async def wait_line(self, limit: int | None) -> tuple[bytes, bool, bool]:
        """read_line() once buffered_line() gave None."""
        reader = self._reader
        buf = reader._buffer
        if reader._exception is None and not reader._eof and len(buf) <= reader._limit and buf.find(b"\n") < 0:
            # readuntil()'s wait without its generality, in this coroutine: no line, EOF
            # or error is pending; an overlong line goes to _read_line_parts() below.
            while True:
                try:
                    await reader._wait_for_data("readuntil")
                except (ConnectionError, asyncio.CancelledError):
                    raise _Lost() from None
                end = buf.find(b"\n") + 1
                if end:
                    if end > reader._limit + 1:
                        break
                    line = bytes(buf[:end])
                    del buf[:end]
                    reader._maybe_resume_transport()
                    if limit is not None and end > limit + 2:
                        return self._line_read(line[:limit], True, limit)
                    return self._line_read(line, False, limit)
                if len(buf) > reader._limit:
                    break
                if reader._eof:
                    self.data_bytes += len(buf) if self.in_data else 0
                    buf.clear()
                    raise _Lost()
        got = await self._read_line_parts(limit)
        return self._line_read(got[0], got[1], limit)

    def buffered_line(self, limit: int | None) -> tuple[bytes, bool, bool] | None:
        """read_line() without waiting: None when no whole line has arrived yet."""
        line = self._buffered_line(limit)
        return None if line is None else self._line_read(line, False, limit)

    def _line_read(self, line: bytes, too_long: bool, limit: int | None) -> tuple[bytes, bool, bool]:
        crlf = line.endswith(b"\r\n")
        if line.endswith(b"\n"):
            line = line[:-2] if crlf else line[:-1]
        if limit is not None and len(line) >= limit:
            # smtp_get() stops after limit bytes: a line of limit bytes or more is "longer than limit"
            # (only a CR that ends the limit is taken with its LF as the line end)
            line, too_long = line[:limit], True
        self._reset_timeout()
        return line, crlf, too_long

    def _buffered_line(self, limit: int | None) -> bytes | None:
        """A whole line already in the reader's buffer (what readuntil() would return at once), or None."""
        reader = self._reader
        buf = reader._buffer
        end = buf.find(b"\n") + 1
        if not end or reader._exception is not None or end > reader._limit + 1 \
                or (limit is not None and end > limit + 2):
            return None
        line = bytes(buf[:end])
        del buf[:end]
        reader._maybe_resume_transport()
        return line

    async def _read_line_parts(self, limit: int | None) -> tuple[bytes, bool]:
        """The general case: wait for data, keep at most limit bytes of an overlong line."""
        reader = self._reader
        parts: list[bytes] = []
        size = 0
        too_long = False
        while True:
            try:
                chunk = await reader.readuntil(b"\n")
                done = True
            except asyncio.LimitOverrunError as exc:
                chunk = await reader.readexactly(exc.consumed)
                done = False
            except asyncio.IncompleteReadError as exc:
                self.data_bytes += len(exc.partial) if self.in_data else 0
                raise _Lost() from None
            except (ConnectionError, asyncio.CancelledError):
                raise _Lost() from None
            if limit is not None and size + len(chunk) > limit + 2:
                keep = max(0, limit - size)
                if keep:
                    parts.append(chunk[:keep])
                size += keep
                too_long = True
            else:
                parts.append(chunk)
                size += len(chunk)
            if done:
                return b"".join(parts), too_long

    def pending(self) -> bytes:
        """What the client has sent beyond the current command (vstream_peek)."""
        return bytes(getattr(self._reader, "_buffer", b""))
