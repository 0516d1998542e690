"""NAME
    data - smtpd(8) message content: DATA (BDAT is bdat.py), and the end of a message

SUMMARY
    DATA -> 354, lines up to <CR><LF>.<CR><LF>, dot-unstuffing -> 250 Ok: queued as QID

DESCRIPTION
    smtpd writes the headers of PREPEND actions (access tables, policy
    servers), its own Received: header, then the content, to the
    cleanup(8) session opened at the first accepted recipient; cleanup's
    reply (a queue id, or a refusal such as "554 5.4.0 Error: too many
    hops") becomes the reply to the final dot.

    The end of DATA depends on smtpd_forbid_bare_newline (Postfix 3.7.11):
    with "no" a bare LF ends a line everywhere, so ``<LF>.<LF>`` ends the
    message (SMTP smuggling works); with "normalize" (alias "yes") and
    "reject" only ``<CR><LF>.<CR><LF>`` does; "reject" also refuses a
    message that contained a bare LF with 550 5.5.2 at its end. Clients
    matching smtpd_forbid_bare_newline_exclusions ($mynetworks) are exempt.

    A first line "From ..." becomes an X-Mailbox-Line: header, and a first
    line starting with white space is taken as body (an empty line goes
    before it), as smtpd does.

PARAMETERS
    smtpd_forbid_bare_newline, smtpd_forbid_bare_newline_exclusions,
    message_size_limit, smtpd_data_restrictions,
    smtpd_end_of_data_restrictions, smtpd_sasl_authenticated_header.

SEE ALSO
    smtpd(8), RFC 5321 section 4.5.2, RFC 3030
"""

from __future__ import annotations

from typing import Any

from ..cleanup.headers import received_smtpd
from . import replies as R
from .replies import Reply
from .tokens import Token
from .xforward import log_attrs


