"""NAME
    imap_mime - a message's MIME structure, ENVELOPE and BODYSTRUCTURE as IMAP reports them

SUMMARY
    part = parse_message(crlf_bytes)
    envelope(part.header)                 # '("date" "subject" ((...)) ...)'
    bodystructure(part, extended=True)    # '("text" "plain" ("charset" "us-ascii") ...)'
    part.find([1, 2])                     # the part BODY[1.2] names

DESCRIPTION
    The parser works on the raw bytes (CRLF line ends) and remembers where
    every header and body starts, because FETCH BODY[1.MIME] and friends
    return exact byte ranges. A part without Content-Type is text/plain;
    charset=us-ascii (message/rfc822 inside multipart/digest). A multipart
    body is split at its boundary lines; the CRLF before a boundary belongs
    to the boundary. A message/rfc822 part holds a parsed message.

    ENVELOPE follows RFC 3501 7.4.2 the way Dovecot writes it: header
    values unfolded (CR and LF removed), addresses as (name adl mailbox
    host) with quotes removed from display names and encoded-words left
    alone, groups as (NIL NIL "group" NIL) ... (NIL NIL NIL NIL), Sender
    and Reply-To defaulting to From. BODYSTRUCTURE adds the extension data
    (MD5, disposition, language, location) that BODY leaves out; sizes are
    octets, text and message/rfc822 parts also give their line count.

SEE ALSO
    RFC 3501 7.4.2, RFC 2045, RFC 2046, RFC 5322 section 3.4
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .imap_parse import nstring, quote


@dataclass
class Header:
    fields: list[tuple[str, bytes]]  # (lower-case name, raw field incl. CRLF)

    def get(self, name: str) -> str | None:
        for key, raw in self.fields:
            if key == name:
                return field_value(raw)
        return None


@dataclass
class Part:
    raw: bytes
    header: Header
    header_end: int
    ctype: tuple[str, str] = ("text", "plain")
    params: list[tuple[str, str]] = field(default_factory=list)
    children: list["Part"] = field(default_factory=list)
    message: "Part | None" = None
    explicit_type: bool = False

    @property
    def header_bytes(self) -> bytes:
        return self.raw[:self.header_end]

    @property
    def body(self) -> bytes:
        return self.raw[self.header_end:]

    def find(self, path: list[int]) -> "Part | None":
        part: Part | None = self
        for n in path:
            if part is None:
                return None
            if part.message is not None:
                part = part.message
            if part.children:
                part = part.children[n - 1] if 0 < n <= len(part.children) else None
            elif n != 1:
                return None
        return part


def field_value(raw: bytes) -> str:
    value = raw.split(b":", 1)[1] if b":" in raw else b""
    return value.replace(b"\r", b"").replace(b"\n", b"").decode("utf-8", "replace").strip()


def parse_header(raw: bytes) -> tuple[Header, int]:
    """Header fields and the offset where the body starts (after the blank line)."""
    fields: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end]
        if line in (b"\r\n", b"\n"):
            return Header(fields), end
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] = (fields[-1][0], fields[-1][1] + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower().decode("latin-1"), line))
        pos = end
    return Header(fields), len(raw)


_TOKEN = r'[^\s()<>@,;:\\"/\[\]?=]+'
_PARAM_RE = re.compile(r';\s*(' + _TOKEN + r')\s*=\s*("(?:[^"\\]|\\.)*"|' + _TOKEN + ')')


def parse_params(value: str) -> tuple[str, list[tuple[str, str]]]:
    main, _, _ = value.partition(";")
    params = []
    for name, val in _PARAM_RE.findall(value[len(main):]):
        if val.startswith('"'):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        params.append((name, val))
    return main.strip(), params


def parse_message(raw: bytes, digest: bool = False) -> Part:
    header, end = parse_header(raw)
    part = Part(raw, header, end)
    ctype = header.get("content-type")
    if ctype:
        main, params = parse_params(ctype)
        typ, _, sub = main.partition("/")
        if typ and sub:
            part.ctype, part.params, part.explicit_type = (typ, sub), params, True
    elif digest:
        part.ctype = ("message", "rfc822")
    if not part.explicit_type and part.ctype == ("text", "plain"):
        part.params = [("charset", "us-ascii")]
    typ, sub = part.ctype[0].lower(), part.ctype[1].lower()
    if typ == "text" and not any(k.lower() == "charset" for k, _ in part.params):
        part.params = [*part.params, ("charset", "us-ascii")]  # Dovecot's params_write()
    boundary = next((v for k, v in part.params if k.lower() == "boundary"), None)
    if typ == "multipart" and boundary:
        part.children = [parse_message(chunk, digest=sub == "digest")
                         for chunk in split_multipart(part.body, boundary.encode())]
    elif (typ, sub) == ("message", "rfc822"):
        part.message = parse_message(part.body)
    return part


def split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    delim = re.compile(rb"(?:^|\r?\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|$)")
    chunks: list[bytes] = []
    start: int | None = None
    for m in delim.finditer(body):
        if start is not None:
            chunks.append(body[start:m.start()])
        if m.group(1):
            return chunks
        start = m.end()
    if start is not None:
        chunks.append(body[start:])
    return chunks


def count_lines(data: bytes) -> int:
    # Dovecot's message_size.lines: line feeds; the CRLF before a boundary is not the part's
    return data.count(b"\n")


# -- ENVELOPE ----------------------------------------------------------------------------
def _split_addresses(value: str) -> list[str]:
    items, buf, depth, quoted, i = [], [], 0, False, 0
    while i < len(value):
        ch = value[i]
        if quoted:
            if ch == "\\" and i + 1 < len(value):
                buf.append(value[i:i + 2])
                i += 2
                continue
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch in "(<":
            depth += 1
        elif ch in ")>":
            depth = max(0, depth - 1)
        elif ch in ",;" and depth == 0:
            items.append("".join(buf) + (ch if ch == ";" else ""))
            buf = []
            i += 1
            continue
        elif ch == ":" and depth == 0:
            items.append("".join(buf) + ":")
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    items.append("".join(buf))
    return [s.strip() for s in items if s.strip()]


def _strip_comments(text: str) -> str:
    out, depth, quoted = [], 0, False
    for ch in text:
        if ch == '"' and depth == 0:
            quoted = not quoted
        if not quoted and ch == "(":
            depth += 1
            continue
        if not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out).strip()


def _phrase(text: str) -> str | None:
    text = text.strip()
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        text = re.sub(r"\\(.)", r"\1", text[1:-1])
    return text or None


def _address_parts(item: str) -> tuple[str | None, str | None, str | None, str | None]:
    m = re.match(r"^(.*?)<([^>]*)>", item)
    if m:
        name, spec = _phrase(_strip_comments(m.group(1))), m.group(2)
    else:
        comment = re.search(r"\(([^)]*)\)", item)
        name, spec = (comment.group(1).strip() or None) if comment else None, _strip_comments(item)
    route = None
    if spec.startswith("@") and ":" in spec:
        route, spec = spec.split(":", 1)
    local, at, host = spec.rpartition("@") if "@" in spec else (spec, "", "")
    return name, route, local.strip() or None, host.strip() if at else None


def _address(item: str) -> str:
    return "(%s %s %s %s)" % tuple(nstring(v) for v in _address_parts(item))


def first_address(value: str | None) -> tuple[str | None, str | None, str | None] | None:
    """(display name, mailbox, host) of a header's first address; a group gives its name."""
    items = _split_addresses(value or "")
    if not items:
        return None
    if items[0].endswith(":"):
        return None, _phrase(items[0][:-1]) or "", None
    name, _route, local, host = _address_parts(items[0].rstrip(";"))
    return name, local, host


