"""NAME
    imap_commands - the IMAP commands that work on mailboxes, not messages

SUMMARY
    cmd_select(server, tag, "SELECT", args); cmd_list(server, tag, "LIST", args)

DESCRIPTION
    SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST
    (with LIST-EXTENDED selection and RETURN options, LIST-STATUS), LSUB,
    STATUS and NAMESPACE (APPEND is in imap_append), with Dovecot's texts: "OK [READ-WRITE] Select completed.", "* OK [CLOSED] Previous
    mailbox closed.", "NO Mailbox doesn't exist: Foo", "NO [NONEXISTENT]
    ..." for DELETE, RENAME and UNSUBSCRIBE, "NO [TRYCREATE] ..." when
    APPEND's or COPY's target is missing, "NO [ALREADYEXISTS] Mailbox already
    exists". Mailbox names are modified UTF-7 on the wire; the hierarchy
    separator is "/". A SELECT with a (CONDSTORE) parameter is answered
    "* OK [NOMODSEQ] No permanent modsequences": this store keeps none.

    LIST-EXTENDED (RFC 5258) as Dovecot 2.3 parses it: selection options
    SUBSCRIBED, RECURSIVEMATCH (not alone), REMOTE (ignored) and
    SPECIAL-USE (no mailbox here has one, so it selects none); RETURN
    options SUBSCRIBED, CHILDREN, SPECIAL-USE and STATUS (items) (RFC 5819
    LIST-STATUS: a STATUS line after each selectable mailbox's LIST line).
    Anything else is "Unknown select options" / "Unknown return options",
    a non-atom "List options contains non-atoms.", RETURN without a list
    "Extra arguments.". As measured on Dovecot 2.3.19: \\HasChildren and
    \\HasNoChildren come only with a plain LIST or RETURN (CHILDREN); an
    empty mbox folder is neither \\Marked nor \\UnMarked, except when listed
    from the subscriptions (\\UnMarked); SUBSCRIBED lists in the order of the
    subscriptions file; STATUS items come in Dovecot's fixed order (MESSAGES
    RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE) whatever the client's order.
    SUBSCRIBE to a missing mailbox is "NO Mailbox doesn't exist: X"; a
    subscription left by a deleted mailbox is listed \\NonExistent. With
    RECURSIVEMATCH a mailbox carries CHILDINFO ("SUBSCRIBED") when it has
    subscribed children that the patterns do not list themselves. CREATE
    looks at the new folder at once, so its UIDVALIDITY is the CREATE's time.

SEE ALSO
    RFC 3501 6.3, RFC 5258, RFC 5819, simlab.proto.imap, simlab.proto.imap_append
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from .imap_messages import mailbox_arg, open_view, send_flags_lines, storage_reply
from .imap_parse import Arg, Atom, ParseError, String, astring, encode_mailbox
from .mailbox import MailboxListing, StorageError

if TYPE_CHECKING:
    from .imap import ImapServer

STATUS_ITEMS = ("MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE")
LIST_SELECT_OPTIONS = ("SUBSCRIBED", "RECURSIVEMATCH", "REMOTE", "SPECIAL-USE")
LIST_RETURN_OPTIONS = ("SUBSCRIBED", "CHILDREN", "SPECIAL-USE")



def _text(arg: Arg) -> str | None:
    if isinstance(arg, Atom):
        return arg.value
    if isinstance(arg, String):
        return arg.text
    return None


def pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.S)


def list_attributes(box: MailboxListing, subscribed: bool, children: bool = True,
                    empty: bool = False, from_subscriptions: bool = False) -> str:
    """Dovecot's flags: child info only for a plain LIST or RETURN (CHILDREN); an empty
    mbox file is neither marked nor unmarked, except when listed from the subscriptions."""
    marked = (False if from_subscriptions else None) if empty else box.marked
    attrs = ["\\Subscribed"] if subscribed else []
    if box.noselect:
        attrs.append("\\Noselect")
    if box.noinferiors:
        attrs.append("\\NoInferiors")
    elif children:
        attrs.append("\\HasChildren" if box.children else "\\HasNoChildren")
    if marked is not None:
        attrs.append("\\Marked" if marked else "\\UnMarked")
    return "(" + " ".join(attrs) + ")"


# -- SELECT / EXAMINE ----------------------------------------------------------
def _select(srv: ImapServer, tag: str, name: str, args: list[Arg], readonly: bool) -> None:
    # Dovecot closes the selected mailbox before it looks at the arguments, and
    # ignores anything after the name that is not a parameter list
    if srv.box is not None:
        srv.close_mailbox()
        srv.send_line("* OK [CLOSED] Previous mailbox closed.")
    if not args or isinstance(args[0], list):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    mailbox = mailbox_arg(srv, tag, name, args[0])
    if mailbox is None:
        return
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


def _look_at_inbox(srv: ImapServer) -> None:
    """Measured: Dovecot's mbox LIST and CREATE sync INBOX (UIDs and UIDVALIDITY written)."""
    assert srv.boxes is not None
    with contextlib.suppress(StorageError):
        srv.boxes.status("INBOX")


