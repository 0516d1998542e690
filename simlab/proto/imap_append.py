"""NAME
    imap_append - APPEND with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315) and CATENATE

SUMMARY
    cmd_append(server, tag, "APPEND", args)
    parse_date_time('24-Nov-2026 14:00:00 +0100')    # 1795525200.0

DESCRIPTION
    APPEND mailbox [(flags)] ["date-time"] message, repeated for
    MULTIAPPEND: every message is checked first (flags, date, a zero byte
    message is "NO Can't save a zero byte message.") and then all are
    saved, answered "OK [APPENDUID validity uid-set] Append completed.", or
    "NO [TRYCREATE] Mailbox doesn't exist: X" when the mailbox is missing.
    A message may be "CATENATE (TEXT {n} URL "url" ...)" (RFC 4469): its
    parts are put together by imap_catenate before anything is saved, and
    a URL that cannot be read fails the whole command with "NO [BADURL
    url] ...". A literal may be a literal8 (~{n}). After the save the
    selected mailbox is synchronised (EXISTS, RECENT for the new mail).

SEE ALSO
    RFC 3501 6.3.11, RFC 3502, RFC 4315, RFC 4469, simlab.proto.imap_catenate
"""

from __future__ import annotations

import calendar
import re
from typing import TYPE_CHECKING, Union

from .imap_catenate import CatenateError, catenate_parts, compose
from .imap_messages import mailbox_arg, storage_reply, sync_mailbox
from .imap_parse import Arg, Atom, ParseError, String, format_set, parse_args, split_command
from .mailbox import SYSTEM_FLAGS, StorageError, canonical_flag

if TYPE_CHECKING:
    from .imap import ImapServer

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_RE = re.compile(r"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def parse_date_time(text: str) -> float | None:
    """APPEND's date-time as a UNIX time; None when it is not one."""
    m = _DATE_RE.match(text)
    if m is None or m.group(2).lower() not in _MONTHS:
        return None
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    try:
        when = calendar.timegm((int(year), _MONTHS.index(mon.lower()) + 1, int(day),
                                int(hh), int(mm), int(ss), 0, 0, 0))
    except ValueError:
        return None
    offset = (int(zh) * 60 + int(zm)) * 60
    return float(when - offset if sign == "+" else when + offset)


AppendItem = tuple[list[str], Union[float, None], Union[bytes, list[tuple[str, Union[bytes, str]]]]]


def _append_items(srv: ImapServer, args: list[Arg]) -> list[AppendItem] | str | CatenateError:
    items: list[AppendItem] = []
    i = 1
    while i < len(args):
        flags: list[str] = []
        when: float | None = None
        arg: Arg | None = args[i]
        if isinstance(arg, list):
            for f in arg:
                if not isinstance(f, Atom):
                    return "Flags list contains non-atoms."
                flag = canonical_flag(f.value) if f.value.startswith("\\") else f.value
                if flag.startswith("\\") and flag not in SYSTEM_FLAGS:
                    return f"Invalid system flag {f.value.upper()}"
                flags.append(flag)
            i += 1
        arg = args[i] if i < len(args) else None
        if isinstance(arg, String) and not arg.literal:
            when = parse_date_time(arg.text)
            if when is None:
                return "Invalid internal date."
            i += 1
        arg = args[i] if i < len(args) else None
        if isinstance(arg, Atom) and arg.upper == "CATENATE" and i + 1 < len(args):
            try:
                items.append((flags, when, catenate_parts(args[i + 1])))
            except CatenateError as exc:
                return exc
            except ParseError as exc:
                return str(exc)
            i += 2
            continue
        if not isinstance(arg, String):
            return "Invalid arguments."
        items.append((flags, when, arg.value))
        i += 1
    return items or "Invalid arguments."


def cmd_append(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if not args:
        srv.command_error(tag, name, "Missing arguments.")
        return
    mailbox = mailbox_arg(srv, tag, name, args[0])
    if mailbox is None:
        return
    items = _append_items(srv, args)
    if isinstance(items, CatenateError):
        srv.command_error(tag, name, str(items))
        if items.leftover_bad:
            srv.tagged("*", "BAD Error in IMAP tag: Invalid tag.")
            srv.bad += 1
        return
    if isinstance(items, str):
        srv.command_error(tag, name, items)
        return
    messages = []
    for flags, when, content in items:
        data = content if isinstance(content, bytes) else compose(srv, content)
        if isinstance(data, str):
            srv.tagged(tag, data)
            return
        messages.append((flags, when, data))
    if any(not data for _f, _w, data in messages):
        srv.tagged(tag, "NO Can't save a zero byte message.")
        return
    assert srv.boxes is not None
    uids, validity = [], 0
    try:
        for flags, when, data in messages:
            validity, uid = srv.boxes.append(mailbox, data, flags, when)
            uids.append(uid)
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc, trycreate=True))
        return
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, f"OK [APPENDUID {validity} {format_set(uids)}] Append completed.")


def append_refusal(srv: ImapServer, line: bytes, size: int) -> str | None:
    """Dovecot's answer to an APPEND before it asks for the first literal, or None.

    It opens the mailbox first: a missing one gets NO [TRYCREATE] at once, and so does
    an empty message, without the "+ OK" that would make the client send it.
    """
    _tag, name, rest = split_command(line)
    if name.upper() != "APPEND" or srv.boxes is None:
        return None
    try:
        args = parse_args([rest[:rest.rfind(b"{")]])
    except ParseError:
        return None
    mailbox = args[0] if args else None
    text = mailbox.value if isinstance(mailbox, Atom) else mailbox.text if isinstance(
        mailbox, String) else None
    if text is None:
        return None
    try:
        srv.boxes.status(text)
    except StorageError as exc:
        return storage_reply(exc, trycreate=True)
    return "NO Can't save a zero byte message." if size == 0 else None
