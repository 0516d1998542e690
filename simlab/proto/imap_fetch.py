"""NAME
    imap_fetch - FETCH data items: parsing the request, writing the response

SUMMARY
    items = parse_fetch(args)                       # [FetchItem, ...]
    view = MessageView(seq, info, data_loader)
    text = render_fetch(view, items, uid_first=True, recent=False)

DESCRIPTION
    The items of RFC 3501 6.4.5: FLAGS, UID, INTERNALDATE, RFC822.SIZE,
    ENVELOPE, BODY, BODYSTRUCTURE, RFC822, RFC822.HEADER, RFC822.TEXT and
    BODY[section]<partial> with BODY.PEEK, where a section is HEADER,
    HEADER.FIELDS (..), HEADER.FIELDS.NOT (..), TEXT, MIME and part
    numbers; the macros ALL, FAST and FULL. BINARY (RFC 3516):
    BINARY[part]<partial> and BINARY.PEEK[...] give a part's body with its
    Content-Transfer-Encoding (base64, quoted-printable) undone (see
    imap_binary), sent as a literal8 "~{N}" when anything was decoded or it
    holds a NUL; BINARY.SIZE[part] its decoded size (a partial is ignored),
    which needs the whole message converted; BINARY[] the whole message;
    BINARY[HEADER], [TEXT], [n.MIME] are BODY's sections undecoded. A part
    in an encoding the server does not know raises UnknownCte, which the
    command turns into "NO [UNKNOWN-CTE] ..." after ending the message's
    FETCH line (with its UID when nothing else was written).

    The response lists the items in Dovecot's order: those written in the
    line first (FLAGS, UID, ENVELOPE, sizes and dates, in the order asked),
    then the ones sent as literals (body sections); UID FETCH puts UID
    first. A body item without .PEEK (and RFC822, RFC822.TEXT) sets \\Seen,
    and the new FLAGS are then reported even if not asked for. INTERNALDATE
    is "24-Nov-2026 13:40:04 +0000" (UTC, the hosts' zone). Body sections
    are always literals, with CRLF line ends.

SEE ALSO
    RFC 3501 6.4.5 and 7.4.2, RFC 3516, Dovecot imap-fetch.c, imap-fetch-body.c
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from .imap_binary import UnknownCte, binary_stream
from .imap_mime import Part, bodystructure, envelope, parse_message
from .imap_parse import Atom, ParseError
from .mailbox import MessageInfo, order_flags

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE = {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY", "BODYSTRUCTURE",
           "RFC822", "RFC822.HEADER", "RFC822.TEXT"}
_BODY_RE = re.compile(r"^(BODY|BODY\.PEEK)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$", re.I)
_BINARY_RE = re.compile(r"^(BINARY|BINARY\.PEEK|BINARY\.SIZE)(\[[^\]]*\])?(?:<(\d+)\.(\d+)>)?$",
                        re.I)
_PART_RE = re.compile(r"^\[((?:\d+\.)*\d+)?\]$")
_SECTION_RE = re.compile(
    r"^((?:[1-9]\d*\.)*[1-9]\d*)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?"
    r"(?:\s*\((.*)\))?$", re.I)


def imap_date(when: float) -> str:
    tm = time.gmtime(when)
    return (f"{tm.tm_mday:02d}-{_MONTHS[tm.tm_mon - 1]}-{tm.tm_year:04d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000")


@dataclass(frozen=True)
class FetchItem:
    name: str
    path: tuple[int, ...] = ()
    spec: str = ""
    fields: tuple[str, ...] = ()
    peek: bool = False
    partial: tuple[int, int] | None = None

    @property
    def is_body(self) -> bool:
        return self.name in ("BODY[]", "RFC822", "RFC822.HEADER", "RFC822.TEXT")

    @property
    def sets_seen(self) -> bool:
        return (self.name in ("BODY[]", "BINARY[]") and not self.peek) or \
            self.name in ("RFC822", "RFC822.TEXT")

    @property
    def header_only(self) -> bool:
        # Dovecot's imap_msgpart_contains_body(): a MIME header counts as body
        return self.name == "RFC822.HEADER" or self.spec.startswith("HEADER")

    def response_name(self) -> str:
        if self.name not in ("BODY[]", "BINARY[]", "BINARY.SIZE[]"):
            return self.name
        section = ".".join(str(n) for n in self.path)
        if self.spec:
            section = f"{section}.{self.spec}" if section else self.spec
        if self.fields:
            section += " (" + " ".join(self.fields) + ")"
        origin = f"<{self.partial[0]}>" if self.partial else ""
        return f"{self.name[:-2]}[{section}]{origin}"


def _body_item(text: str) -> FetchItem:
    m = _BODY_RE.match(text)
    if m is None:
        if re.match(r"^BODY(\.PEEK)?\[[^\]]*\]<(?!\d)", text, re.I):
            raise ParseError("Invalid BODY[..] parameter: Too big partial start")
        raise ParseError(f"Unknown parameter: {text}")
    kind, section, start, length = m.groups()
    s = _SECTION_RE.match(section.strip())
    if s is None:
        raise ParseError("Invalid BODY[..] section")
    path, spec, fields = s.groups()
    spec = (spec or "").upper()
    if fields is not None and spec not in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        raise ParseError("Invalid BODY[..] section")
    if spec in ("HEADER.FIELDS", "HEADER.FIELDS.NOT") and not (fields or "").split():
        raise ParseError("Invalid BODY[..] section")
    if spec == "MIME" and not path:
        raise ParseError("Invalid BODY[..] section")
    names = tuple(f.strip('"').upper() for f in (fields or "").split())
    return FetchItem("BODY[]", tuple(int(n) for n in path.split(".")) if path else (), spec,
                     names, kind.upper() == "BODY.PEEK",
                     (int(start), int(length)) if start is not None else None)


def _binary_item(text: str) -> FetchItem:
    m = _BINARY_RE.match(text)
    if m is None:
        raise ParseError(f"Unknown parameter: {text}")
    kind, section, start, length = m.groups()
    if section is None:
        raise ParseError("Invalid BINARY[..] parameter: Missing '['")
    kind = kind.upper()
    part = _PART_RE.match(section)
    if part is None:
        # a HEADER, TEXT or MIME section is fetched as BODY[...] would be, undecoded
        body = _body_item("BODY" + section)
        return FetchItem("BINARY[]", body.path, body.spec, body.fields, kind != "BINARY",
                         (int(start), int(length)) if start is not None else None)
    path = tuple(int(n) for n in part.group(1).split(".")) if part.group(1) else ()
    if kind == "BINARY.SIZE":  # Dovecot ignores a partial here
        return FetchItem("BINARY.SIZE[]", path, peek=True)
    return FetchItem("BINARY[]", path, peek=kind != "BINARY",
                     partial=(int(start), int(length)) if start is not None else None)


def parse_fetch(arg: object) -> list[FetchItem]:
    """FETCH's item argument: one atom or a parenthesised list of them."""
    words = arg if isinstance(arg, list) else [arg]
    if isinstance(arg, Atom) and arg.upper in _MACROS:
        return [FetchItem(n) for n in _MACROS[arg.upper]]
    if not words:
        raise ParseError("Invalid arguments.")
    items = []
    for word in words:
        if not isinstance(word, Atom):
            raise ParseError("Invalid arguments.")
        name = word.value.upper()
        if name.startswith("BINARY"):
            items.append(_binary_item(word.value))
        elif "[" in name:
            items.append(_body_item(word.value))
        elif name in _SIMPLE:
            items.append(FetchItem(name))
        else:
            raise ParseError(f"Unknown parameter: {word.value}")
    return items


