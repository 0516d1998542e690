"""NAME
    lmtp_server - a sans-IO LMTP server core (RFC 2033) that answers as Dovecot 2.3's lmtp

SUMMARY
    core = LmtpServer(backend, ConnectionInfo("10.0.0.25", 40001, "10.0.0.30", 24), clock, log, pid=1001)
    core.data_to_send()       # b"220 store.example.com Dovecot (Debian) ready.\\r\\n"
    core.receive_data(b"LHLO mail.example.com\\r\\n"); core.next_action()   # NeedData | Close

DESCRIPTION
    Bytes in, bytes and requests out (simlab.proto.actions), no I/O: the
    store adapter (simlab.store.lmtpd) runs it on a virtual connection or a
    real socket. The ``TRANSITIONS`` table is the whole shape of a session;
    a command that succeeds moves the session along it, a refused one
    leaves it where it was, and ``diagram()`` draws it.

    Replies are Dovecot's lib-smtp ones: "250 2.1.0 OK" to MAIL, "250 2.1.5
    OK" to RCPT, "354 OK" to DATA, "503 5.5.0 MAIL needed first", "554 5.5.0
    No valid recipients", "500 5.5.1 Unknown command" (EHLO and HELO too:
    this is LMTP). A failed recipient reply starts with the address:

        550 5.1.1 <nosuch@example.com> User doesn't exist: nosuch@example.com
        552 5.2.2 <erin@example.com> Quota exceeded (mailbox for user is full)

    After the message (DATA or BDAT ... LAST) there is one reply per
    accepted recipient, in RCPT order: "250 2.0.0 <erin@example.com>
    SESSION Saved", the 552 above (452 4.2.2 with quota_full_tempfail), or
    "451 4.2.0 <addr> ERROR". The first recipient of a transaction uses the
    transaction id as its session id, the next ones add ":2", ":3" ...

    Every delivered copy gets Dovecot's added headers: Return-Path,
    Delivered-To (only with a single recipient), and a Received trace
    record naming the LHLO domain, the client address, this host, "with
    LMTP", the transaction id, the envelope sender and (for one recipient)
    "for <rcpt>".

    The recipient's user name is its address without the +detail
    (recipient_delimiter); the backend looks it up (userdb) and saves the
    message (mail_deliver); lmtp_rcpt_check_quota makes RCPT refuse a
    mailbox that is already full.

PARAMETERS
    hostname, login_greeting (Dovecot (Debian) ready.), recipient_delimiter,
    lmtp_rcpt_check_quota, quota_full_tempfail, lmtp_save_to_detail_mailbox.

SEE ALSO
    RFC 2033, RFC 3030 (CHUNKING), Dovecot lmtp and lib-smtp, simlab.store.lmtpd
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

from .actions import ConnectionInfo, ServerCore
from .lmtp_delivery import (
    GREETING, Delivery, DeliveryResult, LmtpBackend, LmtpSettings, added_headers, session_guid,
)
from .smtp_reply import Reply

__all__ = ["CAPABILITIES", "COMMANDS", "GREETING", "Delivery", "DeliveryResult", "LmtpBackend",
           "LmtpServer", "LmtpSettings", "State", "TRANSITIONS", "diagram"]

IDLE_TIMEOUT = 300.0
MAX_LINE = 4096
MAX_BAD_COMMANDS = 10
CAPABILITIES = ("8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES", "PIPELINING")


class State(enum.Enum):
    """Dovecot's smtp_server_state names, as its log shows them ("state=READY")."""

    HELO = "HELO"            # greeted, no LHLO yet
    READY = "READY"
    MAIL_FROM = "MAIL FROM"
    RCPT_TO = "RCPT TO"
    DATA = "DATA"
    CLOSED = "CLOSED"


_OPEN = (State.HELO, State.READY, State.MAIL_FROM, State.RCPT_TO, State.DATA)

# (state, event) -> next state; an event is a command that succeeded.
TRANSITIONS: dict[tuple[State, str], State] = {
    **{(s, "LHLO"): State.READY for s in _OPEN},
    **{(s, "RSET"): State.READY for s in _OPEN},
    **{(s, "QUIT"): State.CLOSED for s in _OPEN},
    **{(s, "connection lost"): State.CLOSED for s in _OPEN},
    (State.HELO, "MAIL"): State.MAIL_FROM,
    (State.READY, "MAIL"): State.MAIL_FROM,
    (State.MAIL_FROM, "RCPT"): State.RCPT_TO,
    (State.RCPT_TO, "RCPT"): State.RCPT_TO,
    (State.RCPT_TO, "DATA"): State.DATA,
    (State.RCPT_TO, "BDAT"): State.DATA,
    (State.DATA, "BDAT"): State.DATA,
    (State.DATA, "end of message"): State.READY,
}

