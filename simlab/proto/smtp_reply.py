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

SEE ALSO
    RFC 5321 section 4.2, RFC 3463, RFC 2034
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")


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
        buf = self._buf + data if self._buf else bytes(data)
        out: list[Reply] = []
        start = 0
        nl = buf.find(b"\n")
        while nl >= 0:
            raw = buf[start:nl]
            start = nl + 1
            try:
                reply = self._line(raw.rstrip(b"\r"))
            except SMTPProtocolError:
                self._buf = buf[start:]
                raise
            if reply is not None:
                out.append(reply)
            nl = buf.find(b"\n", start)
        self._buf = buf[start:] if start else buf
        if len(self._buf) > self.max_line:
            raise SMTPProtocolError(f"reply line longer than {self.max_line} bytes")
        return out

    def _line(self, raw: bytes) -> Reply | None:
        line = raw.decode("utf-8", "replace")
        if len(line) < 3 or not line[:3].isdigit() or not line[:3].isascii():
            raise SMTPProtocolError(f"malformed reply line: {line[:80]!r}")
        if len(line) > 3 and line[3] not in " -":
            raise SMTPProtocolError(f"malformed reply line: {line[:80]!r}")
        code = int(line[:3])
        if self._code is None:
            self._code = code
        self._lines.append(line[4:])
        if len(self._lines) > self.max_lines:
            raise SMTPProtocolError(f"reply longer than {self.max_lines} lines")
        if len(line) > 3 and line[3] == "-":
            return None
        first = self._code
        lines, self._code, self._lines = tuple(self._lines), None, []
        return Reply(first, _enhanced_of(first, lines[0]), lines)


def parse_replies(data: bytes) -> Iterator[Reply]:
    """Every complete reply in ``data`` (a convenience for tests and transcripts)."""
    yield from ReplyParser().feed(data)