@dataclass
class MessageView:
    seq: int
    info: MessageInfo
    loader: Callable[[int], bytes]
    _raw: bytes | None = None
    _part: Part | None = field(default=None, repr=False)

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.loader(self.info.uid).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        return self._raw

    @property
    def part(self) -> Part:
        if self._part is None:
            self._part = parse_message(self.raw)
        return self._part


def flag_list(flags: frozenset[str], recent: bool) -> str:
    return "(" + " ".join(order_flags(set(flags) | ({"\\Recent"} if recent else set()))) + ")"


def _header_fields(part: Part, names: tuple[str, ...], exclude: bool) -> bytes:
    wanted = {n.lower() for n in names}
    kept = [raw for key, raw in part.header.fields if (key in wanted) != exclude]
    return b"".join(kept) + b"\r\n"


def binary_data(view: MessageView, item: FetchItem) -> tuple[bytes, bool]:
    """BINARY's decoded part (the whole message for BINARY[]) and whether it needs a
    literal8; BINARY.SIZE first converts the whole message, as Dovecot does."""
    if item.name == "BINARY.SIZE[]":
        binary_stream(view.part, True)
    if not item.path:
        return binary_stream(view.part, True)
    part = view.part.find(list(item.path))
    return (b"", False) if part is None else binary_stream(part, False)