COMMANDS = {"LHLO": "lhlo", "MAIL": "mail", "RCPT": "rcpt", "DATA": "data", "BDAT": "bdat",
            "RSET": "rset", "NOOP": "noop", "QUIT": "quit", "VRFY": "vrfy"}


def diagram() -> str:
    """The transition table as Graphviz dot text (for the notebooks)."""
    lines = ["digraph lmtp {", "  rankdir=LR;"]
    for (src, event), dst in TRANSITIONS.items():
        if event != "connection lost":
            lines.append(f'  "{src.value}" -> "{dst.value}" [label="{event}"];')
    return "\n".join(lines + ["}"])


class Refused(Exception):
    """A command's negative reply."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.reply = Reply.make(code, text)


def parse_path(text: str, allow_empty: bool, what: str) -> tuple[str, str]:
    """'<addr> PARAMS' -> (addr, params); raises Refused with Dovecot's 'Invalid FROM/TO' texts."""
    if not text.startswith("<"):
        raise Refused(501, f"5.5.4 Invalid {what}: Missing '<' at beginning of path")
    end = text.find(">")
    if end < 0:
        raise Refused(501, f"5.5.4 Invalid {what}: Missing '>' at end of path")
    addr, rest = text[1:end], text[end + 1:]
    if rest and not rest.startswith(" "):
        raise Refused(501, f"5.5.4 Invalid {what}: Invalid character in path")
    if not addr and not allow_empty:
        raise Refused(501, f"5.5.4 Invalid {what}: Null path not allowed")
    if addr and ("@" not in addr or addr.startswith("@") or addr.endswith("@")):
        raise Refused(501, f"5.5.4 Invalid {what}: Missing domain")
    return addr, rest.strip()


@dataclass
class _Rcpt:
    address: str
    account: str
    detail: str


