"""NAME
    dialog - where SMTP, LMTP, POP3 and IMAP commands and replies begin and end

SUMMARY
    fr = framer("smtp"); fr.client("DATA"); fr.server("354 End data ...") -> Reply
    turns(lines, "smtp") -> [Turn(side="C", kind="command", lines=["EHLO pc"]), ...]
    guess_protocol(port=25, server_component="smtpd", first_server_line="220 ...")

DESCRIPTION
    A line-oriented mail protocol is a dialog of commands and replies, but a
    reply may span several lines (an SMTP ``250-`` continuation, a POP3
    multi-line answer ending in ``.``, IMAP untagged lines and literals up to
    the tagged completion) and some client lines are not commands at all (the
    message after ``354``, a BDAT chunk, an IMAP literal or SASL answer).

    A ``Framer`` follows one connection's state the way the server does and
    says where each reply ends; the console widget uses it to know how many
    replies to wait for, and ``turns`` uses it to cut a recorded dialog into
    the arrows of a sequence diagram.

    SMTP after RFC 5321 section 4.2 (a reply ends at a line with a space after
    the code), LMTP after RFC 2033 section 4.2 (one reply per accepted
    recipient after the final dot), POP3 after RFC 1939 section 3 and IMAP
    after RFC 9051 section 2.2.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

PROTOCOLS = ("smtp", "lmtp", "pop3", "imap")
_CODE = re.compile(r"^(\d{3})([ -]|$)")
_LITERAL = re.compile(r"\{(\d+)\+?\}$")
POP3_MULTILINE = {"CAPA", "RETR", "TOP"}
POP3_MULTILINE_NOARG = {"LIST", "UIDL", "AUTH"}


@dataclass
class Reply:
    """One complete server reply, and the command it answers."""

    lines: list[str]
    command: str            # the client line it answers ("" for the greeting, "?" unsolicited)
    status: str             # "250", "+OK", "-ERR", "+", "OK", "NO", "BAD", "BYE", "*"

    @property
    def klass(self) -> str:
        """'2', '3', '4', '5' or '?': the colour class of the reply."""
        s = self.status
        if s[:1].isdigit():
            return s[0]
        return {"+OK": "2", "OK": "2", "PREAUTH": "2", "*": "2", "+": "3", "-ERR": "5", "NO": "5",
                "BAD": "5", "BYE": "4"}.get(s, "?")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Expect:
    command: str
    verb: str
    tag: str = ""


class Framer:
    """Follows one connection of ``protocol`` line by line."""

    def __init__(self, protocol: str = "smtp") -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
        self.protocol = protocol
        self.pending: deque[_Expect] = deque([_Expect("", "CONNECT")])
        self.mode = "command"          # "command", "data", "bdat", "literal", "continuation"
        self.remaining = 0             # bytes left in a BDAT chunk or client literal
        self.accepted_rcpts = 0        # LMTP: replies due after the final dot
        self._lines: list[str] = []
        self._server_literal = 0
        self._multiline = False

    # -- client side ---------------------------------------------------------------
    def blocked(self) -> bool:
        """True when the next client line's meaning depends on a reply not seen yet."""
        return bool(self.pending) and self.pending[-1].verb == "DATA" and self.protocol in ("smtp", "lmtp")

    def client(self, line: str) -> str:
        """Feed one client line (without CRLF): 'command', 'content' or 'content-end'."""
        if self.mode == "data":
            if line == ".":
                self.mode = "command"
                n = max(1, self.accepted_rcpts) if self.protocol == "lmtp" else 1
                for _ in range(n):
                    self.pending.append(_Expect(".", "DATA-END"))
                self.accepted_rcpts = 0
                return "content-end"
            return "content"
        if self.mode in ("bdat", "literal"):
            self.remaining -= len(line.encode("utf-8", "surrogateescape")) + 2
            if self.remaining > 0:
                return "content"
            self.mode = "command"
            self._after_literal(line)
            return "content-end"
        if self.mode == "continuation":
            self.mode = "command"
            return "content-end"
        return self._command(line)

    def _command(self, line: str) -> str:
        words = line.split()
        if self.protocol == "imap":
            if not words:
                return "command"
            tag = words[0]
            verb = " ".join(w.upper() for w in words[1:3]) if len(words) > 1 and words[1].upper() == "UID" \
                else (words[1].upper() if len(words) > 1 else "")
            self.pending.append(_Expect(line, verb, tag))
            self._after_literal(line)
            return "command"
        verb = words[0].upper() if words else ""
        self.pending.append(_Expect(line, verb))
        if verb == "BDAT" and len(words) > 1 and words[1].isascii() and words[1].isdigit() and int(words[1]) > 0:
            self.mode, self.remaining = "bdat", int(words[1])
        return "command"

    def _after_literal(self, line: str) -> None:
        m = _LITERAL.search(line)
        if m and self.protocol == "imap" and int(m.group(1)) > 0:
            self.mode, self.remaining = "literal", int(m.group(1))
            if "+" not in m.group(0):
                self.pending.append(_Expect(line, "LITERAL"))

    def awaiting(self) -> bool:
        """True while the server owes a reply the client can wait for."""
        if not self.pending:
            return False
        if self.mode == "bdat":
            return False
        if self.mode == "literal":
            return any(e.verb == "LITERAL" for e in self.pending)
        return True

    # -- server side ---------------------------------------------------------------
    def server(self, line: str) -> Reply | None:
        """Feed one server line (without CRLF); returns the reply it completes, if any."""
        self._lines.append(line)
        done = getattr(self, "_server_" + ("smtp" if self.protocol == "lmtp" else self.protocol))(line)
        if done is None:
            return None
        status, pop = done
        exp = (self.pending.popleft() if pop else self.pending[0]) if self.pending else _Expect("?", "?")
        reply = Reply(self._lines, exp.command, status)
        self._lines = []
        self._effects(exp, reply)
        return reply

    def _server_smtp(self, line: str) -> tuple[str, bool] | None:
        m = _CODE.match(line)
        if m and m.group(2) == "-":
            return None
        return (m.group(1) if m else "?"), True

    def _server_pop3(self, line: str) -> tuple[str, bool] | None:
        if self._multiline:
            if line == ".":
                self._multiline = False
                return "+OK", True
            return None
        status = line.split(" ", 1)[0] if line.startswith(("+OK", "-ERR")) else ("+" if line.startswith("+") else "?")
        exp = self.pending[0] if self.pending else None
        if status == "+OK" and exp is not None:
            args = exp.command.split()[1:]
            if exp.verb in POP3_MULTILINE or (exp.verb in POP3_MULTILINE_NOARG and not args):
                self._multiline = True
                return None
        if status == "+":
            self.mode = "continuation"
            return "+", False
        return status, True

    def _server_imap(self, line: str) -> tuple[str, bool] | None:
        if self._server_literal > 0:
            self._server_literal -= len(line.encode("utf-8", "surrogateescape")) + 2
            if self._server_literal > 0:
                return None
            line = ""  # the rest of the line after the literal is read with the next one
        m = _LITERAL.search(line)
        if m:
            self._server_literal = int(m.group(1))
            if self._server_literal > 0:
                return None
        exp = self.pending[0] if self.pending else None
        if line.startswith("+"):
            lit = next((e for e in self.pending if e.verb == "LITERAL"), None)
            if lit is not None:
                self.pending.remove(lit)
            elif self.mode == "command":
                self.mode = "continuation"
            return "+", False
        word, _, rest = line.partition(" ")
        if word == "*":
            status = rest.split(" ", 1)[0].upper()
            if exp is None or exp.verb == "CONNECT":
                return (status if status in ("OK", "PREAUTH", "BYE") else "*"), True
            return None
        if exp is not None and exp.tag and word == exp.tag:
            if self.mode == "continuation":
                self.mode = "command"
            return rest.split(" ", 1)[0].upper() or "?", True
        return None if exp is not None else ("?", True)

    def _effects(self, exp: _Expect, reply: Reply) -> None:
        ok = reply.klass == "2"
        if self.protocol in ("smtp", "lmtp"):
            if exp.verb == "DATA" and reply.status == "354":
                self.mode = "data"
            elif exp.verb in ("MAIL", "RSET", "EHLO", "HELO", "LHLO"):
                self.accepted_rcpts = 0
            elif exp.verb == "RCPT" and ok:
                self.accepted_rcpts += 1


