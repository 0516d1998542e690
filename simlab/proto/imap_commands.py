"""NAME
    imap_commands - the IMAP commands that work on mailboxes, not messages

SUMMARY
    cmd_select(server, tag, "SELECT", args); cmd_list(server, tag, "LIST", args)

DESCRIPTION
    SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST
    (with LIST-EXTENDED selection and RETURN options, LIST-STATUS), LSUB,
    STATUS, NAMESPACE and APPEND (MULTIAPPEND, APPENDUID), with Dovecot's
    texts: "OK [READ-WRITE] Select completed.", "* OK [CLOSED] Previous
    mailbox closed.", "NO Mailbox doesn't exist: Foo", "NO [NONEXISTENT]
    ..." for DELETE, RENAME and UNSUBSCRIBE, "NO [TRYCREATE] ..." when
    APPEND's or COPY's target is missing, "NO [ALREADYEXISTS] Mailbox already
    exists". Mailbox names are modified UTF-7 on the wire; the hierarchy
    separator is "/". A SELECT with a (CONDSTORE) parameter is answered
    "* OK [NOMODSEQ] No permanent modsequences": this store keeps none.

SEE ALSO
    RFC 3501 6.3, RFC 5258, RFC 5819, RFC 3502, RFC 4315, simlab.proto.imap
"""

from __future__ import annotations

import calendar
import re
from typing import TYPE_CHECKING, Any

from .imap_messages import mailbox_arg, open_view, send_flags_lines, storage_reply, sync_mailbox
from .imap_parse import Arg, Atom, String, astring, encode_mailbox, format_set
from .mailbox import SYSTEM_FLAGS, MailboxListing, StorageError, canonical_flag

if TYPE_CHECKING:
    from .imap import ImapServer

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_RE = re.compile(r"^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")


def parse_date_time(text: str) -> float | None:
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


def _text(arg: Arg) -> str | None:
    if isinstance(arg, Atom):
        return arg.value
    if isinstance(arg, String):
        return arg.text
    return None


def pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.S)


def list_attributes(box: MailboxListing, subscribed: bool) -> str:
    attrs = ["\\Subscribed"] if subscribed else []
    if box.noselect:
        attrs.append("\\Noselect")
    attrs.append("\\HasChildren" if box.children else
                 "\\NoInferiors" if box.noinferiors else "\\HasNoChildren")
    if box.marked is not None:
        attrs.append("\\Marked" if box.marked else "\\UnMarked")
    return "(" + " ".join(attrs) + ")"


# -- SELECT / EXAMINE ----------------------------------------------------------
def _select(srv: ImapServer, tag: str, name: str, args: list[Arg], readonly: bool) -> None:
    if not args or len(args) > 2 or (len(args) == 2 and not isinstance(args[1], list)):
        srv.command_error(tag, name, "Missing arguments." if not args else "Invalid arguments.")
        return
    mailbox = mailbox_arg(srv, tag, name, args[0])
    if mailbox is None:
        return
    if srv.box is not None:
        srv.close_mailbox()
        srv.send_line("* OK [CLOSED] Previous mailbox closed.")
    assert srv.boxes is not None
    try:
        box = srv.boxes.open(mailbox, readonly)
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc))
        return
    open_view(srv, box, readonly)
    info = [srv.vinfo[uid] for uid in srv.view]
    send_flags_lines(srv)
    srv.send_line(f"* {len(srv.view)} EXISTS")
    srv.send_line(f"* {len(srv.vrecent)} RECENT")
    unseen = next((i for i, m in enumerate(info, 1) if "\\Seen" not in m.flags), 0)
    if unseen:
        srv.send_line(f"* OK [UNSEEN {unseen}] First unseen.")
    srv.send_line(f"* OK [UIDVALIDITY {box.uidvalidity}] UIDs valid")
    srv.send_line(f"* OK [UIDNEXT {box.uidnext}] Predicted next UID")
    params = args[1] if len(args) == 2 and isinstance(args[1], list) else []
    if any(isinstance(a, Atom) and a.upper == "CONDSTORE" for a in params):
        srv.send_line("* OK [NOMODSEQ] No permanent modsequences")
    srv.tagged(tag, "OK [READ-ONLY] Examine completed." if readonly and name == "EXAMINE"
                else "OK [READ-ONLY] Select completed." if readonly
                else "OK [READ-WRITE] Select completed.")


def cmd_select(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    _select(srv, tag, name, args, readonly=False)


def cmd_examine(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    _select(srv, tag, name, args, readonly=True)


# -- the folder list -------------------------------------------------------------
def _simple(srv: ImapServer, tag: str, name: str, args: list[Arg], count: int) -> list[str] | None:
    if len(args) != count:
        srv.command_error(tag, name, "Missing arguments." if len(args) < count
                           else "Invalid arguments.")
        return None
    names = [mailbox_arg(srv, tag, name, a) for a in args]
    return None if None in names else names  # type: ignore[return-value]


def _storage_call(srv: ImapServer, tag: str, done: str, call: Any, *values: str,
                  nonexistent: bool = False) -> None:
    try:
        call(*values)
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc, nonexistent=nonexistent))
        return
    srv.tagged(tag, done)


