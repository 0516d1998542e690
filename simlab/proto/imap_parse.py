"""NAME
    imap_parse - IMAP4rev1 command syntax: arguments, sequence sets, mailbox names

SUMMARY
    args = parse_args([b'a1 LOGIN "erin" {7}', b"erin-pw", b""])  # after the tag and name
    SequenceSet.parse("1:3,5,7:*").resolve(largest)
    decode_mailbox("&ZeVnLIqe-"); encode_mailbox("日本語")
    quote(b"Alice"); astring("INBOX"); nstring(None)

DESCRIPTION
    A command arrives as text pieces and literals: a line that ends in
    {N} (or {N+}, LITERAL+) is followed by N raw bytes and then the rest
    of the command (~{N}, RFC 3516's literal8, alike). ``literal_size``
    recognises the marker; the core sends "+ OK" for synchronising
    literals, as Dovecot does, and collects the pieces. ``parse_args`` turns them into Python values: ``Atom`` (NIL
    included), ``String`` (quoted or literal, as bytes) and lists. An atom
    may carry a bracketed part with spaces and parentheses in it, as in
    BODY[HEADER.FIELDS (SUBJECT FROM)]<0.100>.

    Mailbox names travel in modified UTF-7 (RFC 3501 5.1.3) and are UTF-8
    inside. Strings are written back quoted when they can be, as a
    literal otherwise; astrings as atoms when they are atoms.

SEE ALSO
    RFC 3501 sections 4, 5.1.3, 9; RFC 7888 (LITERAL+)
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Union

ATOM_SPECIALS = set(b'(){ %*"\\]') | set(range(0, 32)) | {127}
# Dovecot reads flags (\Seen), sets (1:*) and patterns (%) as atoms too
_ATOM_STOP = set(b'() "') | set(range(0, 32)) | {127}
_LITERAL_RE = re.compile(rb"\{(\d{1,10})(\+?)\}$")


class ParseError(Exception):
    """A syntax error; ``str(exc)`` is the text after "Error in IMAP command X: "."""


@dataclass(frozen=True)
class Atom:
    value: str

    @property
    def upper(self) -> str:
        return self.value.upper()


@dataclass(frozen=True)
class String:
    value: bytes
    literal: bool = False

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


Arg = Union[Atom, String, list]


def literal_size(line: bytes) -> tuple[int, bool] | None:
    """(N, synchronising) when LINE ends with a literal marker."""
    m = _LITERAL_RE.search(line)
    if m is None:
        return None
    return int(m.group(1)), not m.group(2)


class _Reader:
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.i = 0
        self.pos = 0

    @property
    def text(self) -> bytes:
        return self.pieces[self.i] if self.i < len(self.pieces) else b""

    def peek(self) -> int | None:
        text = self.text
        return text[self.pos] if self.pos < len(text) else None

    def at_end(self) -> bool:
        return self.i >= len(self.pieces) - 1 and self.pos >= len(self.text)

    def skip_space(self) -> None:
        while self.peek() == 0x20:
            self.pos += 1


def _read_quoted(r: _Reader) -> String:
    text, start = r.text, r.pos + 1
    out = bytearray()
    i = start
    while i < len(text):
        ch = text[i]
        if ch == 0x5C:
            # Dovecot takes any character after a backslash as itself
            if i + 1 >= len(text):
                raise ParseError("Missing '\"'")
            out.append(text[i + 1])
            i += 2
            continue
        if ch == 0x22:
            r.pos = i + 1
            return String(bytes(out))
        out.append(ch)
        i += 1
    raise ParseError("Missing '\"'")


def _read_atom(r: _Reader) -> str:
    text, start = r.text, r.pos
    i, depth = start, 0
    while i < len(text):
        ch = text[i]
        if ch == 0x5B:
            depth += 1
        elif ch == 0x5D and depth:
            depth -= 1
        elif depth == 0 and ch in _ATOM_STOP:
            break
        elif ch >= 0x80:
            raise ParseError("8bit data in atom")
        i += 1
    r.pos = i
    return text[start:i].decode("utf-8", "replace")


def _read_list(r: _Reader, depth: int) -> list:
    items: list = []
    while True:
        r.skip_space()
        ch = r.peek()
        if ch is None:
            if r.i < len(r.pieces) - 1 and r.pos >= len(r.text):
                raise ParseError("Missing ')'")
            raise ParseError("Missing ')'")
        if ch == 0x29:
            if depth == 0:
                raise ParseError("Unexpected ')'")
            r.pos += 1
            return items
        items.append(_read_one(r, depth))


def _read_one(r: _Reader, depth: int) -> Arg:
    ch = r.peek()
    if ch == 0x28:
        r.pos += 1
        return _read_list(r, depth + 1)
    if ch == 0x22:
        return _read_quoted(r)
    if ch == 0x7E and r.text[r.pos + 1:r.pos + 2] == b"{":
        r.pos += 1  # literal8 (RFC 3516): the same bytes, NULs allowed
        ch = 0x7B
    if ch == 0x7B:
        m = _LITERAL_RE.match(r.text[r.pos:])
        if m is None or r.pos + m.end() != len(r.text) or r.i + 1 >= len(r.pieces) - 1:
            raise ParseError("Invalid literal size")
        data = r.pieces[r.i + 1]
        r.i += 2
        r.pos = 0
        return String(data, literal=True)
    if ch == 0x29:
        raise ParseError("Unexpected ')'")
    word = _read_atom(r)
    if not word:
        raise ParseError(f"Unexpected '{chr(ch or 32)}'")
    return Atom(word)


def parse_args(pieces: list[bytes]) -> list[Arg]:
    """Arguments of a command; PIECES alternate text, literal, text, ... (text first and last)."""
    r = _Reader(pieces)
    args: list[Arg] = []
    while True:
        r.skip_space()
        if r.peek() is None:
            if r.i >= len(pieces) - 1:
                return args
            raise ParseError("Missing literal")
        args.append(_read_one(r, 0))
        nxt = r.peek()
        if nxt is not None and nxt != 0x20 and nxt != 0x29:
            raise ParseError("Missing space")


def split_command(first: bytes) -> tuple[str, str, bytes]:
    """(tag, command name, rest) of a command's first text piece."""
    tag, _, rest = first.partition(b" ")
    name, _, rest = rest.partition(b" ")
    return tag.decode("utf-8", "replace"), name.decode("utf-8", "replace"), rest