class DataMixin:
    """DATA, and what DATA and BDAT share (the end of the message), for SmtpdSession."""

    async def cmd_data(self, argv: list[Token]) -> bool:
        s: Any = self
        if s.bdat_chunks is not None or s.bdat_error is not None:     # first, in any state (measured)
            await s.reply(R.DATA_AFTER_BDAT)
            return False
        if s.rcpt_count == 0:
            await s.reply(R.NEED_RCPT if s.sender is None else R.NO_VALID_RCPTS)
            return False
        if len(argv) != 1:
            await s.reply(Reply(501, "5.5.4", "Syntax: DATA"))
            return False
        err = await s.checks.data()
        if err is not None:
            await s.reply(err)
            return False
        await s.reply(R.DATA_GO)
        s.in_data, s.data_bytes = True, 0
        lines, first_bare = await self._read_dot_message(s.bare_lf_mode())
        s.in_data = False
        s.where = "END-OF-MESSAGE"
        if s.too_big:
            # cleanup got what came before the limit was reached (so it logs the message-id it saw)
            await s.reply(R.FILE_TOO_BIG)
            s.abort_transaction(self._with_received(_assemble(lines)) if lines else None)
            return False
        if first_bare >= 0 and s.bare_lf_mode() == "reject":
            return await self._reject_bare_lf(lines[:first_bare])
        body = _assemble(lines)
        return await self._end_of_message(body, None)

    async def _reject_bare_lf(self, kept: list[bytes]) -> bool:
        """smtpd_forbid_bare_newline=reject at the end of the message; cleanup got only the
        lines before the first bare LF."""
        s: Any = self
        s.log_whatsup("reject", "bare <LF> received")
        await s.reply(R.bare_lf(s.myhostname, s._int("smtpd_forbid_bare_newline_reject_code", 550)))
        s.abort_transaction(self._with_received(_assemble(kept)) if kept else None)
        return False

    async def _read_dot_message(self, mode: str) -> tuple[list[bytes], int]:
        s: Any = self
        lines: list[bytes] = []
        s.data_lines = lines
        st = _DotState(mode, s._int("message_size_limit", 10240000), s._int("line_length_limit", 2048))
        while True:
            # Whole lines that already arrived are taken together; read_line() waits for more.
            if self._dot_buffered(lines, st):
                return lines, st.first_bare
            raw, crlf, _ = await s.read_line(None)
            if self._dot_line(raw, crlf, lines, st):
                return lines, st.first_bare

    def _dot_line(self, raw: bytes, crlf: bool, lines: list[bytes], st: _DotState) -> bool:
        """One content line: count it, unstuff it, keep it; True at the final dot."""
        s: Any = self
        s.data_bytes += len(raw) + (2 if crlf else 1)
        if not crlf and not st.bare:
            st.bare, st.first_bare = True, len(lines)
        if raw[:1] == b".":
            if raw == b"." and (st.mode == "no" or (crlf and st.prev_crlf)):
                return True
            if raw == b".":
                st.prev_crlf = crlf         # a lone dot that does not end DATA is dropped, not kept empty
                return False
            raw = raw[1:]
        st.prev_crlf = crlf
        if not s.too_big:
            self._account(_cost(len(raw), st.line_limit), st.limit)
        if not s.too_big:
            lines.append(raw)
        return False

    def _dot_buffered(self, lines: list[bytes], st: _DotState) -> bool:
        """The whole lines in the reader's buffer, as _dot_line() would take them one by one."""
        s: Any = self
        reader = s._reader
        buf = reader._buffer
        last = buf.rfind(b"\n") + 1
        if not last or reader._exception is not None:
            return False
        chunk = bytes(buf[:last])
        if chunk.count(b"\n") == chunk.count(b"\r\n"):
            used, done = self._dot_crlf_chunk(chunk, lines, st)
        else:
            used, done = self._dot_mixed_chunk(chunk, lines, st)
        del buf[:used]
        reader._maybe_resume_transport()
        s._reset_timeout()
        return done

    def _dot_crlf_chunk(self, chunk: bytes, lines: list[bytes], st: _DotState) -> tuple[int, bool]:
        """Lines that all end in CRLF: (bytes used, final dot seen)."""
        s: Any = self
        if chunk.startswith(b".\r\n") and not (st.mode == "no" or st.prev_crlf):
            self._dot_line(b".", True, lines, st)
            used, done = self._dot_crlf_chunk(chunk[3:], lines, st)
            return used + 3, done
        if chunk.startswith(b".\r\n"):
            end = 0
        else:
            end = chunk.find(b"\r\n.\r\n")
            end = end + 2 if end >= 0 else -1
        body = chunk if end < 0 else chunk[:end]
        used = len(chunk) if end < 0 else end + 3
        s.data_bytes += used
        if not body:
            return used, end >= 0
        st.prev_crlf = True
        raws = body[:-2].split(b"\r\n")
        if body[:1] == b"." or b"\n." in body:
            raws = [raw[1:] if raw[:1] == b"." else raw for raw in raws]
        if not s.too_big:
            total = sum(map(len, raws)) + 2 * len(raws)
            if any(len(raw) >= st.line_limit for raw in raws):
                total += 2 * sum(len(raw) // st.line_limit for raw in raws)
            if st.limit <= 0 or s.act_size + total <= st.limit:
                s.act_size += total
                lines.extend(raws)
            else:
                for raw in raws:
                    if not s.too_big:
                        self._account(_cost(len(raw), st.line_limit), st.limit)
                    if not s.too_big:
                        lines.append(raw)
        return used, end >= 0

    def _dot_mixed_chunk(self, chunk: bytes, lines: list[bytes], st: _DotState) -> tuple[int, bool]:
        """Lines with bare LFs among them, one at a time: (bytes used, final dot seen)."""
        pos = 0
        while pos < len(chunk):
            nl = chunk.index(b"\n", pos) + 1
            line = chunk[pos:nl]
            pos = nl
            crlf = line.endswith(b"\r\n")
            if self._dot_line(line[:-2] if crlf else line[:-1], crlf, lines, st):
                return pos, True
        return pos, False

    def _account(self, nbytes: int, limit: int) -> None:
        """message_size_limit, counted as smtpd does (each line plus CRLF)."""
        s: Any = self
        s.act_size += nbytes
        if limit > 0 and s.act_size > limit and not s.too_big:
            s.too_big = True
            s.log_warning(f"{s.queue_id or 'NOQUEUE'}: queue file size limit exceeded")

    def partial_message(self) -> bytes | None:
        """What cleanup already got of an unfinished message (DATA so far, or the BDAT chunks):
        it still sees the headers when the transaction is given up."""
        s: Any = self
        if s.cleanup is None:
            return None
        if s.bdat_chunks:
            data = b"".join(s.bdat_chunks)        # a last line without its end is still held back
            return self._with_received(_assemble(_bdat_lines(data[:data.rfind(b"\n") + 1])))
        if not s.in_data or s.bdat_chunks is not None:
            return None
        return self._with_received(_assemble(list(s.data_lines)))

    def _with_received(self, body: bytes) -> bytes:
        s: Any = self
        proto = s.protocol
        if s.sasl_username and proto == "ESMTP":
            proto = "ESMTPA"
        if s.smtputf8 and proto.startswith("ESMTP"):
            proto = "UTF8SMTP" + proto[5:]         # RFC 6531 with-types: UTF8SMTP, UTF8SMTPA
        auth = s.sasl_username if s._bool("smtpd_sasl_authenticated_header") else ""
        first = s.recipient if s.rcpt_count == 1 else None
        header = received_smtpd(helo=s.helo_name or s.client_name, name=s.client_name, addr=s.client_addr,
                                myhostname=s.myhostname, mail_name=_mail_name(s.settings), protocol=proto,
                                qid=s.queue_id, recipient=first, when=s.arrival, auth_sender=auth)
        prepend = "".join(text + "\n" for action, text in s.saved_actions if action == "PREPEND")
        return prepend.encode("utf-8", "surrogateescape") + header + body

    async def _end_of_message(self, body: bytes, bdat_total: int | None) -> bool:
        s: Any = self
        err = await s.checks.eod()
        if err is not None:
            await s.reply(err)
            s.abort_transaction(self._with_received(body))
            return False
        content = self._with_received(body)
        attrs = self._cleanup_attrs()
        cleanup, qid = s.cleanup, s.queue_id
        s.cleanup = None
        result = await cleanup.finish(s.sender, list(s.recipients), content, attrs, arrival=s.arrival)
        s.reset_transaction()
        if result.ok:
            await s.reply(R.queued(qid) if bdat_total is None else R.bdat_queued(bdat_total, qid))
            return True
        await s.reply(Reply.parse(result.reply) if result.reply else Reply(451, "4.3.0", "Error: internal error"))
        return False

    def _cleanup_attrs(self) -> dict[str, str]:
        """The named attributes smtpd hands to cleanup, in Postfix's order."""
        s: Any = self
        helo = s.helo_name
        attrs: dict[str, str] = {"rewrite_context": s.rewrite_context(),
                                 "log_client_name": s.client_name,
                                 "log_client_address": s.client_addr,
                                 "log_client_port": str(s.client_port),
                                 "log_message_origin": s.namaddr}
        if helo is not None:
            attrs["log_helo_name"] = helo
        attrs.update({"log_protocol_name": s.protocol,
                      "client_name": s.client_name,
                      "reverse_client_name": s.client_name,
                      "client_address": s.client_addr,
                      "client_port": str(s.client_port),
                      "server_address": s.server_addr,
                      "server_port": str(s.server_port)})
        if helo is not None:
            attrs["helo_name"] = helo
        attrs["protocol_name"] = s.protocol
        attrs["client_address_type"] = "10" if ":" in s.client_addr else "2"
        if s.sasl_username:
            attrs["sasl_method"] = s.sasl_method
            attrs["sasl_username"] = s.sasl_username
        if s.dsn_envid:
            attrs["envelope_id"] = s.dsn_envid
        if s.dsn_ret:
            attrs["ret_flags"] = {"FULL": "1", "HDRS": "2"}[s.dsn_ret]
        if s.encoding:
            attrs["encoding"] = s.encoding
        if s.smtputf8:
            attrs["smtputf8"] = "1"
        log_attrs(s, attrs)
        for action, text in s.saved_actions:
            if action == "BCC" and "access_bcc" in attrs:      # every BCC counts
                attrs["access_bcc"] += "\n" + text
            elif action != "PREPEND":                         # the last FILTER/REDIRECT wins
                attrs["access_" + action.lower()] = text
        return attrs


class _DotState:
    """Where _read_dot_message() is: bare LF seen, the last line ended in CRLF."""

    __slots__ = ("mode", "limit", "line_limit", "bare", "first_bare", "prev_crlf")

    def __init__(self, mode: str, limit: int, line_limit: int = 2048) -> None:
        self.mode, self.limit, self.line_limit = mode, limit, max(line_limit, 1)
        self.bare = False
        self.first_bare = -1            # how many lines were kept before the first bare LF
        self.prev_crlf = True


def _cost(n: int, line_limit: int) -> int:
    """What a content line adds to the message size: smtp_get() hands a line longer than
    line_length_limit over in pieces, and each piece counts 2 bytes of line end (measured)."""
    return n + 2 * (n // line_limit + 1)


def _bdat_lines(data: bytes) -> list[bytes]:
    """BDAT content as lines (CRLF or LF ends; nothing is unstuffed)."""
    lines = data.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _assemble(lines: list[bytes]) -> bytes:
    """Content lines -> message bytes (LF line ends), with smtpd's first-line and bare-CR fixes."""
    if lines:
        first = lines[0]
        if first.lstrip(b">").startswith(b"From "):
            lines = [b"X-Mailbox-Line: " + first] + lines[1:]
        elif first[:1] in (b" ", b"\t"):
            lines = [b""] + lines
    out = b"\n".join(lines) + b"\n" if lines else b""
    if b"\r" in out:
        # smtp_get() drops the CRs before a line end; a CR inside a line arrives as a space
        out = b"\n".join(ln.rstrip(b"\r").replace(b"\r", b" ") for ln in out.split(b"\n"))
    return out


def _mail_name(settings: Any) -> str:
    return settings.text("mail_name", "Postfix") or "Postfix"
