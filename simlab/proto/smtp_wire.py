"""NAME
    smtp_wire - how envelope and message text are written on an SMTP connection

SUMMARY
    quote_821('first last@example.com')   # '"first last"@example.com'
    xtext("rfc822;a+b@example.com")        # DSN ORCPT/ENVID encoding
    data, broken = dot_stuff(message, line_limit=998)
    parse_features(ehlo_reply)             # {"PIPELINING": "", "SIZE": "10240000", ...}

DESCRIPTION
    The small text rules of RFC 5321 and its extensions that the client
    core needs: quoting a local part for MAIL FROM / RCPT TO, RFC 3461
    xtext, the DATA transparency procedure (CRLF line ends, a leading dot
    doubled; long lines broken with CRLF SPACE as Postfix's
    smtp_line_length_limit does), and the EHLO keyword list.

SEE ALSO
    RFC 5321 sections 4.1.2 and 4.5.2, RFC 3461, RFC 1869
"""

from __future__ import annotations

import base64
import re

from .smtp_reply import Reply

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")


def quote_821(address: str) -> str:
    """The address as it goes between < and >: the local part quoted when it must be."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if local == "" or _ATOM.match(local):
        return address
    quoted = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted + ("@" + domain if at else "")


def xtext(text: str) -> str:
    """RFC 3461 xtext: '+', '=' and non-printable characters as +XX."""
    if text.isascii() and text.isprintable() and " " not in text and "+" not in text and "=" not in text:
        return text
    out = []
    for b in text.encode("utf-8"):
        out.append(f"+{b:02X}" if b < 33 or b > 126 or b in (43, 61) else chr(b))
    return "".join(out)


def dot_stuff(content: bytes, line_limit: int = 0) -> tuple[bytes, bool]:
    """The message as DATA sends it (CRLF, leading dots doubled), without the final dot.

    Lines longer than ``line_limit`` are broken with CRLF SPACE, as Postfix's
    smtp_line_length_limit does; the flag says whether that happened.
    """
    if not content:
        return b"", False
    # work in the message's own line ends when it has one kind only (a queue file: LF, a
    # composed message: CRLF); both give the lines that LF-normalizing would
    if b"\r" not in content:
        text, nl = content, b"\n"
    elif content.count(b"\n") == content.count(b"\r\n"):
        text, nl = content, b"\r\n"
    else:
        text, nl = content.replace(b"\r\n", b"\n"), b"\n"
    if text.endswith(nl):
        text = text[:-len(nl)]
    lines = None
    if line_limit > 0 and len(text) > line_limit:
        lines = text.split(nl)
        if max(map(len, lines)) > line_limit:
            return _break_lines(lines, line_limit), True
    if nl == b"\r\n":
        out = text
    elif lines is not None:
        out = b"\r\n".join(lines)
    else:
        out = text.replace(b"\n", b"\r\n")
    if out.startswith(b"."):
        out = b"." + out
    return out.replace(b"\r\n.", b"\r\n..") + b"\r\n", False


def _break_lines(lines: list[bytes], line_limit: int) -> bytes:
    """DATA text with each line longer than line_limit broken with CRLF SPACE."""
    out: list[bytes] = []
    cut = max(line_limit, 2)    # a continuation must carry one byte after its space, or it never ends
    for line in lines:
        while len(line) > line_limit:
            head, line = line[:cut], line[cut:]
            if not line:                # limit 1: " x" is as short as a continuation gets
                line = head
                break
            out.append(head)
            line = b" " + line
        out.append(line)
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in out)


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def parse_features(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) and their parameters; "AUTH=LOGIN" counts as AUTH."""
    # memo: a server answers every EHLO with the same lines
    hit = _FEATURES.get(reply.text_lines)
    if hit is None:
        if len(_FEATURES) >= 256:
            _FEATURES.clear()
        hit = _FEATURES[reply.text_lines] = _parse_features(reply.text_lines)
    return dict(hit)


_FEATURES: dict[tuple[str, ...], dict[str, str]] = {}


def _parse_features(text_lines: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text_lines[1:]:
        words = line.replace("=", " ", 1).split(None, 1) if line.upper().startswith("AUTH=") else line.split(None, 1)
        if not words:
            continue
        key = words[0].upper()
        param = words[1] if len(words) > 1 else ""
        out[key] = (out[key] + " " + param).strip() if key in out else param
    return out
