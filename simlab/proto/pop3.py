"""NAME
    pop3 - a sans-IO POP3 server core that answers as Dovecot 2.3 does

SUMMARY
    core = Pop3Server(store, ConnectionInfo(...), clock, log)
    core.data_to_send()            # b"+OK Dovecot (Debian) ready.\\r\\n"
    core.receive_data(b"USER erin\\r\\n"); core.next_action()   # NeedData | Sleep | Close

DESCRIPTION
    RFC 1939 with RFC 2449 CAPA and RFC 5034 AUTH, split the way Dovecot
    splits it: pop3-login answers CAPA, USER, PASS, AUTH (PLAIN and LOGIN,
    with an initial response or a "+ " continuation), APOP, STLS and QUIT;
    after a login the pop3 process answers CAPA, STAT, LIST, UIDL, TOP,
    RETR, DELE, RSET, NOOP and QUIT. Replies carry Dovecot's texts, e.g.
    "-ERR Unknown command." before login and "-ERR Unknown command: LAST"
    after it (LAST is disabled, pop3_enable_last = no).

    Messages are numbered from the mailbox as it was at login. DELE only
    marks; QUIT expunges the marked messages and gives \\Seen to those
    retrieved with RETR (unless RSET came after), then writes the mailbox.
    A lost connection changes nothing. UIDL is pop3_uidl_format
    %08Xu%08Xv: the UID and UIDVALIDITY in hex.

    A failed login is answered "-ERR [AUTH] Authentication failed." only
    after auth_failure_delay, and anvil's penalty may hold the next
    attempt first; both are Sleep requests to the adapter. Three unknown
    commands before login, or 20 bad ones after it, end the session.

    The state table ``COMMANDS`` and the ``TRANSITIONS`` list are the whole
    protocol; diagrams are drawn from them.

PARAMETERS
    login_greeting (Dovecot (Debian) ready.), pop3_uidl_format,
    pop3_logout_format (top=%t/%p, retr=%r/%b, del=%d/%m, size=%s),
    auth_mechanisms, auth_failure_delay.

SEE ALSO
    RFC 1939, RFC 2449, RFC 5034, Dovecot pop3 and pop3-login
"""

from __future__ import annotations

import contextlib
import enum
from typing import Callable

from .actions import ConnectionInfo, ServerCore
from .login import (
    AUTH_FAILED_MSG,
    MECHANISMS,
    Challenge,
    Credentials,
    LoginClient,
    Sasl,
    SaslFailure,
)
from .mailbox import AuthTicket, MessageInfo, OpenMailbox, StorageError, StoreBackend

GREETING = "Dovecot (Debian) ready."
LOGIN_IDLE_TIMEOUT = 180.0
IDLE_TIMEOUT = 600.0
MAX_LINE = 4096
LOGIN_MAX_BAD_COMMANDS = 3
MAX_BAD_COMMANDS = 20
CAPABILITIES = ("CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE")


class State(enum.Enum):
    AUTHORIZATION = "AUTHORIZATION"
    TRANSACTION = "TRANSACTION"
    UPDATE = "UPDATE"
    CLOSED = "CLOSED"


COMMANDS: dict[State, dict[str, str]] = {
    State.AUTHORIZATION: {
        "CAPA": "login_capa", "USER": "user", "PASS": "pass", "AUTH": "auth",
        "APOP": "apop", "STLS": "stls", "QUIT": "login_quit", "XCLIENT": "xclient",
    },
    State.TRANSACTION: {
        "CAPA": "capa", "DELE": "dele", "LIST": "list", "NOOP": "noop", "QUIT": "quit",
        "RETR": "retr", "RSET": "rset", "STAT": "stat", "TOP": "top", "UIDL": "uidl",
    },
}

TRANSITIONS: tuple[tuple[State, str, State], ...] = (
    (State.AUTHORIZATION, "USER/PASS, AUTH or APOP accepted", State.TRANSACTION),
    (State.AUTHORIZATION, "QUIT, or connection lost", State.CLOSED),
    (State.TRANSACTION, "QUIT", State.UPDATE),
    (State.TRANSACTION, "connection lost (nothing deleted)", State.CLOSED),
    (State.UPDATE, "deletions and \\Seen written", State.CLOSED),
)


class BadCommand(Exception):
    """A reply that counts as a bad command (Dovecot's -1 return)."""