def cmd_create(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is not None:
        assert srv.boxes is not None
        _look_at_inbox(srv)
        _storage_call(srv, tag, "OK Create completed.", srv.boxes.create, names[0])
        if not names[0].endswith("/"):
            # Dovecot fixes the new folder's UIDVALIDITY now: look at it while it is new
            with contextlib.suppress(StorageError):
                srv.boxes.status(names[0])


def cmd_delete(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    names = _simple(srv, tag, name, args, 1)
    if names is None:
        return
    assert srv.boxes is not None
    selected = srv.box is not None and srv.box.name == names[0]
    if selected:
        srv.close_mailbox()
    _storage_call(srv, tag, "OK Delete completed.", srv.boxes.delete, names[0],
                       nonexistent=True)
    if selected:
        # measured: Dovecot then ends the session (the line end is not counted in "in")
        srv.stats["in"] -= srv.last_eol
        srv.send_line("* BYE Selected mailbox was deleted, have to disconnect.")
        srv.finish("Selected mailbox was deleted, have to disconnect.")


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
        if not any(box.name == names[0] and not box.noselect for box in srv.boxes.listing()):
            srv.tagged(tag, f"NO Mailbox doesn't exist: {names[0]}")
            return
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


def _list_options(selection: list[Arg], returns: list[Arg]) -> tuple[set[str], set[str],
                                                                      list[Arg] | None]:
    """(selection options, return options, STATUS items) of an extended LIST."""
    chosen, wanted, status = set(), set(), None
    for arg in selection:
        if not isinstance(arg, Atom):
            raise ParseError("List options contains non-atoms.")
        if arg.upper not in LIST_SELECT_OPTIONS:
            raise ParseError("Unknown select options")
        chosen.add(arg.upper)
    if "RECURSIVEMATCH" in chosen and not chosen & {"SUBSCRIBED", "SPECIAL-USE"}:
        raise ParseError("RECURSIVEMATCH must not be the only selection.")
    i = 0
    while i < len(returns):
        arg = returns[i]
        if not isinstance(arg, Atom):
            raise ParseError("List options contains non-atoms.")
        if arg.upper == "STATUS" and i + 1 < len(returns) and isinstance(returns[i + 1], list):
            status = returns[i + 1]
            bad = next((w for w in ((_text(a) or "").upper() for a in status)
                        if w not in STATUS_ITEMS), None)
            if bad is not None:
                raise ParseError(f"Invalid status item {bad}")
            i += 1
        elif arg.upper in LIST_RETURN_OPTIONS:
            wanted.add(arg.upper)
        else:
            raise ParseError("Unknown return options")
        i += 1
    return chosen, wanted, status


def cmd_list(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    rest = list(args)
    selection: list[Arg] = rest.pop(0) if rest and isinstance(rest[0], list) else []
    returns: list[Arg] = []
    extended = bool(args) and isinstance(args[0], list)
    if len(rest) >= 3 and isinstance(rest[2], Atom) and rest[2].upper == "RETURN":
        if len(rest) != 4 or not isinstance(rest[3], list):
            srv.command_error(tag, name, "Extra arguments.")
            return
        returns, rest, extended = rest[3], rest[:2], True
    if len(rest) != 2:
        srv.command_error(tag, name, "Invalid reference." if not rest else
                          "Missing arguments." if len(rest) < 2 else "Invalid arguments.")
        return
    reference = _text(rest[0])
    patterns = [_text(p) for p in rest[1]] if isinstance(rest[1], list) else [_text(rest[1])]
    extended = extended or isinstance(rest[1], list)
    if reference is None or None in patterns:
        srv.command_error(tag, name, "Invalid arguments.")
        return
    try:
        chosen, wanted, status_items = _list_options(selection, returns)
    except ParseError as exc:
        srv.command_error(tag, name, str(exc))
        return
    _look_at_inbox(srv)
    if patterns == [""]:
        srv.send_line('* LIST (\\Noselect) "/" ""')
        srv.tagged(tag, "OK List completed.")
        return
    assert srv.boxes is not None
    subs = srv.boxes.subscriptions()
    want_subscribed = "SUBSCRIBED" in chosen | wanted
    recursive = "RECURSIVEMATCH" in chosen
    listing = {box.name: box for box in srv.boxes.listing()}
    names = list(listing)
    if "SPECIAL-USE" in chosen:
        names = []  # no mailbox here has a special use
    elif "SUBSCRIBED" in chosen:
        shown = set(_matching(srv, reference, patterns, subs))  # type: ignore[arg-type]
        names = [n for n in names + [n for n in subs if n not in listing] if n in subs or
                 (recursive and any(s.startswith(n + "/") and s not in shown for s in subs))]
        # Dovecot walks the subscriptions file: its order, a parent at its first child
        names.sort(key=lambda n: next(i for i, s in enumerate(subs)
                                      if s == n or s.startswith(n + "/")))
    children = not extended or "CHILDREN" in wanted
    matched = _matching(srv, reference, patterns, subs)  # type: ignore[arg-type]
    for n in _matching(srv, reference, patterns, names):  # type: ignore[arg-type]
        box = listing.get(n)
        subscribed = want_subscribed and n in subs
        if box is None:
            attrs = "(\\Subscribed \\NonExistent)" if subscribed else "(\\NonExistent)"
        else:
            empty = box.noinferiors and box.marked is False and srv.boxes.status(n).messages == 0
            attrs = list_attributes(box, subscribed, children, empty, "SUBSCRIBED" in chosen)
        # CHILDINFO tells of subscribed children that the patterns did not list themselves
        info = ' (CHILDINFO ("SUBSCRIBED"))' if recursive and any(
            s.startswith(n + "/") and s not in matched for s in subs) else ""
        srv.send_line(f'* LIST {attrs} "/" {astring(encode_mailbox(n))}{info}')
        if status_items is not None and box is not None and not box.noselect:
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
    asked = [(_text(a) or "").upper() for a in items]
    bad = next((w for w in asked if w not in STATUS_ITEMS), None)
    if bad is not None:
        return f"Invalid status item {bad}"
    wanted = [w for w in STATUS_ITEMS if w in asked]  # Dovecot's order, not the client's
    assert srv.boxes is not None
    st = srv.boxes.status(mailbox)
    recent = st.recent
    if srv.box is not None and (srv.box.name == mailbox or
                                srv.box.name.upper() == mailbox.upper() == "INBOX"):
        recent = len(srv.vrecent)  # measured: the selected mailbox's own \\Recent
    values = {"MESSAGES": st.messages, "RECENT": recent, "UIDNEXT": st.uidnext,
              "UIDVALIDITY": st.uidvalidity, "UNSEEN": st.unseen, "SIZE": st.size}
    body = " ".join(f"{w} {values[w]}" for w in wanted)
    srv.send_line(f"* STATUS {astring(encode_mailbox(mailbox))} ({body})")
    return None


def cmd_status(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if len(args) != 2 or not isinstance(args[1], list):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    if not args[1]:
        srv.command_error(tag, name, "Empty status list.")
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
    selected = srv.box is not None and (srv.box.name == mailbox or
                                        srv.box.name.upper() == mailbox.upper() == "INBOX")
    srv.tagged(tag, "OK [CLIENTBUG] Status on selected mailbox completed." if selected
               else "OK Status completed.")
