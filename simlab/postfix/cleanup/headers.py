"""NAME
    headers - message headers as cleanup(8) sees them, and the Received: lines

SUMMARY
    mail_date(epoch)            -> "Tue, 24 Nov 2026 13:36:54 +0000 (UTC)"
    received_smtpd(...)         -> b"Received: from client.example (localhost [127.0.0.1])\\n\\tby ..."
    received_local(...)         -> b"Received: by mail.example.com (Postfix, from userid 0)\\n\\tid ...; ..."
    received_bounce(...)        -> b"Received: by mail.example.com (Postfix)\\n\\tid ...; ..."
    msg = Message.parse(content); msg.headers; msg.body

DESCRIPTION
    The Received: header is written by the program that accepts the mail
    (smtpd, pickup, bounce), in Postfix's exact shape: the HELO name first,
    then the verified client name and address; ``for <rcpt>`` only when the
    transaction has exactly one recipient, otherwise the second line ends
    in "id QUEUEID;" and the date moves to a third line.

    Message.parse() splits the content at the end of the headers: the first
    empty line, or the first line that is not a header (cleanup then puts an
    empty line before it). A header spans its continuation lines; its text
    keeps the newlines, so that it is written back unchanged.

    All dates are in UTC, the time zone of every simulated host.

PARAMETERS
    myhostname, mail_name.

SEE ALSO
    cleanup(8), RFC 5322 section 3.6.7, RFC 5321 section 4.4
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..maps.tok822 import quote_822_local

_HEADER_NAME = re.compile(r"^[!-9;-~]+[ \t]*:")
_HEADER_NAME_BYTES = re.compile(rb"^[!-9;-~]+[ \t]*:")


_last_date: tuple[int, str] = (-1, "")


def mail_date(epoch: float) -> str:
    """mail_date(3): the RFC 2822 date Postfix writes (day of month space-padded)."""
    global _last_date
    sec = int(epoch)
    if _last_date[0] != sec:    # memo: smtpd and cleanup ask several times a second
        tm = time.gmtime(sec)
        _last_date = (sec, time.strftime("%a, ", tm) + f"{tm.tm_mday:2d}"
                      + time.strftime(" %b %Y %H:%M:%S +0000 (UTC)", tm))
    return _last_date[1]


def rfc_addr(addr: str) -> str:
    return f"IPv6:{addr}" if ":" in addr else addr


def received_smtpd(*, helo: str, name: str, addr: str, myhostname: str, mail_name: str, protocol: str,
                   qid: str, recipient: str | None, when: float, auth_sender: str = "") -> bytes:
    """smtpd's Received: header; ``recipient`` only when there is exactly one."""
    auth = f"\t(Authenticated sender: {auth_sender})\n" if auth_sender else ""
    id_part = f" id {qid}" if qid else ""
    if recipient is not None:
        last = f"\n\tfor <{quote_822_local(recipient)}>; {mail_date(when)}\n"
    else:
        last = f";\n\t{mail_date(when)}\n"
    return (f"Received: from {helo} ({name} [{rfc_addr(addr)}])\n{auth}"
            f"\tby {myhostname} ({mail_name}) with {protocol}{id_part}{last}").encode("utf-8", "surrogateescape")


def received_local(*, myhostname: str, mail_name: str, uid: int, qid: str, when: float) -> bytes:
    """pickup's Received: header for local submission."""
    return (f"Received: by {myhostname} ({mail_name}, from userid {uid})\n"
            f"\tid {qid}; {mail_date(when)}\n").encode()


def received_bounce(*, myhostname: str, mail_name: str, qid: str, when: float) -> bytes:
    """The Received: header of a message that Postfix itself creates (bounce, forward)."""
    return (f"Received: by {myhostname} ({mail_name})\n"
            f"\tid {qid}; {mail_date(when)}\n").encode()


def is_header(line: str) -> bool:
    """is_header(3): 'name:' with a printable name."""
    return bool(_HEADER_NAME.match(line))