def _number(text: str, invalid: str, too_large: str, noise: str, then_space: bool,
            bits: int = 32) -> tuple[int, str]:
    if not text[:1] or text[0] not in "0123456789":
        raise BadCommand(f"-ERR {invalid}: {text}")
    digits = len(text) - len(text.lstrip("0123456789"))
    value, rest = int(text[:digits]), text[digits:]
    if value >= 2**bits:
        raise BadCommand(f"-ERR {too_large}: {rest}")
    if rest[:1] != (" " if then_space else ""):
        raise BadCommand(f"-ERR {noise}: {rest}")
    return value, rest.lstrip(" ")


def message_lines(data: bytes, body_lines: int | None = None) -> bytes:
    """RETR/TOP output: CRLF line ends, dot-stuffed, ending with CRLF (no final dot).

    With BODY_LINES, the header, the blank line and that many body lines.
    """
    text = data.replace(b"\r\n", b"\n")
    if body_lines is not None:
        eoh = text.find(b"\n\n")
        head_end = 1 if text.startswith(b"\n") else (eoh + 2 if eoh >= 0 else len(text))
        parts = text[head_end:].split(b"\n")
        body = b"\n".join(parts[:body_lines]) + (b"\n" if len(parts) > body_lines else b"")
        text = text[:head_end] + (body if body_lines else b"")
    out = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in text.split(b"\n"))
    return out if out.endswith(b"\r\n") else out + b"\r\n"