def section_data(view: MessageView, item: FetchItem) -> bytes:
    if item.name in ("BINARY[]", "BINARY.SIZE[]") and not item.spec:
        return binary_data(view, item)[0]
    if item.name == "RFC822":
        return view.raw
    if item.name == "RFC822.HEADER":
        return view.part.header_bytes
    if item.name == "RFC822.TEXT":
        return view.part.body
    part = view.part.find(list(item.path)) if item.path else view.part
    if part is None:
        return b""
    if item.spec == "MIME":
        return part.header_bytes
    if item.path and item.spec in ("HEADER", "TEXT", "HEADER.FIELDS", "HEADER.FIELDS.NOT"):
        if part.message is None:
            return b""
        part = part.message
    if item.spec == "HEADER":
        return part.header_bytes
    if item.spec == "TEXT":
        return part.body
    if item.spec.startswith("HEADER.FIELDS"):
        return _header_fields(part, item.fields, item.spec.endswith(".NOT"))
    if not item.path:
        return part.raw
    return part.body


def render_fetch(view: MessageView, items: list[FetchItem], *, recent: bool,
                 counters: dict[str, int] | None = None) -> bytes:
    """'* SEQ FETCH (...)' with CRLF, literal items last."""
    inline: list[str] = []
    literals: list[bytes] = []
    try:
        for item in items:
            _render_item(view, item, recent, counters, inline, literals)
    except UnknownCte as exc:
        # Dovecot ends the FETCH line it began, with at least the UID in it
        exc.line = _fetch_line(view, inline or [f"UID {view.info.uid}"], literals)
        raise
    return _fetch_line(view, inline, literals)


def _fetch_line(view: MessageView, inline: list[str], literals: list[bytes]) -> bytes:
    parts = [s.encode("utf-8", "surrogateescape") for s in inline] + literals
    return b"* %d FETCH (" % view.seq + b" ".join(parts) + b")\r\n"


def _render_item(view: MessageView, item: FetchItem, recent: bool,
                 counters: dict[str, int] | None, inline: list[str],
                 literals: list[bytes]) -> None:
    name = item.name
    if name == "FLAGS":
        inline.append("FLAGS " + flag_list(view.info.flags, recent))
    elif name == "UID":
        inline.append(f"UID {view.info.uid}")
    elif name == "INTERNALDATE":
        inline.append(f'INTERNALDATE "{imap_date(view.info.internaldate)}"')
    elif name == "RFC822.SIZE":
        inline.append(f"RFC822.SIZE {view.info.size}")
    elif name == "ENVELOPE":
        inline.append("ENVELOPE " + envelope(view.part.header))
    elif name in ("BODY", "BODYSTRUCTURE"):
        inline.append(f"{name} " + bodystructure(view.part, name == "BODYSTRUCTURE"))
    elif name == "BINARY.SIZE[]":
        inline.append(f"{item.response_name()} {len(binary_data(view, item)[0])}")
    else:
        data, binary = binary_data(view, item) if name == "BINARY[]" and not item.spec \
            else (section_data(view, item), False)
        if item.partial is not None:
            start, length = item.partial
            data = data[start:start + length]
        if counters is not None:
            kind = "hdr" if item.header_only else "body"
            counters[kind + "_count"] += 1
            counters[kind + "_bytes"] += len(data)
        marker = b" ~{%d}\r\n" if binary else b" {%d}\r\n"
        literals.append(item.response_name().encode() + marker % len(data) + data)


__all__ = ["FetchItem", "MessageView", "UnknownCte", "binary_data", "flag_list", "imap_date",
           "parse_fetch", "render_fetch", "section_data"]
