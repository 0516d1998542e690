"""NAME
    imap_sort - SORT and UID SORT (RFC 5256, RFC 5957 SORT=DISPLAY, RFC 5267 ESORT)

SUMMARY
    cmd_sort(server, tag, "SORT", args)     # a1 SORT (REVERSE DATE SUBJECT) UTF-8 ALL
    base_subject("Re: [list] Fwd: hello (fwd)")   # ("HELLO", True)
    sent_date(view)                         # Date: as a UNIX time, else INTERNALDATE

DESCRIPTION
    SORT [RETURN (...)] (criteria) charset search-keys answers
    "* SORT 3 1 2" (UIDs with UID SORT), or one ESEARCH line with RETURN
    (see imap_esearch), then "OK Sort completed.". The search keys are
    SEARCH's; the charset is any iconv knows, anything else is "NO
    [BADCHARSET] Unknown charset".

    Criteria, compared as Dovecot's index-sort does: ARRIVAL (the
    INTERNALDATE, whole seconds), DATE (the sent date: the Date: header in
    UTC, the INTERNALDATE when it is missing or unparsable), SIZE
    (RFC822.SIZE), SUBJECT (the base subject below), FROM, TO, CC (the
    mailbox part of the field's first address, a group's name, "" when
    missing), DISPLAYFROM, DISPLAYTO (the first address's decoded display
    name, else mailbox@host), and X-SCORE (search relevancy, which needs
    full-text search: every message scores 0). Strings are compared
    after title-casing and decomposition, byte-wise, as i;unicode-casemap.
    REVERSE flips the criterion after it; a repeated criterion is ignored;
    messages equal on every criterion stay in sequence order (never
    reversed).

    The base subject follows RFC 5256 section 2.1 as Dovecot's
    imap-base-subject.c does: encoded-words decoded, the text title-cased,
    runs of white space made one space; then repeatedly trailing "(fwd)"
    and spaces are cut, leading "Re:", "Fw:", "Fwd:" (each optionally with
    a [blob] before or inside, as in "[list] Re:" or "Re[2]:") and a
    leading [blob] that leaves something after it are cut, and a
    "[Fwd: ...]" wrapper is unwrapped. Whether anything of "Re", "Fwd" or
    "(fwd)" was cut says whether the message is a reply or forward.

    Errors (BAD "Error in IMAP command SORT: ..."): "Invalid sort
    argument." (no list), "Empty sort program.", "Unknown sort argument:
    X", "Sort list ends with REVERSE.", "Invalid sort list argument.",
    "Invalid charset argument.", "Missing search parameters".

SEE ALSO
    RFC 5256, RFC 5957, RFC 5267, Dovecot cmd-sort.c, index-sort.c, imap-base-subject.c
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import functools
import unicodedata
from typing import TYPE_CHECKING, Callable

from .imap_esearch import (compile_search, finish, keep_updated, matching_views, parse_returns,
                           send_results)
from .imap_fetch import MessageView
from .imap_mime import first_address
from .imap_parse import Arg, Atom, ParseError, String

if TYPE_CHECKING:
    from .imap import ImapServer

CRITERIA = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "X-SCORE",
            "DISPLAYFROM", "DISPLAYTO")


# -- the values messages are sorted by -----------------------------------------------
def decode_words(text: str) -> str:
    """RFC 2047 encoded-words decoded (left alone when they are broken)."""
    if "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return text


def titlecase(text: str) -> str:
    """Each character title-cased, then decomposed (Dovecot's sort and base-subject form)."""
    out = []
    for ch in text:
        title = ch.title()
        out.append(title if len(title) == 1 else ch)
    return unicodedata.normalize("NFD", "".join(out))


def _pack_whitespace(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if ch in " \t\r\n":
            if not out or out[-1] != " ":
                out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _skip_blob(text: str, i: int) -> int | None:
    """Index after a "[blob]" (and one space) at I, None when there is none."""
    if i >= len(text) or text[i] != "[":
        return None
    j = i + 1
    while j < len(text) and text[j] not in "[]":
        j += 1
    if j >= len(text) or text[j] != "]":
        return None
    j += 1
    return j + 1 if j < len(text) and text[j] == " " else j


def _leader(text: str, start: int) -> tuple[int, bool, bool]:
    """(new start, anything removed, a Re/Fwd removed) for one subj-leader at START."""
    removed = False
    if text[start:start + 1] == " ":
        start += 1
        removed = True
    i = start
    while i < len(text) and text[i] == "[":
        after = _skip_blob(text, i)
        if after is None:
            return start, removed, False
        i = after
    for word in ("RE", "FWD", "FW"):
        if text.startswith(word, i):
            i += len(word)
            break
    else:
        return start, removed, False
    if text[i:i + 1] == " ":
        i += 1
    if text[i:i + 1] == "[":
        after = _skip_blob(text, i)
        if after is None:
            return start, removed, False
        i = after
    if text[i:i + 1] != ":":
        return start, removed, False
    return i + 1, True, True


def base_subject(subject: str) -> tuple[str, bool]:
    """(base subject, is a reply or forward) of a Subject: value (RFC 5256 2.1)."""
    text = _pack_whitespace(titlecase(decode_words(subject)))
    start, refwd = 0, False
    while True:
        end = len(text)
        while end > start:
            if text[end - 1] == " ":
                end -= 1
            elif end - 5 >= 0 and text[end - 5:end] == "(FWD)":
                end -= 5
                refwd = True
            else:
                break
        text = text[:end]
        found = True
        while found:
            start, found, was_refwd = _leader(text, start)
            refwd = refwd or was_refwd
            after = _skip_blob(text, start)
            if after is not None and after < len(text):
                start, found = after, True
        if text.startswith("[FWD:", start) and text.endswith("]"):
            refwd = True
            text = text[:-1]
            start += 5
            continue
        return text[start:], refwd


def _unix_date(value: str | None) -> int:
    parsed = email.utils.parsedate_tz(value) if value else None
    if not parsed:
        return 0
    try:
        return int(email.utils.mktime_tz(parsed[:9] + (parsed[9] or 0,)))
    except (ValueError, OverflowError):
        return 0


def sent_date(view: MessageView) -> int:
    """The Date: header as a UNIX time; the INTERNALDATE when it is missing or bad."""
    return _unix_date(view.part.header.get("date")) or int(view.info.internaldate)


def subject_of(view: MessageView) -> str | None:
    return view.part.header.get("subject")


def _mailbox(field_name: str) -> Callable[[MessageView], str]:
    def get(view: MessageView) -> str:
        first = first_address(view.part.header.get(field_name))
        return titlecase(decode_words(first[1] or "")) if first else ""
    return get


def _display(field_name: str) -> Callable[[MessageView], str]:
    def get(view: MessageView) -> str:
        first = first_address(view.part.header.get(field_name))
        if first is None:
            return ""
        name, local, host = first
        text = decode_words(name) if name else ""
        if not text:
            text = f"{local}@{host}" if local and host else local or ""
        return titlecase(text)
    return get


def _subject_key(view: MessageView) -> str:
    subject = subject_of(view)
    return "" if subject is None else base_subject(subject)[0]


KEYS: dict[str, Callable[[MessageView], object]] = {
    "ARRIVAL": lambda v: int(v.info.internaldate), "DATE": sent_date,
    "SIZE": lambda v: v.info.size, "SUBJECT": _subject_key,
    "FROM": _mailbox("from"), "TO": _mailbox("to"), "CC": _mailbox("cc"),
    "DISPLAYFROM": _display("from"), "DISPLAYTO": _display("to"), "X-SCORE": lambda v: 0,
}


# -- the sort program ------------------------------------------------------------------
def parse_program(items: list[Arg]) -> list[tuple[str, bool]]:
    """[(criterion, reverse), ...] of a SORT criteria list; ParseError as Dovecot words it."""
    if not items:
        raise ParseError("Empty sort program.")
    program: list[tuple[str, bool]] = []
    seen: set[str] = set()
    reverse = last_reverse = False
    i = 0
    while i < len(items) and isinstance(items[i], (Atom, String)):
        item = items[i]
        word = item.value if isinstance(item, Atom) else item.text
        i += 1
        last_reverse = word.upper() == "REVERSE"
        if last_reverse:
            reverse = not reverse
            continue
        if word.upper() not in CRITERIA:
            raise ParseError(f"Unknown sort argument: {word}")
        if word.upper() not in seen:
            seen.add(word.upper())
            program.append((word.upper(), reverse))
        reverse = False
    if last_reverse:
        raise ParseError("Sort list ends with REVERSE.")
    if i < len(items):
        raise ParseError("Invalid sort list argument.")
    return program


def sort_views(views: list[MessageView], program: list[tuple[str, bool]]) -> list[MessageView]:
    """VIEWS in PROGRAM's order, ties in sequence order."""
    values = {v.seq: [KEYS[name](v) for name, _rev in program] for v in views}

    def compare(a: MessageView, b: MessageView) -> int:
        for (_name, reverse), x, y in zip(program, values[a.seq], values[b.seq]):
            if x != y:
                less = x < y  # type: ignore[operator]
                return (1 if less else -1) if reverse else (-1 if less else 1)
        return -1 if a.seq < b.seq else 1 if a.seq > b.seq else 0

    return sorted(views, key=functools.cmp_to_key(compare))


def cmd_sort(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    uid = name.startswith("UID ")
    try:
        returns, args = parse_returns(srv, tag, args)
        if not args or not isinstance(args[0], list):
            raise ParseError("Invalid sort argument.")
        program = parse_program(args[0])
        if len(args) < 2 or not isinstance(args[1], (Atom, String)):
            raise ParseError("Invalid charset argument.")
    except ParseError as exc:
        srv.command_error(tag, name, str(exc))
        return
    charset = args[1].value if isinstance(args[1], Atom) else args[1].text
    test = compile_search(srv, tag, name, args[2:], charset)
    if test is None:
        return
    views = matching_views(srv, test)
    send_results(srv, tag, uid, sort_views(views, program), returns, sorting=True)
    if returns is not None and "UPDATE" in returns:
        keep_updated(srv, tag, uid, test, views)
    finish(srv, tag, uid, "OK Sort completed.")
