"""NAME
    imap_catenate - APPEND ... CATENATE (RFC 4469) and the IMAP URLs it reads (RFC 5092)

SUMMARY
    parts = catenate_parts(args[i + 1])          # [("TEXT", b"..."), ("URL", "/INBOX/;UID=2")]
    data = compose(server, parts)                # bytes, or the NO reply to send

DESCRIPTION
    APPEND mailbox [flags] [date] CATENATE (TEXT {n} URL "url" ...) builds
    the message from literal text and from parts of messages the user
    can read, named by relative IMAP URLs (Dovecot reads them with
    IMAP_URL_PARSE_REQUIRE_RELATIVE): "/Mailbox;UIDVALIDITY=n/;UID=n",
    then optionally "/;SECTION=1.2.MIME" (any BODY[] section) and
    "/;PARTIAL=offset.length" (URL-PARTIAL, RFC 5550). A path without a
    leading "/" continues the selected mailbox's (";UID=7" is a message of
    the selected mailbox). Mailbox names in URLs are %-encoded UTF-8.

    A URL that cannot be used fails the whole APPEND with Dovecot's "NO
    [BADURL url] reason.": "Invalid IMAP URL: Relative URL required" (an
    imap:// URL), "Mailbox-relative IMAP URL, but no mailbox selected",
    the mailbox's error ("Mailbox doesn't exist: X"), "Invalid UIDVALIDITY",
    "Message not found". A URL without a UID or with a bad section gets
    Dovecot 2.3.19's plain "NO" with the session's last storage error
    (see NoPart). A bad catenate list is "BAD ... Invalid
    arguments." ("Empty CATENATE list." for "()"); as Dovecot reads on from
    the bad item as if a new command began there, "* BAD Error in IMAP tag:
    Invalid tag." follows when that rest starts with a string, a list, ")"
    or "atom)" (a rest of two atoms or more, a tag and a command, is not
    modelled).

SEE ALSO
    RFC 4469, RFC 5092, RFC 5550, Dovecot cmd-append.c, imap-url.c, imap-msgpart-url.c
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .imap_fetch import MessageView, parse_fetch, section_data
from .imap_parse import Arg, Atom, ParseError, String
from .mailbox import StorageError

if TYPE_CHECKING:
    from .imap import ImapServer


@dataclass
class MessageUrl:
    mailbox: str
    uidvalidity: int
    uid: int
    section: str
    partial: tuple[int, int] | None


class BadUrl(Exception):
    """The reason an IMAP URL cannot be read (the text after "NO [BADURL url] ")."""


class NoPart(BadUrl):
    """A URL without a usable message part. Dovecot 2.3.19 fails it without an error
    of its own, so the reply is "NO" and the last storage error of the session
    (a missing mailbox, "[EXPUNGEISSUED] Message was expunged" after a missing
    message), or "[SERVERBUG] BUG: Unknown internal error" when there was none."""


class CatenateError(ParseError):
    """A malformed CATENATE list. Dovecot stops reading the line at the bad item and
    parses what follows as a new command: when that starts with a string, a list, the
    closing parenthesis or a last atom, its tag is invalid (LEFTOVER_BAD)."""

    def __init__(self, text: str, rest: list[Arg]) -> None:
        super().__init__(text)
        # a last atom runs into the ")" and so is no tag either
        self.leftover_bad = len(rest) < 2 or not isinstance(rest[0], Atom)


def catenate_parts(arg: Arg) -> list[tuple[str, bytes | str]]:
    """The (TEXT literal / URL url) pairs of a CATENATE list; ParseError when malformed."""
    if not isinstance(arg, list):
        raise ParseError("Invalid arguments.")
    if not arg:
        raise ParseError("Empty CATENATE list.")
    parts: list[tuple[str, bytes | str]] = []
    i = 0
    while i < len(arg):
        kind = arg[i]
        if not isinstance(kind, Atom) or kind.upper not in ("TEXT", "URL"):
            raise CatenateError("Invalid arguments.", arg[i + 1:])
        value = arg[i + 1] if i + 1 < len(arg) else None
        if kind.upper == "TEXT" and isinstance(value, String) and value.literal:
            parts.append(("TEXT", value.value))
        elif kind.upper == "URL" and isinstance(value, (Atom, String)):
            parts.append(("URL", value.value if isinstance(value, Atom) else value.text))
        else:
            raise CatenateError("Invalid arguments.", arg[i + 2:])
        i += 2
    return parts


def _number(text: str, name: str) -> int:
    if not text:
        raise BadUrl(f"Invalid IMAP URL: Empty {name} value")
    if not text[0].isdigit() or not text.isdigit():
        raise BadUrl(f"Invalid IMAP URL: Value '{text}' is not a valid IMAP number")
    if int(text) >= 2**32:
        raise BadUrl("Invalid IMAP URL: IMAP number is too high")
    return int(text)


def parse_url(url: str, base: str | None, base_validity: int) -> MessageUrl:
    """A relative message IMAP URL resolved against the selected mailbox BASE."""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url) or url.startswith("//"):
        scheme = url.partition(":")[0].lower() if not url.startswith("//") else "imap"
        if scheme != "imap":
            raise BadUrl("Invalid IMAP URL: Not an IMAP URL")
        if not url.startswith("//") and not url[5:].startswith("//"):
            raise BadUrl("Invalid IMAP URL: Absolute IMAP URL requires `//' after `imap:'")
        raise BadUrl("Invalid IMAP URL: Relative URL required")
    if "#" in url:
        raise BadUrl("Invalid IMAP URL: Fragment component not allowed in IMAP URL")
    path, _, query = url.partition("?")
    absolute = path.startswith("/")
    segments = path[1:].split("/") if absolute else path.split("/")
    names: list[str] = [] if absolute or base is None else [base]
    validity = 0 if absolute else base_validity
    uid, section, partial = 0, "", None
    i = 0
    while i < len(segments) and ";" not in segments[i]:
        if segments[i]:
            names.append(urllib.parse.unquote(segments[i]))
        i += 1
    if i < len(segments):
        seg = segments[i]
        head, _, rest = seg.partition(";")
        if rest.upper().startswith("UIDVALIDITY="):
            if head:
                names.append(urllib.parse.unquote(head))
            validity = _number(rest[12:], "UIDVALIDITY")
            if validity == 0:
                raise BadUrl("Invalid IMAP URL: UIDVALIDITY cannot be zero")
            i += 1
        elif head:
            raise BadUrl("Invalid IMAP URL: Encountered stray ';' in mailbox reference")
    if i < len(segments) and segments[i].upper().startswith(";UID="):
        uid = _number(segments[i][5:], "UID")
        if uid == 0:
            raise BadUrl("Invalid IMAP URL: UID cannot be zero")
        i += 1
    if uid and i < len(segments) and segments[i].upper().startswith(";SECTION="):
        pieces = [segments[i][9:]]
        i += 1
        while i < len(segments) and not segments[i].startswith(";"):
            pieces.append(segments[i])
            i += 1
        section = urllib.parse.unquote("/".join(p for p in pieces if p))
        if not section:
            raise BadUrl("Invalid IMAP URL: Empty SECTION value")
    if uid and i < len(segments) and segments[i].upper().startswith(";PARTIAL="):
        offset, dot, size = segments[i][9:].partition(".")
        start = _number(offset, "PARTIAL")
        length = _number(size, "PARTIAL size") if dot else 0
        if dot and length == 0:
            raise BadUrl("Invalid IMAP URL: PARTIAL size cannot be zero")
        partial = (start, length)
        i += 1
    if i < len(segments) and (segments[i] or i + 1 < len(segments)):
        raise BadUrl(f"Invalid IMAP URL: Unexpected IMAP URL path segment: `{segments[i]}'")
    if query and uid:
        raise BadUrl("Invalid IMAP URL: Search query part only valid for messagelist-type "
                     "IMAP URL")
    if not names:
        raise BadUrl("Mailbox-relative IMAP URL, but no mailbox selected")
    if not uid or query:
        raise NoPart("Invalid messagepart IMAP URL")
    return MessageUrl("/".join(names), validity, uid, section, partial)


def read_url(srv: ImapServer, url: str) -> bytes:
    """The bytes an IMAP URL names; BadUrl when it names nothing readable."""
    selected = srv.box.name if srv.box is not None else None
    target = parse_url(url, selected, srv.box.uidvalidity if srv.box is not None else 0)
    try:
        item = parse_fetch(Atom(f"BODY.PEEK[{target.section}]"))[0]
    except ParseError:
        raise NoPart("Invalid section") from None
    assert srv.boxes is not None
    own = srv.box is not None and target.mailbox == selected
    try:
        box = srv.box if own and srv.box is not None else srv.boxes.open(target.mailbox, True)
    except StorageError as exc:
        srv.last_storage_error = exc.text.rstrip(".")
        raise BadUrl(srv.last_storage_error) from None
    try:
        if target.uidvalidity and box.uidvalidity != target.uidvalidity:
            raise BadUrl("Invalid UIDVALIDITY")
        info = next((m for m in box.sync() if m.uid == target.uid), None)
        if info is None:
            srv.last_storage_error = "[EXPUNGEISSUED] Message was expunged"
            raise BadUrl("Message not found")
        data = section_data(MessageView(0, info, box.data), item)
    finally:
        if not own:
            with contextlib.suppress(StorageError):
                box.close()
    if target.partial is not None:
        start, length = target.partial
        data = data[start:start + length] if length else data[start:]
    return data


def compose(srv: ImapServer, parts: list[tuple[str, bytes | str]]) -> bytes | str:
    """The message CATENATE builds, or the NO reply when a URL cannot be read."""
    out = []
    for kind, value in parts:
        if kind == "TEXT":
            assert isinstance(value, bytes)
            out.append(value)
            continue
        assert isinstance(value, str)
        try:
            out.append(read_url(srv, value))
        except NoPart:
            return f"NO {srv.last_storage_error or '[SERVERBUG] BUG: Unknown internal error'}."
        except BadUrl as exc:
            return f"NO [BADURL {value}] {exc}."
        except StorageError as exc:
            return f"NO {exc.text}"
    return b"".join(out)