@dataclass
class Header:
    """One logical header: its name as written and its full text (continuations included)."""

    text: str

    @property
    def name(self) -> str:
        return self.text.partition(":")[0].rstrip(" \t")

    @property
    def lname(self) -> str:
        return self.text.partition(":")[0].rstrip(" \t").lower()

    @property
    def value(self) -> str:
        """The value after the colon, unfolded, leading white space removed."""
        v = self.text.split(":", 1)[1] if ":" in self.text else ""
        return v.replace("\n", "").lstrip(" \t")


_SPACE_BEFORE_COLON = re.compile(rb"^([^:\s]+)[ \t]+:")


class Message:
    """A message split at the end of its headers.

    The body stays the bytes it came as until something asks for its lines
    (body_checks): most messages go to the queue file without them.
    """

    def __init__(self, headers: list[Header] | None = None, body: list[str] | None = None,
                 had_separator: bool = True) -> None:
        self.headers: list[Header] = headers if headers is not None else []
        self._body: list[str] = body if body is not None else []
        self._raw: bytes | None = None      # the body lines joined by LF, not decoded yet
        self.had_separator = had_separator
        self.unterminated = False           # the last line had no newline (sendmail input)

    @property
    def body(self) -> list[str]:
        if self._raw is not None:
            self._body = self._raw.decode("utf-8", "surrogateescape").split("\n")
            self._raw = None
        return self._body

    @body.setter
    def body(self, lines: list[str]) -> None:
        self._body, self._raw = lines, None

    @classmethod
    def parse(cls, content: bytes) -> "Message":
        msg = cls()
        if not content:
            msg.had_separator = False
            return msg
        # the lines of the text: a final LF ends the last line, it does not start another
        text = content[:-1] if content.endswith(b"\n") else content
        msg.unterminated = not content.endswith(b"\n")
        pos, end = 0, len(text)
        while pos <= end:
            nl = text.find(b"\n", pos)
            if nl < 0:
                nl = end
            line = text[pos:nl]
            if not line:
                msg._set_body(text, nl + 1)
                return msg
            if b"\0" in line:
                line = line.split(b"\0", 1)[0]      # header text is a C string: a NUL ends the line
            if line[:1] in (b" ", b"\t") and msg.headers:
                msg.headers[-1].text += "\n" + line.decode("utf-8", "surrogateescape")
            elif _HEADER_NAME_BYTES.match(line):
                if b" :" in line or b"\t:" in line:
                    line = _SPACE_BEFORE_COLON.sub(rb"\1:", line, count=1)   # "Subject : x" -> "Subject: x"
                msg.headers.append(Header(line.decode("utf-8", "surrogateescape")))
            else:
                break
            pos = nl + 1
        msg._set_body(text, pos)
        msg.had_separator = False
        return msg

    @property
    def headers_ended(self) -> bool:
        """The header section ended (a blank line, or a line that is no header, came)."""
        return self.had_separator or self._raw is not None or bool(self._body)

    def _set_body(self, text: bytes, start: int) -> None:
        """The lines of ``text`` from offset ``start`` on are the body (none past its end)."""
        if start <= len(text):
            self._raw = text[start:]

    def render(self) -> bytes:
        head = ("\n".join([h.text for h in self.headers] + [""])).encode("utf-8", "surrogateescape")
        if self._raw is not None:
            return head + b"\n" + self._raw + (b"" if self.unterminated else b"\n")
        if not self._body:      # headers only: a separator only where the message had one
            return head + b"\n" if self.had_separator else head
        return head + ("\n" + "\n".join(self._body) + "\n").encode("utf-8", "surrogateescape")

    def find(self, lname: str) -> Header | None:
        for h in self.headers:
            if h.lname == lname:
                return h
        return None

    def count(self, lname: str) -> int:
        return sum(1 for h in self.headers if h.lname == lname)


SENDER_HEADERS = {"from", "sender", "reply-to", "errors-to", "return-receipt-to", "resent-from",
                  "resent-sender", "resent-reply-to", "disposition-notification-to"}
RECIPIENT_HEADERS = {"to", "cc", "bcc", "apparently-to", "resent-to", "resent-cc", "resent-bcc"}
DROPPED_HEADERS = {"return-path", "content-length"}