class Pop3Server(ServerCore):
    """One POP3 connection (see the module documentation)."""

    def __init__(self, store: StoreBackend, conn: ConnectionInfo, clock: Callable[[], float],
                 log: Callable[[str, str], None], *, greeting: str = GREETING,
                 apop: bool = False, hostname: str = "localhost") -> None:
        super().__init__()
        self.store, self.conn, self.clock, self.log = store, conn, clock, log
        self.state = State.AUTHORIZATION
        self.login = LoginClient("pop3-login", conn, clock, log)
        self.bad = 0
        self.last_user: str | None = None
        self.sasl: Sasl | None = None
        self.ticket: AuthTicket | None = None
        self.apop_challenge = (f"<{conn.remote_port}.{int(self.login.created)}@{hostname}>"
                               if apop else None)
        self.program = "pop3"
        self.box: OpenMailbox | None = None
        self.messages: list[MessageInfo] = []
        self.deleted: set[int] = set()
        self.expunged = 0
        self.seen: set[int] = set()
        self.stats = {"top": 0, "top_bytes": 0, "retr": 0, "retr_bytes": 0}
        banner = f"+OK {greeting}"
        self.send_line(banner + (f" {self.apop_challenge}" if self.apop_challenge else ""))

    # -- input -------------------------------------------------------------------
    def current_timeout(self) -> float | None:
        return IDLE_TIMEOUT if self.state is State.TRANSACTION else LOGIN_IDLE_TIMEOUT

    def _process(self) -> None:
        while not self.closing and self._sleep is None:
            try:
                raw = self.take_line(MAX_LINE)
            except OverflowError:
                # pop3-login and pop3 word it differently
                if self.state is State.AUTHORIZATION:
                    self.send_line("-ERR Input buffer full, aborting")
                    self._end("Input buffer full")
                else:
                    self.send_line("-ERR Input line too long.")
                    self._end("Input line too long")
                return
            if raw is None:
                if self._eof:
                    self._end("Connection closed")
                return
            self._line(raw.decode("utf-8", "replace"))

    def on_timeout(self) -> None:
        self.send_line("-ERR Disconnected for inactivity.")
        self._end("Inactivity")

    def _line(self, text: str) -> None:
        if self.sasl is not None:
            self._sasl_step(self.sasl.respond(text))
            return
        name, _, args = text.partition(" ")
        name = name.upper()
        handler = COMMANDS.get(self.state, {}).get(name)
        try:
            if handler is None:
                if self.state is State.AUTHORIZATION:
                    self._login_bad("-ERR Unknown command.")
                    return
                raise BadCommand(f"-ERR Unknown command: {name}" if name else "-ERR Unknown command.")
            getattr(self, "cmd_" + handler)(args.lstrip(" "))
            self.bad = 0
        except StorageError as exc:
            self.send_line(f"-ERR [SYS/TEMP] {exc.text}")
        except BadCommand as exc:
            self.send_line(str(exc))
            self.bad += 1
            if self.bad > MAX_BAD_COMMANDS:
                self.send_line("-ERR Too many bad commands.")
                self._end("Too many bad commands")

    def _login_bad(self, reply: str) -> None:
        self.bad += 1
        self.send_line(reply)
        if self.bad >= LOGIN_MAX_BAD_COMMANDS:
            self.send_line("-ERR Too many invalid bad commands.")
            self._end("Disconnected: Too many bad commands")

    def _end(self, reason: str) -> None:
        if self.state is State.AUTHORIZATION:
            self.login.log_disconnect(reason)
        elif self.state is State.TRANSACTION or self.state is State.UPDATE:
            if self.box is not None:
                with contextlib.suppress(StorageError):
                    self.box.close()
            self.log(self.program, f"Info: Disconnected: {reason} {self._logout_stats()}")
        self.state = State.CLOSED
        self.close()

    # -- authorization (pop3-login) ----------------------------------------------
    def cmd_login_capa(self, args: str) -> None:
        lines = ["+OK", *CAPABILITIES, "USER", "SASL " + " ".join(MECHANISMS), "."]
        self.send("".join(f"{ln}\r\n" for ln in lines).encode())

    def cmd_user(self, args: str) -> None:
        self.last_user = args
        self.send_line("+OK")

    def cmd_pass(self, args: str) -> None:
        if self.last_user is None:
            self.send_line("-ERR No username given.")
            return
        user, self.last_user = self.last_user, None
        self.login.begin_auth("PLAIN", user)
        self._authenticate(Credentials(user, args))

    def cmd_apop(self, args: str) -> None:
        if self.apop_challenge is None:
            self.send_line("-ERR APOP not enabled.")
            return
        user, _, digest = args.partition(" ")
        if len(digest) != 32:
            self.send_line("-ERR Invalid parameters.")
            return
        self.login.begin_auth("APOP", user)
        challenge = self.apop_challenge
        self._authenticate(Credentials(user, ""), apop=(challenge, digest.lower()))

    def cmd_stls(self, args: str) -> None:
        self.send_line("-ERR TLS support isn't enabled.")

    def cmd_xclient(self, args: str) -> None:
        self.send_line("+OK You are not from trusted IP - ignoring")

    def cmd_login_quit(self, args: str) -> None:
        self.send_line("+OK Logging out")
        self._end("Aborted login by logging out")

    def cmd_auth(self, args: str) -> None:
        if not args:
            self.send(b"+OK\r\n" + b"".join(m.encode() + b"\r\n" for m in MECHANISMS) + b".\r\n")
            return
        mech, _, initial = args.partition(" ")
        self.login.begin_auth(mech.upper())
        self.sasl, step = Sasl.start(mech, initial if initial else None)
        if isinstance(step, SaslFailure) and step.kind == "mechanism":
            self._sasl_step(step)
            return
        # anvil's penalty holds the request when it starts, before any challenge
        self.ticket = self.store.auth_request(self.conn.remote_ip)
        if self.ticket.delay > 0:
            self.sleep_then(self.ticket.delay, lambda: self._sasl_step(step))
        else:
            self._sasl_step(step)

    def _sasl_step(self, step: Challenge | Credentials | SaslFailure) -> None:
        if isinstance(step, Challenge):
            self.login.sasl_waiting = True
            self.send_line("+ " + step.data)
            return
        self.sasl, self.login.sasl_waiting = None, False
        if isinstance(step, Credentials):
            self.login.user = step.user
            self._authenticate(step)
        elif step.kind == "aborted":
            self.send_line("-ERR " + step.text)
        elif step.kind == "invalid":
            self._authenticate(Credentials("", ""))
        else:
            self.send_line("-ERR [AUTH] " + step.text)

    def _authenticate(self, cred: Credentials, apop: tuple[str, str] | None = None) -> None:
        held, self.ticket = self.ticket, None
        ticket = held or self.store.auth_request(self.conn.remote_ip)

        def check() -> None:
            if apop is not None:
                account = self.store.auth_verify_apop(ticket, cred.user, *apop)
            else:
                account = self.store.auth_verify(ticket, cred.user, cred.password, cred.authzid)
            if account is None:
                self.sleep_then(self.store.auth_failure_delay,
                                lambda: self.send_line("-ERR [AUTH] " + AUTH_FAILED_MSG))
            else:
                self._logged_in(account)

        if ticket.delay > 0 and held is None:
            self.sleep_then(ticket.delay, check)
        else:
            check()

    def _logged_in(self, account: str) -> None:
        mpid = self.store.new_pid()
        self.login.user = account
        self.login.log_login(mpid)
        self.program = f"pop3({account})<{mpid}><{self.login.session}>"
        try:
            self.box = self.store.mailboxes(account).open("INBOX", readonly=False)
            self.messages = sorted(self.box.sync(), key=lambda m: m.uid)
        except StorageError as exc:
            self.send_line(f"-ERR [SYS/TEMP] {exc.text}")
            self.state = State.TRANSACTION
            self._end("Couldn't open INBOX")
            return
        self.messages_count = len(self.messages)
        self.total_size = sum(m.size for m in self.messages)
        self.state = State.TRANSACTION
        self.bad = 0
        self.send_line("+OK Logged in.")

    # -- transaction (pop3) ------------------------------------------------------
    def _msgnum(self, args: str, then_space: bool = False) -> tuple[int, str]:
        num, rest = _number(args, "Invalid message number", "Message number too large",
                            "Noise after message number", then_space)
        if num == 0 or num > len(self.messages):
            raise BadCommand(f"-ERR There's no message {num}.")
        if num - 1 in self.deleted:
            raise BadCommand("-ERR Message is deleted.")
        return num - 1, rest

    def _logout_stats(self) -> str:
        s = self.stats
        return (f"top={s['top']}/{s['top_bytes']}, retr={s['retr']}/{s['retr_bytes']}, "
                f"del={self.expunged}/{len(self.messages)}, "
                f"size={sum(m.size for m in self.messages)}")

    def cmd_capa(self, args: str) -> None:
        self.send("".join(f"{ln}\r\n" for ln in ("+OK", *CAPABILITIES, ".")).encode())

    def cmd_stat(self, args: str) -> None:
        live = [m for i, m in enumerate(self.messages) if i not in self.deleted]
        self.send_line(f"+OK {len(live)} {sum(m.size for m in live)}")

    def cmd_list(self, args: str) -> None:
        if args:
            i, _ = self._msgnum(args)
            self.send_line(f"+OK {i + 1} {self.messages[i].size}")
            return
        lines = [f"+OK {len(self.messages) - len(self.deleted)} messages:"]
        lines += [f"{i + 1} {m.size}" for i, m in enumerate(self.messages) if i not in self.deleted]
        self.send("".join(ln + "\r\n" for ln in [*lines, "."]).encode())

    def _uidl(self, m: MessageInfo) -> str:
        assert self.box is not None
        return f"{m.uid:08x}{self.box.uidvalidity:08x}"

    def cmd_uidl(self, args: str) -> None:
        if args:
            i, _ = self._msgnum(args)
            self.send_line(f"+OK {i + 1} {self._uidl(self.messages[i])}")
            return
        lines = ["+OK"]
        lines += [f"{i + 1} {self._uidl(m)}" for i, m in enumerate(self.messages)
                  if i not in self.deleted]
        self.send("".join(ln + "\r\n" for ln in [*lines, "."]).encode())

    def _fetch(self, i: int, body_lines: int | None) -> int:
        assert self.box is not None
        try:
            data = self.box.data(self.messages[i].uid)
        except StorageError:
            raise BadCommand(f"-ERR Message {i + 1} expunged.") from None
        head = (f"+OK {self.messages[i].size} octets" if body_lines is None else "+OK").encode()
        payload = head + b"\r\n" + message_lines(data, body_lines)
        self.send(payload + b".\r\n")
        return len(payload)

    def cmd_retr(self, args: str) -> None:
        i, _ = self._msgnum(args)
        self.stats["retr"] += 1
        self.stats["retr_bytes"] += self._fetch(i, None)
        if "\\Seen" not in self.messages[i].flags:
            self.seen.add(i)

    def cmd_top(self, args: str) -> None:
        i, rest = self._msgnum(args, then_space=True)
        lines, _ = _number(rest, "Invalid size", "Size too large", "Noise after size", False, 64)
        self.stats["top"] += 1
        self.stats["top_bytes"] += self._fetch(i, lines)

    def cmd_dele(self, args: str) -> None:
        i, _ = self._msgnum(args)
        self.deleted.add(i)
        self.send_line("+OK Marked to be deleted.")

    def cmd_rset(self, args: str) -> None:
        self.deleted.clear()
        self.seen.clear()
        self.send_line("+OK")

    def cmd_noop(self, args: str) -> None:
        self.send_line("+OK")

    def cmd_quit(self, args: str) -> None:
        self.state = State.UPDATE
        assert self.box is not None
        try:
            if self.seen:
                self.box.store([self.messages[i].uid for i in sorted(self.seen)], add={"\\Seen"})
            if self.deleted:
                self.box.expunge([self.messages[i].uid for i in sorted(self.deleted)])
                self.expunged = len(self.deleted)
            self.box.checkpoint()
        except StorageError as exc:
            self.send_line(f"-ERR [SYS/TEMP] {exc.text}")
            self._end("Storage error during logout.")
            return
        self.send_line("+OK Logging out, messages deleted." if self.deleted else "+OK Logging out.")
        self._end("Logged out")

