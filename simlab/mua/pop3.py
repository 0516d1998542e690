"""NAME
    pop3 - the mail client's POP3 side, sans-IO: log in, list, retrieve, maybe delete

SUMMARY
    core = POP3Client("erin", "erin-pw", delete=False)
    await run_client(core, reader, writer)
    core.messages     # [(number, uid, size, raw bytes)], core.error

DESCRIPTION
    One POP3 session (RFC 1939) driven by TRANSITIONS, keyed by (state,
    "+OK" | "-ERR" | SKIP): USER and PASS, STAT, LIST (sizes), UIDL (unique
    ids, optional), RETR of every message, DELE of each unless the mail is
    kept on the server, QUIT -- the server expunges only after QUIT.
    Multi-line answers end with a lone "." and have leading dots doubled;
    both are undone here. A "-ERR" to USER, PASS or STAT ends the session
    with ``error`` set to the server's text ("-ERR [AUTH] Authentication
    failed.").

SEE ALSO
    RFC 1939, simlab.io.run_client, simlab.proto.pop3 (the server)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .dialog import Dialog

SKIP = "SKIP"


class P(enum.Enum):
    GREETING = "GREETING"
    USER = "USER"
    PASS = "PASS"
    STAT = "STAT"
    LIST = "LIST"
    UIDL = "UIDL"
    RETR = "RETR"
    DELE = "DELE"
    QUIT = "QUIT"
    CLOSED = "CLOSED"


TRANSITIONS: dict[tuple[P, str], P] = {
    (P.GREETING, "+OK"): P.USER, (P.GREETING, "-ERR"): P.CLOSED,
    (P.USER, "+OK"): P.PASS, (P.USER, "-ERR"): P.QUIT,
    (P.PASS, "+OK"): P.STAT, (P.PASS, "-ERR"): P.QUIT,
    (P.STAT, "+OK"): P.LIST, (P.STAT, "-ERR"): P.QUIT,
    (P.LIST, "+OK"): P.UIDL, (P.LIST, "-ERR"): P.UIDL,
    (P.UIDL, "+OK"): P.RETR, (P.UIDL, "-ERR"): P.RETR,
    (P.RETR, "+OK"): P.RETR, (P.RETR, "-ERR"): P.RETR, (P.RETR, SKIP): P.DELE,
    (P.DELE, "+OK"): P.DELE, (P.DELE, "-ERR"): P.DELE, (P.DELE, SKIP): P.QUIT,
    (P.QUIT, "+OK"): P.CLOSED, (P.QUIT, "-ERR"): P.CLOSED,
}
MULTILINE = {P.LIST, P.UIDL, P.RETR}


@dataclass
class Retrieved:
    number: int
    uid: str
    size: int
    raw: bytes


class POP3Client(Dialog):
    """A POP3 session that fetches the whole mailbox."""

    FINAL = P.QUIT

    def __init__(self, user: str, password: str, delete: bool = False) -> None:
        self.user = user
        self.password = password
        self.delete = delete
        self.state = P.GREETING
        self.done = False
        self.error = ""
        self.greeting = ""
        self.count = 0
        self.sizes: dict[int, int] = {}
        self.uids: dict[int, str] = {}
        self.messages: list[Retrieved] = []
        self.deleted: list[int] = []
        self._out = bytearray()
        self._buf = b""
        self._status: str | None = None
        self._lines: list[bytes] = []
        self._first = ""
        self._next = 1

    def receive_data(self, data: bytes) -> None:
        self._buf += data
        while not self.done:
            nl = self._buf.find(b"\n")
            if nl < 0:
                return
            line, self._buf = self._buf[:nl].rstrip(b"\r"), self._buf[nl + 1:]
            if self._status is None:
                self._status = "+OK" if line.startswith(b"+OK") else "-ERR"
                self._first = line.decode("utf-8", "replace")
                if self._status == "+OK" and self.state in MULTILINE:
                    continue
            elif line != b".":
                self._lines.append(line[1:] if line.startswith(b"..") else line)
                continue
            status, first, lines = self._status, self._first, self._lines
            self._status, self._lines = None, []
            self._reply(status, first, lines)

    def _reply(self, status: str, first: str, lines: list[bytes]) -> None:
        state = self.state
        if state is P.GREETING:
            self.greeting = first
        elif state in (P.USER, P.PASS, P.STAT) and status == "-ERR":
            self.error = first
        elif state is P.STAT:
            words = first.split()
            self.count = int(words[1]) if len(words) > 1 and (words[1].isascii() and words[1].isdigit()) else 0
        elif state is P.LIST and status == "+OK":
            for ln in lines:
                num, _, size = ln.decode("ascii", "replace").partition(" ")
                if num.isascii() and num.isdigit() and size.strip().isascii() and size.strip().isdigit():
                    self.sizes[int(num)] = int(size)
        elif state is P.UIDL and status == "+OK":
            for ln in lines:
                num, _, uid = ln.decode("ascii", "replace").partition(" ")
                if num.isascii() and num.isdigit():
                    self.uids[int(num)] = uid.strip()
        elif state is P.RETR and status == "+OK":
            n = self._next - 1
            self.messages.append(Retrieved(n, self.uids.get(n, str(n)), self.sizes.get(n, 0),
                                           b"".join(ln + b"\n" for ln in lines)))
        elif state is P.DELE and status == "+OK":
            self.deleted.append(self._next - 1)
        self._enter(TRANSITIONS[(state, status)])

    def _skips(self, state: P) -> bool:
        if state is P.RETR:
            return self._next > self.count
        if state is P.DELE:
            return not self.delete or self._next > self.count
        return False

    def _enter(self, state: P) -> None:
        while self._skips(state):
            if state is P.RETR:
                self._next = 1
            state = TRANSITIONS[(state, SKIP)]
        self.state = state
        if state is P.CLOSED:
            self.done = True
            return
        if state in (P.RETR, P.DELE):
            cmd = f"{state.name} {self._next}"
            self._next += 1
        else:
            cmd = {P.USER: f"USER {self.user}", P.PASS: f"PASS {self.password}"}.get(state, state.name)
        self._out += cmd.encode("utf-8") + b"\r\n"
