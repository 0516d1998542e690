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
    out = []
    for b in text.encode("utf-8"):
        out.append(f"+{b:02X}" if b < 33 or b > 126 or b in (43, 61) else chr(b))
    return "".join(out)


def dot_stuff(content: bytes, line_limit: int = 0) -> tuple[bytes, bool]:
    """The message as DATA sends it (CRLF, leading dots doubled), without the final dot.

    Lines longer than ``line_limit`` are broken with CRLF SPACE, as Postfix's
    smtp_line_length_limit does; the flag says whether that happened.
    """
    text = content.replace(b"\r\n", b"\n")
    if text.endswith(b"\n"):
        text = text[:-1]
    if not content:
        return b"", False
    if line_limit <= 0 or len(text) <= line_limit or \
            max(map(len, text.split(b"\n"))) <= line_limit:
        # no line to break: the whole text at once (a leading dot doubled on each line)
        if text.startswith(b"."):
            text = b"." + text
        return text.replace(b"\n.", b"\n..").replace(b"\n", b"\r\n") + b"\r\n", False
    out: list[bytes] = []
    broken = False
    cut = max(line_limit, 2)    # a continuation must carry one byte after its space, or it never ends
    for line in text.split(b"\n"):
        while len(line) > line_limit:
            broken = True
            head, line = line[:cut], line[cut:]
            if not line:                # limit 1: " x" is as short as a continuation gets
                line = head
                break
            out.append(head)
            line = b" " + line
        out.append(line)
    return b"".join((b"." + ln if ln.startswith(b".") else ln) + b"\r\n" for ln in out), broken


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def parse_features(reply: Reply) -> dict[str, str]:
    """EHLO keywords (upper case) and their parameters; "AUTH=LOGIN" counts as AUTH."""
    out: dict[str, str] = {}
    for line in reply.text_lines[1:]:
        words = line.replace("=", " ", 1).split(None, 1) if line.upper().startswith("AUTH=") else line.split(None, 1)
        if not words:
            continue
        key = words[0].upper()
        param = words[1] if len(words) > 1 else ""
        out[key] = (out[key] + " " + param).strip() if key in out else param
    return out