def framer(protocol: str = "smtp") -> Framer:
    return Framer(protocol)


@dataclass
class Line:
    """One line of a recorded dialog: order key, virtual time, side, text."""

    key: tuple[int, int]
    time: float
    side: str
    text: str


@dataclass
class Turn:
    """One arrow of a sequence diagram: a command, a message content, or a reply."""

    side: str
    kind: str               # "command", "content", "reply"
    time: float
    lines: list[str] = field(default_factory=list)
    status: str = ""
    klass: str = "?"
    key: tuple[int, int] = (0, 0)
    command: str = ""       # for a reply: the client line it answers


def turns(lines: list[Line], protocol: str) -> list[Turn]:
    """Cut a recorded dialog into commands, contents and replies, in time order."""
    fr = Framer(protocol)
    cl = deque(ln for ln in lines if ln.side == "C")
    sv = deque(ln for ln in lines if ln.side == "S")
    out: list[Turn] = []
    content: Turn | None = None
    reply_start: Line | None = None
    while cl or sv:
        take_client = bool(cl) and (not sv or cl[0].key < sv[0].key)
        if take_client and fr.blocked() and sv:
            take_client = False
        if take_client:
            ln = cl.popleft()
            role = fr.client(ln.text)
            if role == "command":
                out.append(Turn("C", "command", ln.time, [ln.text], key=ln.key))
                continue
            if content is None:
                content = Turn("C", "content", ln.time, [], key=ln.key)
                out.append(content)
            content.lines.append(ln.text)
            if role == "content-end":
                content = None
            continue
        ln = sv.popleft()
        reply_start = reply_start or ln
        rep = fr.server(ln.text)
        if rep is not None:
            out.append(Turn("S", "reply", reply_start.time, rep.lines, rep.status, rep.klass, reply_start.key,
                            rep.command))
            reply_start = None
    if fr._lines and reply_start is not None:
        out.append(Turn("S", "reply", reply_start.time, list(fr._lines), "?", "?", reply_start.key))
    out.sort(key=lambda t: t.key)
    return out


def guess_protocol(port: int | None = None, server_component: str = "",
                   first_server_line: str = "") -> str:
    """'smtp', 'lmtp', 'pop3' or 'imap' from what a connection shows."""
    comp = (server_component or "").lower()
    for proto in ("lmtp", "pop3", "imap"):
        if proto in comp:
            return proto
    if first_server_line.startswith(("+OK", "-ERR")):
        return "pop3"
    if first_server_line.startswith("* "):
        return "imap"
    if port in (24, 2524):
        return "lmtp"
    if port in (110, 995, 2110):
        return "pop3"
    if port in (143, 993, 2143):
        return "imap"
    return "smtp"