class LmtpServer(ServerCore):
    """One LMTP connection (see the module documentation)."""

    idle_timeout = IDLE_TIMEOUT

    def __init__(self, backend: LmtpBackend, conn: ConnectionInfo, clock: Callable[[], float],
                 log: Callable[[str, str], None], *, pid: int = 0,
                 settings: LmtpSettings = LmtpSettings()) -> None:
        super().__init__()
        self.backend, self.conn, self.clock, self.log = backend, conn, clock, log
        self.settings = settings
        self.pid = pid
        self.program = f"lmtp({pid})"
        self.state = State.HELO
        self.session = session_guid(clock(), conn.remote_port, conn.remote_ip, pid)
        self.helo = ""
        self.bad = 0
        self.transactions = 0
        self._reset()
        self.log(self.program, f"Info: Connect from {conn.remote_ip}")
        self.reply(Reply.make(220, f"{settings.hostname} {settings.greeting}"))

    def _reset(self) -> None:
        self.sender: str | None = None
        self.trans_id = ""
        self.trans_time = 0.0
        self.rcpts: list[_Rcpt] = []
        self.chunks: list[bytes] = []
        self.chunking = False
        self.data_lines: list[bytes] | None = None
        self.bdat_left = 0
        self.bdat_last = False
        self.bdat_failed: Reply | None = None

    def move(self, event: str) -> None:
        """Follow TRANSITIONS; an event the table does not know is a bug in this module."""
        self.state = TRANSITIONS[(self.state, event)]

    def reply(self, reply: Reply) -> None:
        self.send(reply.wire())

    # -- input -------------------------------------------------------------------
    def _process(self) -> None:
        while not self.closing:
            if self.bdat_left:
                take = bytes(self._in[:self.bdat_left])
                del self._in[:len(take)]
                self.bdat_left -= len(take)
                self.chunks.append(take)
                if self.bdat_left:
                    if self._eof:
                        self._end("Connection closed", "connection lost")
                    return
                self._chunk_done()
                continue
            try:
                raw = self._take_raw_line()
            except OverflowError:
                self.reply(Reply.make(500, "5.5.2 Line too long"))
                self._in.clear()
                continue
            if raw is None:
                if self._eof:
                    self._end("Connection closed", "connection lost")
                return
            if self.data_lines is not None:
                self._data_line(raw)
            else:
                self._command(raw.rstrip(b"\r\n").decode("utf-8", "replace"))

    def _take_raw_line(self) -> bytes | None:
        nl = self._in.find(b"\n")
        if nl < 0:
            if len(self._in) > MAX_LINE and self.data_lines is None:
                raise OverflowError
            return None
        line = bytes(self._in[:nl + 1])
        del self._in[:nl + 1]
        return line

    def on_timeout(self) -> None:
        self.reply(Reply.make(421, f"4.4.2 {self.settings.hostname} Disconnected for inactivity"))
        self._end("Disconnected for inactivity", "connection lost")

    def _end(self, reason: str, event: str) -> None:
        self.log(self.program, f"Info: Disconnect from {self.conn.remote_ip}: {reason} "
                               f"(state={self.state.value})")
        self.move(event)
        self.close()

    def _command(self, line: str) -> None:
        name, _, params = line.partition(" ")
        handler = COMMANDS.get(name.upper())
        try:
            if not name:
                raise Refused(500, "5.5.2 Invalid command syntax")
            if handler is None:
                raise Refused(500, "5.5.1 Unknown command")
            getattr(self, "cmd_" + handler)(params)
            self.bad = 0
        except Refused as exc:
            self.reply(exc.reply)
            if exc.reply.code in (500, 501, 503):
                self.bad += 1
                if self.bad > MAX_BAD_COMMANDS:
                    self.reply(Reply.make(421, "4.7.0 Too many invalid commands."))
                    self._end("Too many invalid commands.", "connection lost")

    # -- commands ------------------------------------------------------------------
    def cmd_lhlo(self, params: str) -> None:
        domain = params.strip()
        if not domain:
            raise Refused(501, "5.5.4 Missing hostname")
        if any(c.isspace() for c in domain) or domain.startswith("."):
            raise Refused(501, "5.5.4 Invalid domain")
        self.helo = domain
        self._reset()
        self.move("LHLO")
        self.reply(Reply.make(250, self.settings.hostname, *CAPABILITIES))

    def cmd_mail(self, params: str) -> None:
        if self.sender is not None:
            raise Refused(503, "5.5.0 MAIL already given")
        if params[:5].upper() != "FROM:":
            raise Refused(501, "5.5.4 Invalid parameters")
        if params[5:6] in (" ", "\t"):
            raise Refused(501, "5.5.4 Invalid FROM: Unexpected whitespace before path")
        addr, rest = parse_path(params[5:], True, "FROM")
        for word in rest.split():
            key, _, value = word.partition("=")
            if key.upper() == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                continue
            raise Refused(555, f"5.5.4 Unsupported parameter '{key.upper()}'")
        self.sender = addr
        self.transactions += 1
        self.trans_id = self.session if self.transactions == 1 else f"{self.session}:T{self.transactions}"
        self.trans_time = self.clock()
        self.move("MAIL")
        self.reply(Reply.make(250, "2.1.0 OK"))

    def cmd_rcpt(self, params: str) -> None:
        if self.sender is None:
            raise Refused(503, "5.5.0 MAIL needed first")
        if self.chunking:
            raise Refused(503, "5.5.0 Bad sequence of commands")
        if params[:3].upper() != "TO:":
            raise Refused(501, "5.5.4 Invalid parameters")
        addr, rest = parse_path(params[3:].lstrip(" "), False, "TO")
        for word in rest.split():
            if word.partition("=")[0].upper() != "ORCPT":
                raise Refused(555, f"5.5.4 Unsupported parameter '{word.partition('=')[0].upper()}'")
        username, detail = self._split_detail(addr)
        account = self.backend.lookup(username)
        if account is None:
            raise Refused(550, f"5.1.1 <{addr}> User doesn't exist: {username}")
        if self.settings.rcpt_check_quota:
            error = self.backend.over_quota(account)
            if error is not None:
                raise Refused(*self._quota_reply(addr, error))
        self.rcpts.append(_Rcpt(addr, account, detail))
        self.move("RCPT")
        self.reply(Reply.make(250, "2.1.5 OK"))

    def _split_detail(self, addr: str) -> tuple[str, str]:
        local, _, domain = addr.rpartition("@")
        delims = self.settings.recipient_delimiter
        cut = min((local.find(d) for d in delims if d and d in local), default=-1)
        if cut <= 0:
            return addr, ""
        return f"{local[:cut]}@{domain}", local[cut + 1:]

    def _quota_reply(self, addr: str, error: str) -> tuple[int, str]:
        if self.settings.quota_full_tempfail:
            return 452, f"4.2.2 <{addr}> {error}"
        return 552, f"5.2.2 <{addr}> {error}"

    def _check_data_state(self) -> None:
        if self.sender is None:
            raise Refused(503, "5.5.0 MAIL needed first")
        if not self.rcpts:
            raise Refused(554, "5.5.0 No valid recipients")

    def cmd_data(self, params: str) -> None:
        if params.strip():
            raise Refused(501, "5.5.4 Invalid parameters")
        self._check_data_state()
        if self.chunking:
            raise Refused(503, "5.5.0 Bad sequence of commands")
        self.move("DATA")
        self.data_lines = []
        self.reply(Reply.make(354, "OK"))

    def cmd_bdat(self, params: str) -> None:
        words = params.split()
        if not words or not (words[0].isascii() and words[0].isdigit()):
            raise Refused(501, "5.5.4 Invalid chunk size parameter")
        if len(words) > 2:
            raise Refused(501, "5.5.4 Invalid parameters")
        if len(words) == 2 and words[1].upper() != "LAST":
            raise Refused(501, "5.5.4 Invalid end marker parameter")
        size = int(words[0])
        self.bdat_last = len(words) == 2
        try:
            self._check_data_state()
            if self.bdat_failed is not None:
                raise Refused(503, "5.5.0 Previous data chunk failed, issue RSET first")
        except Refused as exc:
            self.bdat_failed = self.bdat_failed or exc.reply
        if self.bdat_failed is None:
            self.chunking = True
            self.move("BDAT")
        self.bdat_left = size
        if size == 0:
            self._chunk_done()

    def _chunk_done(self) -> None:
        if self.bdat_failed is not None:
            self.chunks.clear()
            self.reply(self.bdat_failed)
            return
        size = len(self.chunks[-1]) if self.chunks else 0
        if self.bdat_last:
            self._deliver(b"".join(self.chunks).replace(b"\r\n", b"\n"))
        else:
            self.reply(Reply.make(250, f"2.0.0 Added {size} octets"))

    def cmd_rset(self, params: str) -> None:
        self._reset()
        self.move("RSET")
        self.reply(Reply.make(250, "2.0.0 OK"))

    def cmd_noop(self, params: str) -> None:
        self.reply(Reply.make(250, "2.0.0 OK"))

    def cmd_vrfy(self, params: str) -> None:
        self.reply(Reply.make(252, "2.3.3 Try RCPT instead"))

    def cmd_quit(self, params: str) -> None:
        self.reply(Reply.make(221, "2.0.0 Bye"))
        self._end("Client has quit the connection", "QUIT")

    # -- the message ---------------------------------------------------------------
    def _data_line(self, raw: bytes) -> None:
        assert self.data_lines is not None
        line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        if line == b".":
            body = b"".join(ln + b"\n" for ln in self.data_lines)
            self.data_lines = None
            self._deliver(body)
            return
        self.data_lines.append(line[1:] if line.startswith(b".") else line)

    def added_headers(self) -> bytes:
        return added_headers(self.sender or "", [r.address for r in self.rcpts], self.helo,
                             self.conn.remote_ip, self.settings.hostname, self.trans_id,
                             self.trans_time)

    def _deliver(self, body: bytes) -> None:
        message = self.added_headers() + body
        for n, rcpt in enumerate(self.rcpts, 1):
            sid = self.trans_id if n == 1 else f"{self.trans_id}:{n}"
            folder = rcpt.detail if rcpt.detail and self.settings.save_to_detail_mailbox else "INBOX"
            job = Delivery(rcpt.account, rcpt.address, rcpt.detail, self.sender or "", message, sid,
                           self.pid, mailbox=folder)
            result = self.backend.deliver(job)
            if result.status == "saved":
                self.reply(Reply.make(250, f"2.0.0 <{rcpt.address}> {sid} Saved"))
            elif result.status == "quota":
                self.reply(Reply.make(*self._quota_reply(rcpt.address, result.error)))
            else:
                self.reply(Reply.make(451, f"4.2.0 <{rcpt.address}> {result.error}"))
        self._reset()
        self.move("end of message")