def address_list(value: str | None) -> str:
    if not value:
        return "NIL"
    out = []
    for item in _split_addresses(value):
        if item.endswith(":"):
            out.append("(NIL NIL %s NIL)" % nstring(_phrase(item[:-1]) or ""))
        elif item.endswith(";"):
            if item[:-1].strip():
                out.append(_address(item[:-1]))
            out.append("(NIL NIL NIL NIL)")
        else:
            out.append(_address(item))
    return "(" + "".join(out) + ")" if out else "NIL"


def envelope(header: Header) -> str:
    frm = header.get("from")
    sender = header.get("sender") or frm
    reply_to = header.get("reply-to") or frm
    items = [nstring(header.get("date")), nstring(header.get("subject")), address_list(frm),
             address_list(sender), address_list(reply_to), address_list(header.get("to")),
             address_list(header.get("cc")), address_list(header.get("bcc")),
             nstring(header.get("in-reply-to")), nstring(header.get("message-id"))]
    return "(" + " ".join(items) + ")"


# -- BODYSTRUCTURE -------------------------------------------------------------------------
def _params(params: list[tuple[str, str]]) -> str:
    if not params:
        return "NIL"
    return "(" + " ".join(f"{quote(k)} {quote(v)}" for k, v in params) + ")"


def _extension(part: Part, multipart: bool) -> str:
    items = [] if multipart else [nstring(part.header.get("content-md5"))]
    disposition = part.header.get("content-disposition")
    if disposition:
        main, params = parse_params(disposition)
        items.append(f"({quote(main)} {_params(params)})")
    else:
        items.append("NIL")
    language = part.header.get("content-language")
    if language:
        langs = [s.strip() for s in language.split(",") if s.strip()]
        items.append(quote(langs[0]) if len(langs) == 1 else
                     "(" + " ".join(quote(s) for s in langs) + ")")
    else:
        items.append("NIL")
    items.append(nstring(part.header.get("content-location")))
    return " ".join(items)


def bodystructure(part: Part, extended: bool = True) -> str:
    if part.children:
        inner = "".join(bodystructure(c, extended) for c in part.children)
        text = f"{inner} {quote(part.ctype[1])}"
        if extended:
            text += f" {_params(part.params)} {_extension(part, True)}"
        return f"({text})"
    typ, sub = part.ctype
    body = part.body
    items = [quote(typ), quote(sub), _params(part.params),
             nstring(part.header.get("content-id")), nstring(part.header.get("content-description")),
             quote(part.header.get("content-transfer-encoding") or "7bit"), str(len(body))]
    if part.message is not None:
        items += [envelope(part.message.header), bodystructure(part.message, extended),
                  str(count_lines(body))]
    elif typ.lower() == "text":
        items.append(str(count_lines(body)))
    if extended:
        items.append(_extension(part, False))
    return "(" + " ".join(items) + ")"
