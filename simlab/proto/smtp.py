"""NAME
    smtp - a sans-IO SMTP/LMTP client: bytes in, replies and results out

SUMMARY
    core = SMTPClient("mail.example.com", "bob@example.com",
                      [Rcpt("alice@example.net")], message_bytes)
    writer.write(core.data_to_send())
    core.receive_data(chunk) ... core.receive_eof()
    core.done, core.rcpt_outcome(0), core.features, core.failure

DESCRIPTION
    The client of one mail transaction, with no I/O of its own (h11 style):
    it is fed the server's bytes and says what to write next. Its states and
    the single transition table live in ``smtp_table``; this module does what
    each state asks: EHLO with HELO fallback (or LHLO for LMTP), AUTH PLAIN
    or LOGIN when credentials are given and offered, XFORWARD (the
    attributes the server lists, NAME ADDR PORT in one command, PROTO HELO
    IDENT SOURCE in the next) when given ``xforward``, MAIL with SIZE / BODY /
    ENVID / RET when the server announces SIZE / 8BITMIME / DSN, one RCPT per
    recipient (ORCPT and NOTIFY with DSN), DATA with dot-stuffing, RSET after
    a refused transaction and QUIT. With PIPELINING (RFC 2920) MAIL, every
    RCPT and DATA go out in one write.

    Results stay on the core for whoever drives it: ``greeting``, ``hello``
    and ``features`` (EHLO keywords), one reply per recipient for RCPT
    (``rcpt_replies``) and after the final dot (``dot_replies``: one per
    accepted recipient in LMTP, the single reply copied to each in SMTP), and
    ``failure``: what stopped the transaction (a reply, a lost connection, a
    time-out, a protocol error, or the server greeting us with a name in
    ``loop_names``). ``rcpt_outcome(i)`` combines them for recipient i. With
    ``verify`` (an address probe, sendmail -bv) the client stops after the
    RCPT replies and sends RSET instead of DATA.

    Every reply also becomes an event (``next_event()``), for views that show
    the dialog as it happens. Given a ``clock``, the core notes when MAIL
    went out (``setup_done_at``, the end of Postfix's "connection setup")
    and when each recipient was decided.

SEE ALSO
    smtp_table, smtp_reply, smtp_wire, simlab.io, RFC 5321, RFC 2033, smtp(8)
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Callable

from .smtp_records import Credentials, Failure, Outcome, Rcpt, ReplyEvent, _reply_event
from .smtp_reply import Reply, ReplyParser, SMTPProtocolError
from .smtp_table import SKIP, State, next_state
from .smtp_wire import b64, dot_stuff, parse_features, quote_821, xtext

__all__ = ["Credentials", "Failure", "Outcome", "Rcpt", "Reply", "ReplyEvent", "SMTPClient",
           "State", "dot_stuff", "quote_821", "xtext"]


# the states whose command _skips() may leave out
_MAY_SKIP = frozenset({State.EHLO, State.LHLO, State.AUTH, State.XFORWARD, State.RCPT, State.DATA,
                       State.DOT})
_HELLOS = frozenset({State.EHLO, State.LHLO, State.HELO})
# the members as plain globals: each State.X goes through EnumType's __getattr__ hook (~60 ns),
# and the machine below compares states a dozen times per reply
_GREETING, _EHLO, _LHLO, _HELO = State.GREETING, State.EHLO, State.LHLO, State.HELO
_AUTH, _XFORWARD, _MAIL, _RCPT, _DATA = State.AUTH, State.XFORWARD, State.MAIL, State.RCPT, State.DATA
_DOT, _RSET, _QUIT, _CLOSED = State.DOT, State.RSET, State.QUIT, State.CLOSED


class SMTPClient:
    """One SMTP or LMTP client transaction, as a state machine without I/O."""

    def __init__(self, helo_name: str, sender: str, recipients: list[Rcpt] | list[str],
                 message: bytes, *, lmtp: bool = False, credentials: Credentials | None = None,
                 esmtp: bool = True, pipelining: bool = True, size: int | None = None,
                 body: str = "", envid: str = "", ret: str = "", smtputf8: bool = False,
                 require_smtputf8: bool = False, line_limit: int = 0, loop_names: tuple[str, ...] = (), verify: bool = False,
                 clock: Callable[[], float] | None = None,
                 xforward: list[tuple[str, str]] | None = None) -> None:
        self.helo_name = helo_name
        self.sender = sender
        self.recipients = [r if isinstance(r, Rcpt) else Rcpt(r) for r in recipients]
        self.message = message
        self.lmtp = lmtp
        self.credentials = credentials
        self.esmtp = esmtp
        self.use_pipelining = pipelining
        self.size = len(message) if size is None else size
        self.body = body
        self.envid = envid
        self.ret = ret
        self.smtputf8 = smtputf8
        self.require_smtputf8 = require_smtputf8   # UTF-8 in the envelope or headers: no SMTPUTF8, no delivery
        self.line_limit = line_limit
        self.loop_names = {n.lower() for n in loop_names}
        self.verify = verify          # address probe: stop after RCPT, send no message
        self.clock = clock or (lambda: 0.0)
        self.setup_done_at = 0.0      # when MAIL went out: the end of connection setup
        self.xforward = xforward      # (attribute, value) to forward, e.g. ("NAME", "client.example")
        self.xforward_replies: list[Reply] = []
        self._xforward_todo: list[str] | None = None

        self.state = State.GREETING
        self.greeting: Reply | None = None
        self.hello: Reply | None = None
        self.hello_command = ""
        self.features: dict[str, str] = {}
        self.peer_name = ""
        self.auth_reply: Reply | None = None
        self.authenticated = False
        self.mail_reply: Reply | None = None
        self.rcpt_replies: list[Reply | None] = [None] * len(self.recipients)
        self.data_reply: Reply | None = None
        self.dot_replies: list[Reply | None] = [None] * len(self.recipients)
        self._times: dict[tuple[State, int], float] = {}
        self.quit_reply: Reply | None = None
        self.failure: Failure | None = None
        self.lines_broken = False
        self.done = False

        self._parser = ReplyParser()
        self._out = bytearray()
        self._pending: collections.deque[State] = collections.deque([State.GREETING])
        self._stale_target: State | None = None
        self._events: collections.deque[ReplyEvent] = collections.deque()
        self._rcpt_sent = 0
        self._rcpt_read = 0
        self._dot_rcpts: list[int] = []
        self._dot_started = False
        self._dot_read = 0
        self._auth_steps: list[str] = []
        self._auth_started = False
        self._mechanism: str | None = None

    # -- the I/O side ------------------------------------------------------------
    def data_to_send(self) -> bytes:
        """Bytes to write now (empty when the client waits for the server)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        if self.done:
            return
        try:
            replies = self._parser.feed(data)
        except SMTPProtocolError as e:
            self._fail(Failure(self._waiting(), "protocol", None, str(e)))
            self._finish()
            return
        for reply in replies:
            if self.done or not self._pending:
                break
            self._on_reply(reply)

    def receive_eof(self) -> None:
        """The server closed the connection."""
        if self.done:
            return
        if self._pending and self._pending[0] is not _QUIT:
            self._fail(Failure(self._waiting(), "lost"))
        self._finish()

    def receive_timeout(self) -> None:
        """The driver waited too long for a reply."""
        if self.done:
            return
        if self._pending and self._pending[0] is not _QUIT:
            self._fail(Failure(self._waiting(), "timeout"))
        self._finish()

    def next_event(self) -> ReplyEvent | None:
        return self._events.popleft() if self._events else None

    @property
    def waiting_for(self) -> State:
        """The state whose reply is awaited (for per-stage time-outs)."""
        return self._waiting()

    # -- results ---------------------------------------------------------------
    def rcpt_outcome(self, i: int) -> Outcome:
        """How recipient ``i`` fared."""
        r = self.rcpt_replies[i]
        if r is not None and (r.cls != 2 or self.verify):
            return Outcome(_RCPT, r, time=self._times.get((_RCPT, i), 0.0))
        d = self.dot_replies[i]
        if d is not None:
            return Outcome(_DOT, d, time=self._times.get((_DOT, i), 0.0))
        if self.failure is not None:
            return Outcome(self.failure.state, self.failure.reply, self.failure, self.failure.time)
        return Outcome(_CLOSED, None, Failure(_CLOSED, "lost"))

    @property
    def accepted(self) -> list[int]:
        return [i for i, r in enumerate(self.rcpt_replies) if r is not None and r.cls == 2]

    # -- the machine ---------------------------------------------------------------
    def _waiting(self) -> State:
        return self._pending[0] if self._pending else self.state

    def _skips(self, state: State) -> bool:
        if state is _EHLO:
            return self.lmtp or not self.esmtp
        if state is _LHLO:
            return not self.lmtp
        if state is _AUTH:
            return not self._auth_started and self._choose_mechanism() is None
        if state is _XFORWARD:
            return not self._xforward_commands()
        if state is _RCPT:
            return self._rcpt_sent >= len(self.recipients)
        if state is _DATA:
            return self.verify or not (self.mail_reply and self.mail_reply.cls == 2 and self.accepted)
        if state is _DOT:
            return self._dot_started and self._dot_read >= len(self._dot_rcpts)
        return False

    def _resolve(self, state: State) -> State:
        while state in _MAY_SKIP and self._skips(state):
            state = next_state(state, SKIP)
        return state

    def _on_reply(self, reply: Reply) -> None:
        state = self._pending.popleft()
        if self._stale_target is not None:
            self._events.append(_reply_event(state, reply, stale=True))
            if state is _DATA and reply.cls == 3:
                self._out += b".\r\n"
                self._pending.append(_DOT)
            if not self._pending:
                target, self._stale_target = self._stale_target, None
                self._enter(target)
            return
        override = self._record(state, reply)
        raw = override if override is not None else next_state(state, reply.code)
        target = self._resolve(raw)
        if self._pending:
            if self._pending[0] not in (raw, target):
                self._stale_target = target
            return
        self._enter(target)

    def _record(self, state: State, reply: Reply) -> State | None:
        """Keep what a reply says; returns a target only where the caller's rules override the table."""
        idx: int | None = None
        if state is _GREETING:
            self.greeting = reply
            if reply.cls != 2:
                self._fail(Failure(state, "reply", reply))
        elif state in _HELLOS:
            self.hello = reply
            self.hello_command = state.name
            if reply.cls == 2:
                words = reply.text_lines[0].split()
                self.peer_name = words[0] if words else ""
                if state is not _HELO:
                    self.features = parse_features(reply)
                if self.peer_name.lower() in self.loop_names:
                    self._fail(Failure(state, "loop", reply))
                    self._events.append(_reply_event(state, reply))
                    return _QUIT
                if self.require_smtputf8 and "SMTPUTF8" not in self.features:
                    self._fail(Failure(state, "smtputf8", reply))
                    self._events.append(_reply_event(state, reply))
                    return _QUIT
            elif state is not _EHLO or reply.code == 421:
                self._fail(Failure(state, "reply", reply))
        elif state is _AUTH:
            self.auth_reply = reply
            if reply.cls == 2:
                self.authenticated = True
            elif reply.cls != 3:
                self._fail(Failure(state, "reply", reply))
        elif state is _XFORWARD:
            self.xforward_replies.append(reply)
        elif state is _MAIL:
            self.mail_reply = reply
            if reply.cls != 2:
                self._fail(Failure(state, "reply", reply))
        elif state is _RCPT:
            idx = self._rcpt_read
            self._rcpt_read += 1
            self.rcpt_replies[idx] = reply
            self._times[(_RCPT, idx)] = self.clock()
        elif state is _DATA:
            self.data_reply = reply
            if reply.cls != 3:
                self._fail(Failure(state, "reply", reply))
        elif state is _DOT:
            if self.lmtp:
                idx = self._dot_rcpts[self._dot_read]
                self.dot_replies[idx] = reply
                self._times[(_DOT, idx)] = self.clock()
            else:
                for i in self._dot_rcpts:
                    self.dot_replies[i] = reply
                    self._times[(_DOT, i)] = self.clock()
            self._dot_read += 1 if self.lmtp else len(self._dot_rcpts)
        elif state is _QUIT:
            self.quit_reply = reply
        self._events.append(_reply_event(state, reply, idx, time=self.clock()))
        return None

    def _fail(self, failure: Failure) -> None:
        if self.failure is None:
            self.failure = dataclasses.replace(failure, time=self.clock())

    def _finish(self) -> None:
        self.state = _CLOSED
        self._pending.clear()
        self.done = True

    def _enter(self, state: State) -> None:
        """Send the command of ``state`` (nothing is in flight when this is called)."""
        self.state = state
        if state is _CLOSED:
            self._finish()
            return
        if state in _HELLOS:
            self._send(state, f"{state.name} {self.helo_name}")
        elif state is _AUTH:
            self._send(state, self._auth_next())
        elif state is _XFORWARD:
            todo = self._xforward_commands()
            if not (self.use_pipelining and "PIPELINING" in self.features):
                self._send(state, todo.pop(0))
                return
            while todo:                  # pipelined with MAIL, as smtp(8) does
                self._send(state, todo.pop(0))
            self._enter(_MAIL)
        elif state is _MAIL:
            self.setup_done_at = self.clock()
            if self.use_pipelining and "PIPELINING" in self.features:
                self._send(state, self._mail_command())
                while self._rcpt_sent < len(self.recipients):
                    self._send(_RCPT, self._rcpt_command())
                if not self.verify:
                    self._send(_DATA, "DATA")
            else:
                self._send(state, self._mail_command())
        elif state is _RCPT:
            self._send(state, self._rcpt_command())
        elif state is _DATA:
            self._send(state, "DATA")
        elif state is _DOT:
            self._dot_rcpts = self.accepted
            self._dot_started = True
            data, self.lines_broken = dot_stuff(self.message, self.line_limit)
            self._out += data + b".\r\n"
            self._pending.extend([_DOT] * (len(self._dot_rcpts) if self.lmtp else 1))
        elif state is _RSET:
            self._send(state, "RSET")
        elif state is _QUIT:
            self._send(state, "QUIT")

    def _send(self, state: State, line: str) -> None:
        self._out += line.encode("utf-8", "surrogateescape") + b"\r\n"
        self._pending.append(state)

    # -- commands ------------------------------------------------------------------
    def _mail_command(self) -> str:
        cmd = f"MAIL FROM:<{quote_821(self.sender)}>"
        if "SIZE" in self.features:
            cmd += f" SIZE={self.size}"
        if "8BITMIME" in self.features and self.body:
            cmd += f" BODY={self.body}"
        if "DSN" in self.features:
            if self.envid:
                cmd += f" ENVID={xtext(self.envid)}"
            if self.ret:
                cmd += f" RET={self.ret}"
        if "SMTPUTF8" in self.features and self.smtputf8:
            cmd += " SMTPUTF8"
        return cmd

    def _rcpt_command(self) -> str:
        r = self.recipients[self._rcpt_sent]
        self._rcpt_sent += 1
        cmd = f"RCPT TO:<{quote_821(r.address)}>"
        if "DSN" in self.features:
            if r.orcpt:
                kind, _, addr = r.orcpt.partition(";")
                cmd += f" ORCPT={kind};{xtext(addr)}"
            if r.notify:
                cmd += f" NOTIFY={r.notify}"
        return cmd

    def _xforward_commands(self) -> list[str]:
        """The XFORWARD commands not yet sent (built once the EHLO keywords are known)."""
        if self._xforward_todo is None:
            offered = set(self.features.get("XFORWARD", "").upper().split())
            self._xforward_todo = []
            if self.xforward and "XFORWARD" in self.features:
                for names in (("NAME", "ADDR", "PORT"), ("PROTO", "HELO", "IDENT", "SOURCE")):
                    words = [f"{k}={xtext(v)}" for k, v in self.xforward if k in names and k in offered]
                    if words:
                        self._xforward_todo.append("XFORWARD " + " ".join(words))
        return self._xforward_todo

    def _choose_mechanism(self) -> str | None:
        if self.credentials is None or "AUTH" not in self.features:
            return None
        offered = self.features["AUTH"].upper().split()
        wanted = [self.credentials.mechanism.upper()] if self.credentials.mechanism else ["PLAIN", "LOGIN"]
        return next((m for m in wanted if m in offered and m in ("PLAIN", "LOGIN")), None)

    def _auth_next(self) -> str:
        if not self._auth_started:
            self._auth_started = True
            self._mechanism = self._choose_mechanism()
            creds = self.credentials
            assert creds is not None and self._mechanism is not None
            if self._mechanism == "PLAIN":
                token = b64(f"\0{creds.username}\0{creds.password}")
                self._auth_steps = [token]
                return f"AUTH PLAIN {token}"
            self._auth_steps = [b64(creds.username), b64(creds.password)]
            return "AUTH LOGIN"
        return self._auth_steps.pop(0) if self._auth_steps else "*"