def cmd_create(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is not None:
        assert srv.boxes is not None
        _storage_call(srv, tag, "OK Create completed.", srv.boxes.create, names[0])


def cmd_delete(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is None:
        return
    assert srv.boxes is not None
    if srv.box is not None and srv.box.name == names[0]:
        srv.close_mailbox()
    _storage_call(srv, tag, "OK Delete completed.", srv.boxes.delete, names[0],
                       nonexistent=True)


def cmd_rename(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 2)
    if names is not None:
        assert srv.boxes is not None
        _storage_call(srv, tag, "OK Rename completed.", srv.boxes.rename, *names,
                           nonexistent=True)


def cmd_subscribe(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is not None:
        assert srv.boxes is not None
        _storage_call(srv, tag, "OK Subscribe completed.", srv.boxes.subscribe, names[0])


def cmd_unsubscribe(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is not None:
        assert srv.boxes is not None
        _storage_call(srv, tag, "OK Unsubscribe completed.", srv.boxes.unsubscribe,
                           names[0], nonexistent=True)


def cmd_namespace(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    srv.send_line('* NAMESPACE (("" "/")) NIL NIL')
    srv.tagged(tag, "OK Namespace completed.")


def _matching(srv: ImapServer, reference: str, patterns: list[str],
              names: list[str]) -> list[str]:
    regexes = [pattern_regex(reference + p) for p in patterns]
    inbox = [re.compile(r.pattern, re.S | re.I) for r in regexes]
    out = []
    for n in names:
        wire = encode_mailbox(n)
        tests = inbox if n == "INBOX" else regexes
        if any(r.match(wire) for r in tests):
            out.append(n)
    return out


def cmd_list(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    selection: list[str] = []
    rest = list(args)
    first = rest[0] if rest else None
    if isinstance(first, list):
        selection = [(_text(a) or "").upper() for a in first]
        rest.pop(0)
    returns: list[Arg] = []
    if len(rest) >= 4 and isinstance(rest[2], Atom) and rest[2].upper == "RETURN" \
            and isinstance(rest[3], list):
        returns, rest = rest[3], rest[:2]
    if len(rest) != 2:
        srv.command_error(tag, name, "Missing arguments." if len(rest) < 2
                           else "Invalid arguments.")
        return
    reference = _text(rest[0])
    patterns = [_text(p) for p in rest[1]] if isinstance(rest[1], list) else [_text(rest[1])]
    if reference is None or None in patterns:
        srv.command_error(tag, name, "Invalid arguments.")
        return
    if patterns == [""]:
        srv.send_line('* LIST (\\Noselect) "/" ""')
        srv.tagged(tag, "OK List completed.")
        return
    assert srv.boxes is not None
    subs = set(srv.boxes.subscriptions())
    want_subscribed = "SUBSCRIBED" in selection or any(
        isinstance(a, Atom) and a.upper == "SUBSCRIBED" for a in returns)
    status_items = next((returns[i + 1] for i, a in enumerate(returns[:-1])
                         if isinstance(a, Atom) and a.upper == "STATUS"), None)
    listing = {box.name: box for box in srv.boxes.listing()}
    if "SUBSCRIBED" in selection:
        listing = {n: b for n, b in listing.items() if n in subs}
    for n in _matching(srv, reference, patterns, list(listing)):  # type: ignore[arg-type]
        box = listing[n]
        attrs = list_attributes(box, want_subscribed and n in subs)
        srv.send_line(f'* LIST {attrs} "/" {astring(encode_mailbox(n))}')
        if isinstance(status_items, list) and not box.noselect:
            _status_line(srv, n, status_items)
    srv.tagged(tag, "OK List completed.")


def cmd_lsub(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if len(args) != 2 or _text(args[0]) is None or _text(args[1]) is None:
        srv.command_error(tag, name, "Invalid arguments.")
        return
    assert srv.boxes is not None
    subs = srv.boxes.subscriptions()
    for n in _matching(srv, _text(args[0]) or "", [_text(args[1]) or ""], subs):
        srv.send_line(f'* LSUB () "/" {astring(encode_mailbox(n))}')
    srv.tagged(tag, "OK Lsub completed.")


# -- STATUS ------------------------------------------------------------------------
def _status_line(srv: ImapServer, mailbox: str, items: list[Arg]) -> str | None:
    wanted = [(_text(a) or "").upper() for a in items]
    bad = next((w for w in wanted if w not in STATUS_ITEMS), None)
    if bad is not None:
        return f"Invalid status item {bad}"
    assert srv.boxes is not None
    st = srv.boxes.status(mailbox)
    values = {"MESSAGES": st.messages, "RECENT": st.recent, "UIDNEXT": st.uidnext,
              "UIDVALIDITY": st.uidvalidity, "UNSEEN": st.unseen, "SIZE": st.size}
    body = " ".join(f"{w} {values[w]}" for w in wanted)
    srv.send_line(f"* STATUS {astring(encode_mailbox(mailbox))} ({body})")
    return None


def cmd_status(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if len(args) != 2 or not isinstance(args[1], list):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    mailbox = mailbox_arg(srv, tag, name, args[0])
    if mailbox is None:
        return
    try:
        error = _status_line(srv, mailbox, args[1])
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc))
        return
    if error is not None:
        srv.command_error(tag, name, error)
        return
    srv.tagged(tag, "OK Status completed.")


# -- APPEND ------------------------------------------------------------------------
def _append_items(srv: ImapServer, args: list[Arg]
                  ) -> list[tuple[list[str], float | None, bytes]] | str:
    items: list[tuple[list[str], float | None, bytes]] = []
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
    if isinstance(items, str):
        srv.command_error(tag, name, items)
        return
    if any(not data for _f, _w, data in items):
        srv.tagged(tag, "NO Can't save a zero byte message.")
        return
    assert srv.boxes is not None
    uids, validity = [], 0
    try:
        for flags, when, data in items:
            validity, uid = srv.boxes.append(mailbox, data, flags, when)
            uids.append(uid)
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc, trycreate=True))
        return
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, f"OK [APPENDUID {validity} {format_set(uids)}] Append completed.")
