"""NAME
    smtp_reply - typed SMTP replies and a parser for the bytes a server sends

SUMMARY
    parser = ReplyParser()
    for reply in parser.feed(b"250-mail.example.com\\r\\n250 PIPELINING\\r\\n"):
        reply.code, reply.enhanced, reply.text_lines, reply.dsn, str(reply)

DESCRIPTION
    A reply is one or more lines "NNN-text" ending with "NNN text" (or a
    bare "NNN"). ``Reply.text_lines`` keeps the text after the code of each
    line as sent; ``enhanced`` is the RFC 3463 status code at the start of the
    first line when its class matches the reply code ("2.1.5"), else "".
    ``dsn`` is that code or the one implied by the reply code ("4.0.0"),
    which is what Postfix records for the recipient.

    ``str(reply)`` is the form Postfix logs: every line with its code, joined
    by spaces ("550-5.1.1 first 550 5.1.1 second"); ``wire()`` gives the bytes.

    The parser accepts CRLF and bare LF line ends and never raises anything
    but SMTPProtocolError, whatever bytes arrive: a line that does not start
    with three digits, a line longer than ``max_line`` without an end, or a
    reply of more than ``max_lines`` lines.

    Replies are immutable, so a chunk that arrives whole between replies is
    parsed once per process: a server sends the same greeting, EHLO list and
    "250 2.1.0 Ok" to every client (a small memo, emptied when full).

SEE ALSO
    RFC 5321 section 4.2, RFC 3463, RFC 2034
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")
_LAST_LINE = re.compile(rb"([0-9]{3})(?: ([^\n]*?))?\r*\n")   # "250 text\r\n" or "250\r\n"
_MEMO_MAX, _MEMO_CHUNK = 512, 2048     # chunks remembered, and the longest one remembered
# a whole chunk -> (its replies, the most lines in one of them)
_MEMO: dict[bytes, tuple[tuple["Reply", ...], int]] = {}


class SMTPProtocolError(ValueError):
    """The peer sent something that is not SMTP."""


@dataclass(frozen=True)
class Reply:
    """One complete server reply."""

    code: int
    enhanced: str = ""
    text_lines: tuple[str, ...] = ("",)

    @classmethod
    def make(cls, code: int, *lines: str) -> "Reply":
        """A reply from its code and text lines; the enhanced code is read from the first."""
        text = lines or ("",)
        return cls(code, _enhanced_of(code, text[0]), tuple(text))

    @property
    def cls(self) -> int:
        return self.code // 100

    @property
    def dsn(self) -> str:
        """The enhanced status code, or the one implied by the reply code."""
        if self.enhanced:
            return self.enhanced
        first = self.cls if self.cls in (2, 4, 5) else 5
        return f"{first}.0.0"

    @property
    def text(self) -> str:
        """The text of all lines, without codes, joined by spaces."""
        return " ".join(self.text_lines)

    @property
    def message(self) -> str:
        """The text without the leading enhanced status code (first line) -- a DSN diagnostic."""
        lines = list(self.text_lines)
        if self.enhanced and lines:
            lines[0] = lines[0][len(self.enhanced):].lstrip()
        return " ".join(lines)

    def lines(self) -> list[str]:
        """Each line as sent, without the line end ("250-PIPELINING")."""
        out = []
        last = len(self.text_lines) - 1
        for i, t in enumerate(self.text_lines):
            sep = " " if i == last else "-"
            out.append(f"{self.code:03d}{sep}{t}" if (t or i != last) else f"{self.code:03d}")
        return out

    def wire(self) -> bytes:
        return "".join(line + "\r\n" for line in self.lines()).encode("utf-8", "surrogateescape")

    def __str__(self) -> str:
        return " ".join(self.lines())


def _enhanced_of(code: int, first_line: str) -> str:
    if first_line[:1] not in ("2", "4", "5"):
        return ""
    m = _ENHANCED.match(first_line)
    if m and int(m.group(1)) == code // 100:
        return m.group(0)
    return ""


class ReplyParser:
    """Bytes in, complete replies out."""

    def __init__(self, max_line: int = 4096, max_lines: int = 1000) -> None:
        self.max_line = max_line
        self.max_lines = max_lines
        self._buf = b""
        self._code: int | None = None
        self._lines: list[str] = []

    @property
    def pending(self) -> bool:
        """True while part of a reply has arrived but not its last line."""
        return bool(self._buf or self._lines)

    def feed(self, data: bytes) -> list[Reply]:
        idle = not self._buf and not self._lines
        if idle and type(data) is bytes:
            hit = _MEMO.get(data)
            if hit is not None and hit[1] <= self.max_lines:
                return list(hit[0])
        out = self._feed(data)
        if idle and not self._buf and not self._lines and out and type(data) is bytes \
                and len(data) <= _MEMO_CHUNK:
            if len(_MEMO) >= _MEMO_MAX:
                _MEMO.clear()
            _MEMO[data] = (tuple(out), max(len(r.text_lines) for r in out))
        return out

    def _feed(self, data: bytes) -> list[Reply]:
        if not self._buf and not self._lines and self.max_lines:
            m = _LAST_LINE.fullmatch(data)
            if m is not None:       # the usual chunk: one single-line reply
                code = int(m[1])
                text = (m[2] or b"").decode("utf-8", "replace")
                return [Reply(code, _enhanced_of(code, text), (text,))]
        buf = self._buf + data if self._buf else bytes(data)
        end = buf.rfind(b"\n") + 1
        out: list[Reply] = []
        if end:
            # the complete lines are decoded at once: a line end is never inside a UTF-8
            # sequence, so this is what decoding each line on its own gives
            lines = buf[:end].decode("utf-8", "replace").split("\n")
            lines.pop()
            code, acc, max_lines = self._code, self._lines, self.max_lines
            for n, line in enumerate(lines):
                line = line.rstrip("\r")
                head = line[:3]
                more = len(line) > 3
                if len(head) < 3 or not head.isdigit() or not head.isascii() or \
                        (more and line[3] not in " -"):
                    self._code, self._lines = code, acc
                    self._fail(buf, n, f"malformed reply line: {line[:80]!r}")
                if code is None:
                    code = int(head)
                acc.append(line[4:])
                if len(acc) > max_lines:
                    self._code, self._lines = code, acc
                    self._fail(buf, n, f"reply longer than {max_lines} lines")
                if more and line[3] == "-":
                    continue
                out.append(Reply(code, _enhanced_of(code, acc[0]), tuple(acc)))
                code, acc = None, []
            self._code, self._lines = code, acc
            buf = buf[end:]
        self._buf = buf
        if len(buf) > self.max_line:
            raise SMTPProtocolError(f"reply line longer than {self.max_line} bytes")
        return out

    def _fail(self, buf: bytes, n: int, text: str) -> None:
        """Raise for line ``n`` of ``buf``, keeping what follows that line."""
        pos = -1
        for _ in range(n + 1):
            pos = buf.find(b"\n", pos + 1)
        self._buf = buf[pos + 1:]
        raise SMTPProtocolError(text)


def parse_replies(data: bytes) -> Iterator[Reply]:
    """Every complete reply in ``data`` (a convenience for tests and transcripts)."""
    yield from ReplyParser().feed(data)