def valid_tag(tag: str) -> bool:
    return bool(tag) and all(ord(c) > 32 and ord(c) < 127 and c not in '+(){%*"\\' for c in tag)


# -- sequence sets -------------------------------------------------------------------
@dataclass(frozen=True)
class SequenceSet:
    ranges: tuple[tuple[int | None, int | None], ...]

    @classmethod
    def parse(cls, text: str) -> "SequenceSet":
        ranges = []
        if text.endswith(",") and len(text) > 1:
            text = text[:-1]  # Dovecot's imap_seq_set_parse() takes one trailing comma
        for part in text.split(","):
            lo, sep, hi = part.partition(":")
            if not lo or (sep and not hi):
                raise ParseError("Invalid messageset")
            ranges.append((_seq_number(lo), _seq_number(hi) if sep else _seq_number(lo)))
        return cls(tuple(ranges))

    def resolve(self, largest: int) -> list[int]:
        """The numbers in the set, ascending; '*' is LARGEST."""
        out: set[int] = set()
        for lo, hi in self.ranges:
            a = largest if lo is None else lo
            b = largest if hi is None else hi
            if a > b:
                a, b = b, a
            out.update(range(a, b + 1))
        return sorted(out)

    def contains(self, value: int, largest: int) -> bool:
        for lo, hi in self.ranges:
            a = largest if lo is None else lo
            b = largest if hi is None else hi
            if min(a, b) <= value <= max(a, b):
                return True
        return False

    def max_explicit(self, largest: int) -> int:
        return max(largest if v is None else v for r in self.ranges for v in r)


def _seq_number(text: str) -> int | None:
    if text == "*":
        return None
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or int(text) >= 2**32:
        raise ParseError("Invalid messageset")
    return int(text)


def format_set(numbers: list[int]) -> str:
    """1,2,3,5 -> '1:3,5' (numbers ascending)."""
    out: list[str] = []
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        out.append(str(numbers[i]) if i == j else f"{numbers[i]}:{numbers[j]}")
        i = j + 1
    return ",".join(out)


# -- modified UTF-7 ------------------------------------------------------------------
def encode_mailbox(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def decode_mailbox(name: str) -> str:
    """Modified UTF-7 to text; ValueError when it is not valid mUTF-7."""
    out, i = [], 0
    while i < len(name):
        ch = name[i]
        if ord(ch) > 0x7E or ord(ch) < 0x20:
            raise ValueError("8-bit or control character in mailbox name")
        if ch != "&":
            out.append(ch)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError("unterminated &")
        chunk = name[i + 1:end]
        if not chunk:
            out.append("&")
        else:
            raw = base64.b64decode(chunk.replace(",", "/") + "=" * (-len(chunk) % 4))
            if len(raw) % 2:
                raise ValueError("odd UTF-16")
            out.append(raw.decode("utf-16-be"))
        i = end + 1
    return "".join(out)


# -- writing -------------------------------------------------------------------------
def quote(value: bytes | str) -> str:
    """A quoted string, or a literal when VALUE cannot be quoted."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    if any(b in (0, 10, 13) or b > 127 for b in raw) or len(raw) > 4096:
        return "{%d}\r\n" % len(raw) + raw.decode("utf-8", "surrogateescape")
    text = raw.decode("ascii")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nstring(value: bytes | str | None) -> str:
    return "NIL" if value is None else quote(value)


def astring(value: str) -> str:
    raw = value.encode("utf-8")
    if raw and value.upper() != "NIL" and not any(b in ATOM_SPECIALS or b > 127 for b in raw):
        return value
    return quote(raw)
