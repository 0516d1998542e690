"""NAME
    imap_search - SEARCH criteria: parsing them, testing messages against them

SUMMARY
    charset, test = parse_search(args)
    matches = [m.seq for m in messages if test(SearchContext(view, largest_seq, largest_uid))]

DESCRIPTION
    Every search key of RFC 3501 6.4.4: ALL, flags (ANSWERED, DELETED,
    DRAFT, FLAGGED, NEW, OLD, RECENT, SEEN, KEYWORD and the UN- forms),
    dates (BEFORE, ON, SINCE on the INTERNALDATE; SENTBEFORE, SENTON,
    SENTSINCE on the Date: header; days only, times and zones ignored),
    sizes (LARGER, SMALLER), text (BCC, CC, FROM, SUBJECT, TO, HEADER, BODY,
    TEXT: case-insensitive substrings, MIME encoded-words and base64 or
    quoted-printable bodies decoded), sets (a sequence set, UID set), and
    NOT, OR and parenthesised lists. Keys side by side must all match.
    CHARSET may be any charset iconv knows (SORT and THREAD pass theirs in).
    WITHIN (RFC 5032): YOUNGER n and OLDER n compare the INTERNALDATE with
    the server's clock at parse time, in whole seconds as Dovecot's
    ioloop_time ("OLDER n" includes the second n ago, "YOUNGER n" too);
    n must be 1 to 2^32-1, else "Invalid search interval parameter".
    SEARCHRES (RFC 5182): the key "$" is the UIDs saved by the last
    RETURN (SAVE), none when nothing was saved.

SEE ALSO
    RFC 3501 6.4.4, RFC 5032, RFC 5182, Dovecot mail-search-parser-imap.c
"""

from __future__ import annotations

import base64
import binascii
import email.errors
import email.header
import email.utils
import quopri
import re
import time
from dataclasses import dataclass
import codecs
from datetime import date
from typing import Callable, Collection

from .imap_fetch import MessageView
from .imap_parse import Arg, Atom, ParseError, SequenceSet, String

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def charset_known(name: str) -> bool:
    """Whether iconv would know NAME (Dovecot asks it); Python's codec table stands in."""
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


class BadCharset(Exception):
    """SEARCH CHARSET names a charset the server does not know."""


@dataclass
class SearchContext:
    view: MessageView
    largest_seq: int
    largest_uid: int


Test = Callable[[SearchContext], bool]


def _decode_words(text: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return text


def _header_text(ctx: SearchContext, name: str) -> str:
    values = [_value for key, _value in _fields(ctx) if key == name.lower()]
    return "\n".join(values)


def _fields(ctx: SearchContext) -> list[tuple[str, str]]:
    out = []
    for key, raw in ctx.view.part.header.fields:
        value = raw.split(b":", 1)[1] if b":" in raw else b""
        text = value.replace(b"\r", b"").replace(b"\n", b"").decode("utf-8", "replace").strip()
        out.append((key, text + "\n" + _decode_words(text)))
    return out


def _body_text(ctx: SearchContext) -> str:
    part = ctx.view.part
    body = part.body
    cte = (part.header.get("content-transfer-encoding") or "").lower()
    try:
        if cte == "base64":
            body = base64.b64decode(body, validate=False)
        elif cte == "quoted-printable":
            body = quopri.decodestring(body)
    except (ValueError, binascii.Error):
        pass
    return body.decode("utf-8", "replace")


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _parse_date(arg: Arg) -> date:
    text = arg.value if isinstance(arg, Atom) else arg.text if isinstance(arg, String) else ""
    m = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise ParseError("Invalid search date parameter.")
    try:
        return date(int(m.group(3)), _MONTHS.index(m.group(2).lower()) + 1, int(m.group(1)))
    except ValueError:
        raise ParseError("Invalid search date parameter.") from None


def _internal_day(ctx: SearchContext) -> date:
    tm = time.gmtime(ctx.view.info.internaldate)
    return date(tm.tm_year, tm.tm_mon, tm.tm_mday)


def _sent_day(ctx: SearchContext) -> date | None:
    value = ctx.view.part.header.get("date")
    parsed = email.utils.parsedate_tz(value) if value else None
    if not parsed:
        return None
    try:
        return date(parsed[0], parsed[1], parsed[2])
    except ValueError:
        return None


def _flag(name: str, present: bool = True) -> Test:
    return lambda ctx: (name in ctx.view.info.flags) == present


_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True), "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False), "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False), "UNFLAGGED": ("\\Flagged", False), "UNSEEN": ("\\Seen", False),
}
_ADDRESS_KEYS = {"BCC", "CC", "FROM", "SUBJECT", "TO"}


