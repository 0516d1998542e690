"""NAME
    imap_binary - BINARY's decoded form of a MIME part, as Dovecot 2.3 builds it

SUMMARY
    data, binary = binary_stream(part, include_header=False)

DESCRIPTION
    RFC 3516 content the way Dovecot's index-mail-binary does it: every
    quoted-printable or base64 leaf is decoded, every other leaf (7bit, 8bit,
    binary, none) copied as it is; a multipart keeps its preamble, boundaries
    and epilogue around its converted children, a message/rfc822 part its
    converted inner message. A converted part's own header (when it is
    included: a child of a multipart, an inner message, the whole message)
    loses its Content-Transfer-Encoding fields and gets
    "Content-Transfer-Encoding: binary" at its end. A leaf whose encoding is
    anything else (x-uuencode, ...) raises UnknownCte, for the whole subtree
    converted.

    The flag returned says the result needs a literal8 "~{N}": something was
    decoded, or an unconverted body holds a NUL.

SEE ALSO
    RFC 3516, simlab.proto.imap_fetch, Dovecot index-mail-binary.c
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re

from .imap_mime import Part

IDENTITY_CTE = ("", "7bit", "8bit", "binary")
CONVERTED_CTE = ("quoted-printable", "base64")


class UnknownCte(Exception):
    """BINARY asked for a part whose Content-Transfer-Encoding cannot be undone."""

    line = b""  # the FETCH line ended for the client (set by imap_fetch.render_fetch)


def _cte(part: Part) -> str:
    value = (part.header.get("content-transfer-encoding") or "").strip().lower()
    if value not in IDENTITY_CTE + CONVERTED_CTE:
        raise UnknownCte(value)
    return value


def _decode(cte: str, body: bytes) -> bytes:
    if cte == "quoted-printable":
        return quopri.decodestring(body)
    clean = re.sub(rb"[^A-Za-z0-9+/]", b"", body)
    clean = clean[:len(clean) - 1] if len(clean) % 4 == 1 else clean
    try:
        return base64.b64decode(clean + b"=" * (-len(clean) % 4))
    except binascii.Error:
        return b""


def _header(part: Part, cte: str) -> bytes:
    if cte not in CONVERTED_CTE:
        return part.header_bytes
    kept = b"".join(raw for key, raw in part.header.fields if key != "content-transfer-encoding")
    return kept + b"Content-Transfer-Encoding: binary\r\n\r\n"


def binary_stream(part: Part, include_header: bool) -> tuple[bytes, bool]:
    """(decoded bytes of PART, whether a literal8 is due); UnknownCte when it cannot be."""
    cte = _cte(part)
    out = _header(part, cte) if include_header else b""
    if part.children or part.message is not None:
        body, cursor, binary = part.body, 0, False
        for child in part.children or [part.message]:  # type: ignore[list-item]
            at = body.find(child.raw, cursor)
            if at < 0:
                continue
            data, child_binary = binary_stream(child, True)
            out += body[cursor:at] + data
            cursor, binary = at + len(child.raw), binary or child_binary
        return out + body[cursor:], binary
    if cte in CONVERTED_CTE:
        return out + _decode(cte, part.body), True
    return out + part.body, b"\0" in part.body or b"\0" in part.header_bytes
