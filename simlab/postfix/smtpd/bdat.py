"""NAME
    bdat - smtpd(8) BDAT (RFC 3030 CHUNKING)

SUMMARY
    BDAT n [LAST] -> exactly n bytes, no unstuffing -> 250 2.0.0 Ok: n bytes
    BDAT n LAST                                     -> 250 2.0.0 Ok: TOTAL bytes queued as QID

DESCRIPTION
    Each chunk is read whole, whatever it contains; the chunks are one
    message at LAST, ended as DATA ends one (data.py). Replies as measured
    on Postfix 3.7.11:

    - a malformed command (no count, a count past off_t, a second word
      other than LAST) is "521 5.5.4 Syntax: BDAT count [LAST]" and smtpd
      hangs up, as it cannot tell where the data would end;
    - no transaction / no valid recipient: 503 / 554 for the chunk, and a
      failed LAST chunk ends the transaction;
    - "BDAT 0" without LAST is "551 5.7.1 Null BDAT request"; a chunk past
      message_size_limit is "552 5.3.4 Chunk exceeds message size limit"
      (before it is read); after such an error every chunk gets "551 5.0.0
      Discarded N bytes after earlier error" until LAST or RSET;
    - smtpd_forbid_bare_newline=reject refuses a message with a bare LF.

PARAMETERS
    message_size_limit, smtpd_forbid_bare_newline, smtpd_data_restrictions.

SEE ALSO
    smtpd(8), RFC 3030
"""

from __future__ import annotations

from typing import Any

from . import replies as R
from .data import _assemble, _bdat_lines
from .replies import Reply
from .tokens import Token, printable


class BdatMixin:
    """BDAT for SmtpdSession."""

    async def cmd_bdat(self, argv: list[Token]) -> bool:
        s: Any = self
        args = [t.text for t in argv[1:]]
        if not args or len(args) > 2 or not (args[0].isascii() and args[0].isdigit()) or int(args[0]) >= 1 << 63 \
                or (len(args) == 2 and args[1].upper() != "LAST"):
            # Postfix cannot tell where a malformed BDAT's data would end: 521 and hang up
            s.log_warning(f"{s.queue_id or 'NOQUEUE'}: malformed BDAT command syntax from {s.namaddr}: "
                          f"{printable(s.command_line[:100])}")
            await s.reply(Reply(521, "5.5.4", "Syntax: BDAT count [LAST]"))
            s.hangup = True
            return False
        size, last = int(args[0]), len(args) == 2
        err: Reply | None = None
        if size == 0 and not last:                  # checked first, in any state (measured)
            s.log_warning(f"{s.queue_id or 'NOQUEUE'}: null BDAT request from {s.namaddr}")
            err = R.BDAT_NULL
        elif s.bdat_error is not None:
            err = R.bdat_discarded(size)            # every chunk after an error, until LAST or RSET
        elif s.rcpt_count == 0:
            err = R.NEED_RCPT if s.sender is None else R.NO_VALID_RCPTS
        elif s.bdat_chunks is None:
            err = await s.checks.data()
        if err is not None:
            await self._read_chunk(size, keep=False)
            await s.reply(err)
            if last:
                s.abort_transaction()       # a failed LAST chunk ends the transaction: RCPT now needs MAIL
            else:
                s.bdat_error = err          # until LAST, RSET or HELO: MAIL/RCPT "after BDAT", chunks discarded
            return False
        limit = s._int("message_size_limit", 10240000)
        if limit > 0 and size > limit - s.act_size:
            s.log_warning(f"{s.queue_id or 'NOQUEUE'}: BDAT request from {s.namaddr} exceeds message size limit")
            await self._read_chunk(size, keep=False)
            await s.reply(R.BDAT_TOO_BIG)
            if not last:
                s.bdat_error = R.BDAT_TOO_BIG
                return False
            kept = _bdat_lines(b"".join(s.bdat_chunks or []))
            s.abort_transaction(self._with_received(_assemble(kept)) if kept else None)
            return False
        if s.bdat_chunks is None:
            s.bdat_chunks = []
        s.in_data = True
        chunk = await self._read_chunk(size, keep=True)
        s.in_data = False
        s.bdat_chunks.append(chunk)
        s.bdat_bytes += size
        if not last:
            await s.reply(R.bdat_ok(size))            # this chunk's size; the LAST reply gives the total
            return True
        s.where = "END-OF-MESSAGE"
        if s.too_big:
            await s.reply(R.FILE_TOO_BIG)
            s.abort_transaction()
            return False
        data = b"".join(s.bdat_chunks)
        lines = _bdat_lines(data)
        if s.bare_lf_mode() == "reject":
            raw = data.split(b"\n")[:-1]
            first_bare = next((i for i, ln in enumerate(raw) if not ln.endswith(b"\r")), -1)
            if first_bare >= 0:
                return await self._reject_bare_lf(lines[:first_bare])
        # the total counts lines as smtp_get() returns them, 2 bytes of line end each (a bare LF, or
        # none after the last line, too), CRs before a line end dropped; a last line without an
        # end keeps its CR (it arrives as a space) -- measured
        partial = lines[-1] if lines and not data.endswith(b"\n") else None
        if partial is not None:
            lines[-1] = partial.replace(b"\r", b" ")
        total = sum(len(ln.rstrip(b"\r")) for ln in lines) + 2 * len(lines)
        return await self._end_of_message(_assemble(lines), total)

    async def _read_chunk(self, size: int, keep: bool) -> bytes:
        from .reading import _Lost
        s: Any = self
        limit = s._int("message_size_limit", 10240000)
        parts: list[bytes] = []
        remaining = size
        while remaining > 0:
            try:
                piece = await s._reader.read(min(remaining, 1 << 16))
            except ConnectionError:
                raise _Lost() from None
            if not piece:
                raise _Lost()
            remaining -= len(piece)
            s.data_bytes += len(piece)
            if keep:
                self._account(len(piece), limit)
                if not s.too_big:
                    parts.append(piece)
        s._reset_timeout()
        return b"".join(parts)