class _Parser:
    def __init__(self, args: list[Arg], now: float = 0.0,
                 saved: Collection[int] | None = None, codec: str = "utf-8",
                 keywords: list[str] | None = None) -> None:
        self.args = args
        self.keywords = keywords if keywords is not None else []
        self.i = 0
        self.now = int(now)
        self.saved = frozenset(saved or ())
        self.codec = codec

    def next(self, key: str) -> Arg:
        if self.i >= len(self.args):
            raise ParseError(f"Missing parameter for search key (for search key: {key})")
        arg = self.args[self.i]
        self.i += 1
        return arg

    def string(self, key: str) -> str:
        arg = self.next(key)
        if isinstance(arg, Atom):
            return arg.value
        if isinstance(arg, String):
            return arg.value.decode(self.codec, "replace")
        raise ParseError(f"Invalid parameter for argument {key}")

    def number(self, key: str) -> int:
        text = self.string(key)
        if not (text.isascii() and text.isdigit()):
            raise ParseError(f"Invalid parameter for argument {key}")
        return int(text)

    def key(self) -> Test:
        arg = self.next("")
        if isinstance(arg, list):
            sub = _Parser(arg, self.now, self.saved, self.codec)
            tests = [sub.key()]
            while sub.i < len(sub.args):
                tests.append(sub.key())
            return lambda ctx: all(t(ctx) for t in tests)
        if not isinstance(arg, Atom):
            raise ParseError("Unknown argument " + (arg.text if isinstance(arg, String) else "()"))
        name = arg.upper
        if name == "$":
            saved = self.saved
            return lambda ctx: ctx.view.info.uid in saved
        if re.fullmatch(r"[\d*:,]+", name):
            seqs = SequenceSet.parse(name)
            return lambda ctx: seqs.contains(ctx.view.seq, ctx.largest_seq)
        return self._named(name)

    def _named(self, name: str) -> Test:
        if name == "ALL":
            return lambda ctx: True
        if name in _FLAG_KEYS:
            return _flag(*_FLAG_KEYS[name])
        if name in ("RECENT", "OLD"):
            want = name == "RECENT"
            return lambda ctx: ctx.view.info.recent == want
        if name == "NEW":
            return lambda ctx: ctx.view.info.recent and "\\Seen" not in ctx.view.info.flags
        if name in ("KEYWORD", "UNKEYWORD"):
            keyword = self.string(name)
            if not keyword.startswith("\\") and keyword not in self.keywords:
                self.keywords.append(keyword)
            return _flag(keyword, name == "KEYWORD")
        if name in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            return self._date(name, _parse_date(self.next(name)))
        if name in ("LARGER", "SMALLER"):
            size = self.number(name)
            if name == "LARGER":
                return lambda ctx: ctx.view.info.size > size
            return lambda ctx: ctx.view.info.size < size
        if name in _ADDRESS_KEYS:
            needle, field_name = self.string(name), name.lower()
            return lambda ctx: _contains(_header_text(ctx, field_name), needle)
        if name == "HEADER":
            field_name, needle = self.string(name).lower(), self.string(name)
            return lambda ctx: any(k == field_name and _contains(v, needle) for k, v in _fields(ctx))
        if name == "BODY":
            needle = self.string(name)
            return lambda ctx: _contains(_body_text(ctx), needle)
        if name == "TEXT":
            needle = self.string(name)
            return lambda ctx: _contains("\n".join(v for _k, v in _fields(ctx)), needle) or \
                _contains(_body_text(ctx), needle)
        if name in ("YOUNGER", "OLDER"):
            text = self.string(name)
            if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**32:
                raise ParseError("Invalid search interval parameter")
            since = self.now - int(text)
            if name == "YOUNGER":
                return lambda ctx: ctx.view.info.internaldate >= since
            return lambda ctx: ctx.view.info.internaldate < since + 1
        if name == "UID":
            text = self.string(name)
            if text == "$":
                saved = self.saved
                return lambda ctx: ctx.view.info.uid in saved
            uids = SequenceSet.parse(text)
            return lambda ctx: uids.contains(ctx.view.info.uid, ctx.largest_uid)
        if name == "NOT":
            inner = self.key()
            return lambda ctx: not inner(ctx)
        if name == "OR":
            left, right = self.key(), self.key()
            return lambda ctx: left(ctx) or right(ctx)
        raise ParseError(f"Unknown argument {name}")

    @staticmethod
    def _date(name: str, day: date) -> Test:
        getter = _sent_day if name.startswith("SENT") else _internal_day
        op = name[4:] if name.startswith("SENT") else name

        def test(ctx: SearchContext) -> bool:
            value = getter(ctx)
            if value is None:
                return False
            return value < day if op == "BEFORE" else value == day if op == "ON" else value >= day

        return test


def parse_search(args: list[Arg], charset: str | None = None, *, now: float = 0.0,
                 saved: Collection[int] | None = None,
                 keywords: list[str] | None = None) -> tuple[str, Test]:
    """(charset, test) of SEARCH's arguments; ParseError or BadCharset when wrong.

    CHARSET is the one SORT and THREAD name before their keys; without it a
    leading "CHARSET name" is read. NOW is the clock for YOUNGER and OLDER,
    SAVED the UIDs "$" stands for. KEYWORDS, when given, collects the keywords
    the keys name (Dovecot registers them in the mailbox).
    """
    if charset is None:
        charset = "US-ASCII"
        if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper == "CHARSET":
            name = args[1]
            charset = (name.value if isinstance(name, Atom) else
                       name.text if isinstance(name, String) else "")
            args = args[2:]
    charset = charset.upper()
    if not charset_known(charset):
        raise BadCharset(charset)
    if not args:
        raise ParseError("Missing search parameters")
    # strings are in the charset named; Dovecot reads US-ASCII as UTF-8
    parser = _Parser(args, now, saved, "utf-8" if charset == "US-ASCII" else charset, keywords)
    tests = [parser.key()]
    while parser.i < len(args):
        tests.append(parser.key())
    return charset, lambda ctx: all(t(ctx) for t in tests)
