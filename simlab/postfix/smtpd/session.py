"""NAME
    session - one smtpd(8) connection: read commands, count them, log them

SUMMARY
    factory = make_smtpd_protocol(ctx, service)     # see __init__.py
    host.listen(25, factory, component="smtpd")     # or loop.create_server(factory, ...)

DESCRIPTION
    SmtpdSession is an aiosmtpd ``SMTP`` protocol whose command loop is
    Postfix's: the greeting, then one command line at a time (at most
    line_length_limit bytes; the rest of a longer line is discarded with a
    "request longer than" warning), bare LF accepted as a line end unless
    smtpd_forbid_bare_newline says otherwise, error counting with
    smtpd_soft_error_limit (every reply is then delayed by
    smtpd_error_sleep_time, in the clock's time) and smtpd_hard_error_limit
    (421 and disconnect), and at the end the "disconnect from" line with
    per-command counts ``ehlo=1 mail=1 rcpt=0/1 ... commands=3/5``.

    The commands themselves are in commands.py (envelope) and data.py
    (message content); the access checks in restrictions.py; reading
    lines in reading.py; smtpd_timeout in timeout.py.

PARAMETERS
    smtpd_banner, myhostname, syslog_name, line_length_limit,
    smtpd_timeout, smtpd_soft_error_limit, smtpd_hard_error_limit,
    smtpd_error_sleep_time, smtpd_forbidden_commands,
    smtpd_noop_commands, smtpd_forbid_bare_newline,
    smtpd_forbid_bare_newline_exclusions, smtpd_delay_reject.

SEE ALSO
    smtpd(8), postconf(5)
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aiosmtpd.smtp import SMTP

from ..config.fallback import ParamGetters
from ..maps.tok822 import quote_822_local
from . import replies as R
from .aioinit import auth_methods, init_smtp, smtp_methods
from .bdat import BdatMixin
from .commands import CommandsMixin
from .data import DataMixin
from .extensions import ExtensionsMixin
from .lists import get, match_namadr, split_list
from .peer import client_name
from .reading import LineReaderMixin, _Lost
from .replies import Reply, wire
from .restrictions import SmtpdChecks
from .slots import SESSION_SLOTS
from .settings import settings_for
from .timeout import TimeoutMixin
from .tokens import escape, printable, tokenize

# Postfix's command table order, which is also the order of the disconnect statistics.
COMMANDS = ("HELO", "EHLO", "XCLIENT", "XFORWARD", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
            "BDAT", "RSET", "NOOP", "VRFY", "ETRN", "QUIT")
# Commands that must end a pipelined group (SMTPD_CMD_FLAG_LAST).
LAST_IN_GROUP = {"HELO", "EHLO", "DATA", "NOOP", "VRFY"}   # measured: not STARTTLS, AUTH (both off here), QUIT
_HANDLERS = {verb: "cmd_" + verb.lower() for verb in COMMANDS}
_STATS_ORDER = {verb: i for i, verb in enumerate(COMMANDS + ("UNKNOWN",))}
_STATS_NAME = {verb: verb.lower() for verb in _STATS_ORDER}


class _Hangup(Exception):
    """The session ends here (QUIT, 421, a forbidden command, a bare LF reject)."""


class _NoHandler:
    """aiosmtpd wants a handler object; Postfix policy lives in this package instead."""


class SmtpdSession(ParamGetters, LineReaderMixin, CommandsMixin, ExtensionsMixin, DataMixin, BdatMixin, TimeoutMixin, SMTP):
    """One SMTP connection to smtpd, speaking exactly like Postfix 3.7."""

    line_length_limit = 1 << 16
    __slots__ = SESSION_SLOTS
    _auth_methods = functools.cached_property(auth_methods)
    _smtp_methods = functools.cached_property(smtp_methods)

    def __init__(self, ctx: Any, service: Any, cfg: Any, pids: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx = ctx
        self.service = service
        self.cfg = cfg
        settings = self.settings = settings_for(cfg)
        # The session's parameters are fixed (a reload makes new sessions with a new cfg):
        # ~15 lookups per transaction go straight to the Settings memo, without a call more.
        self._int = settings.int  # type: ignore[method-assign]
        self._bool = settings.bool  # type: ignore[method-assign]
        self._soft_error_limit: int | None = None   # read at the first reply (a bad value stops it there)
        self._noop_commands = settings.upper_words("smtpd_noop_commands")
        self._pids = pids
        self.pid = 0
        self.myhostname = self.settings.text("myhostname", ctx.hostname)
        self.ident = f"{self.settings.text('syslog_name', 'postfix') or 'postfix'}/smtpd"
        init_smtp(self, _NoHandler(), self.myhostname, loop, self.settings.time("smtpd_timeout", 300.0))
        self._timeout_key: tuple[float, float] | None = None
        self._deadline: float | None = None     # when the client's time is up (see _reset_timeout)
        self._postpone = getattr(loop, "postpone", None)
        self.checks = SmtpdChecks(self)
        self.resolved: dict[tuple[str, str], Any] = {}   # recipients.resolve()'s memo
        self.client_addr = ""
        self.client_port = 0
        self.server_addr = ""
        self.server_port = 0
        self.client_name = "unknown"
        self.namaddr = "unknown[unknown]"
        self.where = "CONNECT"
        self.protocol = "SMTP"
        self.helo_name: str | None = None
        self.sasl_username = ""
        self.sasl_method = ""
        self.error_count = 0
        self.counts: dict[str, list[int]] = {}
        self.ill_pipelining = False
        self.access_denied: Reply | None = None
        self._logged_disconnect = False
        self._own_pid = False
        proc = _master_process()
        if proc is not None:
            self.pid = proc.pid
        self._timed_out = False
        self.lost = False
        self.hangup = False
        self.command_line = ""
        self._pregreet = b""
        self._greeted = False
        self._conn_lost = False
        self._finished = False
        self.reset_transaction()

    def _int(self, name: str, default: int) -> int:
        return self.settings.int(name, default)

    def _bool(self, name: str, default: bool = False) -> bool:
        return self.settings.bool(name, default)

    # -- connection plumbing (aiosmtpd) ---------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername") or ("unknown", 0)
        self.client_addr = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.client_port = int(peer[1]) if isinstance(peer, tuple) and len(peer) > 1 else 0
        local = transport.get_extra_info("sockname") or ("", 0)
        self.server_addr = str(local[0]) if isinstance(local, tuple) else ""
        self.server_port = int(local[1]) if isinstance(local, tuple) and len(local) > 1 else 0
        if not self.pid:
            self._own_pid = True
            self.pid = self._pids.take()
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._greeted:
            self._pregreet = (self._pregreet + data)[:100]
        if self._stream_reader_wr is not None:  # StreamReaderProtocol.data_received, one lookup less
            self._reader.feed_data(data)

    def eof_received(self) -> bool | None:
        # Keep serving what is already buffered; the command loop sees the EOF itself.
        return asyncio.StreamReaderProtocol.eof_received(self)

    def connection_lost(self, error: Exception | None) -> None:
        # Unlike aiosmtpd, do not cancel the command loop: it finds the EOF or
        # the reset on its next read and logs "lost connection" as Postfix does.
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()
        asyncio.StreamReaderProtocol.connection_lost(self, error)
        self.transport = None
        self._conn_lost = True
        if self._finished:
            self._break_cycles()

    def _break_cycles(self) -> None:
        # Once the command loop has ended and the connection is gone, drop the
        # references that lead back to this session (aiosmtpd's callback and
        # StreamWriter, the reader's transport, the checks), so that it dies by
        # reference counting instead of waiting for the cycle collector.
        self._client_connected_cb = None
        self._writer = None
        self._reader = None
        self.checks.s = None

    # -- logging ---------------------------------------------------------------------------
    def log(self, text: str) -> None:
        self.ctx.log.line(self.ident, self.pid, text)

    def log_warning(self, text: str) -> None:
        self.ctx.log.warning(self.ident, self.pid, text)

    def log_whatsup(self, whatsup: str, text: str) -> None:
        """log_whatsup(): 'NOQUEUE: reject: RCPT from name[addr]: TEXT; from=<> to=<> proto= helo=<>'."""
        if not text.isprintable():
            text = text.translate(R.CONTROLS_TO_SPACE)    # the reply text, as the client got it
        line = f"{self.queue_id or 'NOQUEUE'}: {whatsup}: {self.where} from {self.namaddr}: {text};"
        if self.sender is not None:
            line += f" from=<{quote_822_local(self.sender) if self.sender else ''}>"
        if self.recipient is not None:
            line += f" to=<{quote_822_local(self.recipient)}>"
        line += f" proto={self.protocol}"
        if self.helo_name is not None:
            line += f" helo=<{self.helo_name}>"
        self.log(line)

    # -- replies -----------------------------------------------------------------------------
    async def reply(self, reply: Reply | str) -> None:
        """smtpd_chat_reply(): delay when the client made too many errors, then send."""
        soft = self._soft_error_limit
        if soft is None:
            soft = self._soft_error_limit = self._int("smtpd_soft_error_limit", 10)
        if self.error_count >= soft:
            await self.ctx.sleep(self.settings.time("smtpd_error_sleep_time", 1.0))
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(reply.wire if type(reply) is Reply else wire(reply))

    def bare_lf_mode(self) -> str:
        """'no', 'normalize' or 'reject' for this client (exclusions applied)."""
        value = get(self.cfg, "smtpd_forbid_bare_newline", "no").lower()
        mode = {"yes": "normalize", "normalize": "normalize", "reject": "reject"}.get(value, "no")
        if mode != "no" and match_namadr(self.ctx, get(self.cfg, "smtpd_forbid_bare_newline_exclusions"),
                                         self.client_name, self.client_addr):
            return "no"
        return mode

    # -- the session -----------------------------------------------------------------------------
    async def _handle_client(self) -> None:
        try:
            await self._connect()
            await self._command_loop()
        except _Hangup:
            pass
        except (_Lost, asyncio.CancelledError):
            self.lost = True
        except Exception as exc:
            # A bug must not take the listener down: log it as a daemon's fatal error and drop the client.
            self.ctx.log.fatal(self.ident, self.pid, f"{type(exc).__name__}: {exc}")
            self.hangup = True
            self.loop.call_exception_handler({"message": "smtpd session failed", "exception": exc})
        finally:
            self._disconnect()
            self._finished = True
            if self._conn_lost:
                self._break_cycles()

    async def _connect(self) -> None:
        self.client_name = await client_name(self, self.client_addr)
        self.namaddr = f"{self.client_name}[{self.client_addr}]"
        self.log(f"connect from {self.namaddr}")
        self.ctx.trace.record("smtpd", "session", state="connect", client=self.namaddr, pid=self.pid)
        if not self._bool("smtpd_delay_reject"):
            self.access_denied = await self.checks.client()
        for _ in range(2):
            # Let input that the client sent before the greeting arrive first (pre-greet test).
            await asyncio.sleep(0)
        banner = self.settings.text("smtpd_banner", f"{self.myhostname} ESMTP Postfix")
        await self.reply(R.shared(220, "", banner))
        self._greeted = True
        if self._pregreet:
            self.log(f"improper command pipelining after CONNECT from {self.namaddr}: "
                     f"{escape(self._pregreet[:100])}")
            self.ill_pipelining = True

    async def _command_loop(self) -> None:
        hard = self._int("smtpd_hard_error_limit", 20)
        limit = self._int("line_length_limit", 2048)
        while True:
            if self.error_count >= hard:
                self.log(f"too many errors after {self.where} from {self.namaddr}")
                await self.reply(R.too_many_errors(self.myhostname))
                raise _Hangup()
            got = self.buffered_line(limit)
            raw, crlf, too_long = got if got is not None else await self.wait_line(limit)
            if not crlf and self.bare_lf_mode() == "reject":
                self.log(f"NOQUEUE: reject: {self.where} from {self.namaddr}: bare <LF> received; "
                         f"proto={self.protocol}" + (f" helo=<{self.helo_name}>" if self.helo_name else ""))
                await self.reply(R.bare_lf(self.myhostname, self._int("smtpd_forbid_bare_newline_reject_code", 550)))
                raise _Hangup()
            line = raw.decode("utf-8", "surrogateescape")
            if too_long:
                self.log_warning(f"{self.namaddr}: request longer than {limit}: {printable(line[:30])}...")
            self.ctx.trace.record("smtpd", "command", line=line, pid=self.pid)
            await self.dispatch(line)

    async def dispatch(self, line: str) -> None:
        self.command_line = line
        if not line.isascii() and self.settings.bool("smtputf8_enable", True):
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:          # bytes that were not UTF-8 (surrogate-escaped)
                await self.reply(R.BAD_UTF8)
                self.error_count += 1
                return
        argv = tokenize(line)
        if not argv:
            await self.reply(R.BAD_SYNTAX)
            self.error_count += 1
            return
        verb = argv[0].text.upper()
        if verb in self._noop_commands:
            await self.reply(R.OK)
            return
        if verb not in COMMANDS:
            self._count("UNKNOWN", False)
            self.where = "UNKNOWN"
            if self._forbidden(argv[0].text):
                self.log_warning(f"non-SMTP command from {self.namaddr}: {printable(line[:100])}")
                await self.reply(R.FORBIDDEN)
                raise _Hangup()
            await self.reply(R.UNRECOGNIZED)
            self.error_count += 1
            return
        self.where = verb
        if not self.ill_pipelining and (verb in LAST_IN_GROUP or self.protocol == "SMTP"):
            more = self._reader._buffer
            if more:
                self.log(f"improper command pipelining after {verb} from {self.namaddr}: "
                         f"{escape(bytes(more[:100]))}")
                self.ill_pipelining = True
        handler = getattr(self, _HANDLERS[verb])
        ok = False
        try:
            ok = await handler(argv)
        finally:
            self._count(verb, bool(ok))
        if not ok:
            self.error_count += 1
        if self.hangup:
            raise _Hangup()

    def _forbidden(self, word: str) -> bool:
        """is_header() or a match in smtpd_forbidden_commands."""
        if len(word) > 1 and word.endswith(":") and all(33 <= ord(c) < 127 for c in word[:-1]):
            return True
        for pattern in split_list(get(self.cfg, "smtpd_forbidden_commands", "CONNECT GET POST")):
            if ":" in pattern and not pattern.startswith(":"):
                try:
                    if self.ctx.map(pattern).lookup(word) is not None:
                        return True
                except Exception:
                    continue
            elif pattern.lower() == word.lower():
                return True
        return False

    def _count(self, verb: str, ok: bool) -> None:
        c = self.counts.get(verb)
        if c is None:
            c = self.counts[verb] = [0, 0]
        c[1] += 1
        if ok:
            c[0] += 1

    def stats(self) -> str:
        parts = []
        total_ok = total = 0
        counts = self.counts
        # the verbs this session used (a handful), in the command table's order
        for verb in sorted(counts, key=_STATS_ORDER.__getitem__):
            ok, n = counts[verb]
            parts.append(f"{_STATS_NAME[verb]}={ok}" if ok == n else f"{_STATS_NAME[verb]}={ok}/{n}")
            total_ok += ok
            total += n
        parts.append(f"commands={total_ok}" if total_ok == total and total else f"commands={total_ok}/{total}")
        return " ".join(parts)

    def _disconnect(self) -> None:
        if self._logged_disconnect:
            return
        self._logged_disconnect = True
        if self.lost and not self._timed_out and self.where != "END-OF-MESSAGE":
            # measured: a client that hangs up after the reply to the final dot is not "lost"
            self.log(f"lost connection after {self.lost_where()} from {self.namaddr}")
        self.log(f"disconnect from {self.namaddr} {self.stats()}")
        self.ctx.trace.record("smtpd", "session", state="disconnect", client=self.namaddr, pid=self.pid)
        self.abort_transaction(self.partial_message())
        self.checks.close_policy_clients()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        if self._own_pid:
            self._pids.give(self.pid)

    def lost_where(self) -> str:
        if self.where == "DATA" and self.in_data:
            return f"DATA ({self.data_bytes} bytes)"
        if self.where == "BDAT" and self.in_data:
            return f"BDAT ({self.data_bytes} bytes)"
        return self.where



_CURRENT_PROCESS: list[Any] = []     # master.process.current_process, imported on first use


def _master_process() -> Any:
    """The master(8) process this connection was handed to, when a master runs."""
    if not _CURRENT_PROCESS:
        try:
            from ..master.process import current_process
        except ImportError:
            return None
        _CURRENT_PROCESS.append(current_process)
    return _CURRENT_PROCESS[0]()
