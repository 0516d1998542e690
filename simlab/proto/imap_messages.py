"""NAME
    imap_messages - the IMAP commands that work on the selected mailbox's messages

SUMMARY
    cmd_fetch(server, tag, "FETCH", args); sync_mailbox(server, expunges=True)

DESCRIPTION
    FETCH (with BINARY, RFC 3516), STORE, COPY, MOVE, EXPUNGE, UID
    EXPUNGE, CHECK, CLOSE and UNSELECT (SEARCH is in imap_esearch), and
    the mailbox synchronisation that follows them as in Dovecot: after a
    command the session's view is compared with the mailbox and the changes are sent
    before the tagged reply -- "* N EXPUNGE" (highest first; not after
    FETCH, STORE, SEARCH and COPY without UID, which must not renumber),
    "* N EXISTS" and "* N RECENT" for new mail, "* N RECENT" alone when
    expunges changed the recent count, "* N FETCH (FLAGS (...))" for
    flags changed by this or another session (UID first after UID STORE;
    not for STORE .SILENT's own changes), and CONTEXT=SEARCH's ESEARCH
    updates of kept search results (imap_context).

    Message sets are checked as Dovecot does: in an empty mailbox every
    sequence set is an "Invalid messageset", as is any number past the last
    message; UID sets simply match what exists. "$" (SEARCHRES, RFC 5182)
    is the UIDs the last RETURN (SAVE) kept, with or without UID, and
    matches nothing when none was saved. A read-only (EXAMINE)
    mailbox ignores STORE and EXPUNGE ("OK Store ignored with read-only
    mailbox.").

SEE ALSO
    RFC 3501 6.4 and 7.4, RFC 5182 (SEARCHRES), RFC 6851 (MOVE), RFC 4315
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .imap_context import send_changes, send_removed
from .imap_fetch import FetchItem, MessageView, UnknownCte, flag_list, parse_fetch, render_fetch
from .imap_parse import Arg, Atom, ParseError, SequenceSet, String, decode_mailbox, format_set
from .imap_state import State
from .mailbox import DELETED, SEEN, SYSTEM_FLAGS, MessageInfo, OpenMailbox, StorageError, canonical_flag

if TYPE_CHECKING:
    from .imap import ImapServer

_BASE_FLAGS = " ".join(SYSTEM_FLAGS)
_RESP_CODES = {"TEMP": "SERVERBUG", "NOTPOSSIBLE": "CANNOT", "PARAMS": "CANNOT",
               "PERM": "NOPERM", "EXISTS": "ALREADYEXISTS", "EXPUNGED": "EXPUNGEISSUED",
               "INUSE": "INUSE"}


def storage_reply(exc: StorageError, nonexistent: bool = False, trycreate: bool = False) -> str:
    """Dovecot's NO reply for a storage error, with its response code."""
    code = _RESP_CODES.get(exc.kind)
    if exc.kind == "NOTFOUND":
        code = "TRYCREATE" if trycreate else "NONEXISTENT" if nonexistent else None
    return f"NO [{code}] {exc.text}" if code else f"NO {exc.text}"


def mailbox_arg(srv: ImapServer, tag: str, name: str, arg: Arg) -> str | None:
    """A mailbox name argument (modified UTF-7) as text; replies itself when it is bad."""
    text = arg.value if isinstance(arg, Atom) else arg.text if isinstance(arg, String) else None
    if text is None:
        srv.command_error(tag, name, "Invalid arguments.")
        return None
    try:
        return decode_mailbox(text)
    except (ValueError, UnicodeDecodeError):
        srv.tagged(tag, "NO Mailbox name is not valid mUTF-7")
        return None


# -- the session's view of the mailbox --------------------------------------------
def open_view(srv: ImapServer, box: OpenMailbox, readonly: bool) -> None:
    infos = box.sync()
    srv.box, srv.examined, srv.state = box, readonly, State.SELECTED
    srv.view = [m.uid for m in infos]
    srv.vinfo = {m.uid: m for m in infos}
    srv.vrecent = {m.uid for m in infos if m.recent}
    srv.keywords = box.keywords()


def send_flags_lines(srv: ImapServer) -> None:
    words = " ".join(srv.keywords)
    flags = _BASE_FLAGS + (" " + words if words else "")
    srv.send_line(f"* FLAGS ({flags})")
    if srv.examined:
        srv.send_line("* OK [PERMANENTFLAGS ()] Read-only mailbox.")
    else:
        srv.send_line(f"* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted.")


def sync_mailbox(srv: ImapServer, expunges: bool, send_uid: bool = False,
                 hide: set[int] | frozenset[int] = frozenset(),
                 force: set[int] | frozenset[int] = frozenset()) -> None:
    if srv.box is None:
        return
    try:
        infos = srv.box.sync()
    except StorageError:
        return
    current = {m.uid: m for m in infos}
    recent_before = len(srv.vrecent)
    if expunges:
        send_removed(srv, [u for u in srv.view if u not in current])
        for seq in range(len(srv.view), 0, -1):
            uid = srv.view[seq - 1]
            if uid not in current:
                del srv.view[seq - 1]
                srv.vinfo.pop(uid, None)
                srv.vrecent.discard(uid)
                srv.send_line(f"* {seq} EXPUNGE")
    last = srv.view[-1] if srv.view else 0
    new = [m for m in infos if m.uid > last]
    if new:
        for m in new:
            srv.view.append(m.uid)
            srv.vinfo[m.uid] = m
            if m.recent:
                srv.vrecent.add(m.uid)
        srv.send_line(f"* {len(srv.view)} EXISTS")
        srv.send_line(f"* {len(srv.vrecent)} RECENT")
    elif len(srv.vrecent) != recent_before:
        # Dovecot reports the recent count whenever it changed, also after expunges
        srv.send_line(f"* {len(srv.vrecent)} RECENT")
    keywords = srv.box.keywords()
    if keywords != srv.keywords:
        srv.keywords = keywords
        send_flags_lines(srv)
    fresh = {m.uid for m in new}
    for seq, uid in enumerate(srv.view, 1):
        found = current.get(uid)
        if found is None or uid in fresh:
            continue
        m = found
        changed = m.flags != srv.vinfo[uid].flags
        srv.vinfo[uid] = m
        if (changed or uid in force) and uid not in hide:
            head = f"UID {uid} " if send_uid else ""
            srv.send_line(f"* {seq} FETCH ({head}FLAGS {flag_list(m.flags, uid in srv.vrecent)})")
    send_changes(srv, current)


def resolve_set(srv: ImapServer, tag: str, name: str, arg: Arg, uid: bool) -> list[int] | None:
    """Sequence numbers named by ARG (a sequence set, or a UID set with UID)."""
    if not isinstance(arg, Atom):
        srv.command_error(tag, name, "Invalid arguments.")
        return None
    if arg.value == "$":
        saved = set(srv.saved_uids or ())
        return [i for i, u in enumerate(srv.view, 1) if u in saved]
    try:
        seqset = SequenceSet.parse(arg.value)
    except ParseError:
        srv.command_error(tag, name, "Invalid uidset" if uid else "Invalid messageset")
        return None
    if uid:
        largest = srv.view[-1] if srv.view else 0
        return [i for i, u in enumerate(srv.view, 1) if seqset.contains(u, largest)]
    count = len(srv.view)
    if count == 0 or seqset.max_explicit(count) > count:
        srv.command_error(tag, name, "Invalid messageset")
        return None
    return seqset.resolve(count)


def message_view(srv: ImapServer, seq: int) -> MessageView:
    assert srv.box is not None
    return MessageView(seq, srv.vinfo[srv.view[seq - 1]], srv.box.data)


# -- FETCH -------------------------------------------------------------------------
def cmd_fetch(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    uid = name.startswith("UID ")
    if len(args) != 2 or not isinstance(args[1], (Atom, list)):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    seqs = resolve_set(srv, tag, name, args[0], uid)
    if seqs is None:
        return
    try:
        items = parse_fetch(args[1])
    except ParseError as exc:
        srv.command_error(tag, name, str(exc))
        return
    if uid and not any(i.name == "UID" for i in items):
        items.insert(0, FetchItem("UID"))
    marks_seen = any(i.sets_seen for i in items) and not srv.examined
    has_flags = any(i.name == "FLAGS" for i in items)
    missing = False
    assert srv.box is not None
    for seq in seqs:
        view = message_view(srv, seq)
        wanted = items
        if marks_seen and SEEN not in view.info.flags:
            srv.box.store([view.info.uid], add={SEEN})
            info = view.info
            view.info = srv.vinfo[info.uid] = MessageInfo(
                info.uid, info.flags | {SEEN}, info.size, info.internaldate, info.recent)
            if not has_flags:
                wanted = items + [FetchItem("FLAGS")]
        try:
            srv.send(render_fetch(view, wanted, recent=view.info.uid in srv.vrecent,
                                   counters=srv.stats))
        except StorageError:
            missing = True
        except UnknownCte as exc:
            srv.send(exc.line)
            sync_mailbox(srv, expunges=uid)
            srv.tagged(tag, "NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding.")
            return
    sync_mailbox(srv, expunges=uid)
    srv.tagged(tag, "NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
                if missing else "OK Fetch completed.")


# -- STORE -------------------------------------------------------------------------
def _store_flags(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> set[str] | None:
    words = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    flags = set()
    for w in words:
        if not isinstance(w, Atom):
            srv.command_error(tag, name, "Flags list contains non-atoms.")
            return None
        flag = canonical_flag(w.value) if w.value.startswith("\\") else w.value
        if flag.startswith("\\") and flag not in SYSTEM_FLAGS:
            srv.command_error(tag, name, f"Invalid system flag {w.value.upper()}")
            return None
        flags.add(flag)
    return flags


def cmd_store(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    uid = name.startswith("UID ")
    rest = list(args)
    if len(rest) >= 2 and isinstance(rest[1], list):
        srv.command_error(tag, name, "Unknown STORE modifier")
        return
    if len(rest) < 3 or not isinstance(rest[1], Atom):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    kind = rest[1].upper
    op = kind[0] if kind[:1] in "+-" else "="
    base = kind.lstrip("+-")
    if base not in ("FLAGS", "FLAGS.SILENT"):
        srv.command_error(tag, name, "Invalid arguments.")
        return
    seqs = resolve_set(srv, tag, name, rest[0], uid)
    if seqs is None:
        return
    flags = _store_flags(srv, tag, name, rest[2:])
    if flags is None:
        return
    if srv.examined:
        sync_mailbox(srv, expunges=uid)
        srv.tagged(tag, "OK Store ignored with read-only mailbox.")
        return
    uids = [srv.view[s - 1] for s in seqs]
    if DELETED in flags and op != "-":
        srv.stats["deleted"] += sum(DELETED not in srv.vinfo[u].flags for u in uids)
    assert srv.box is not None
    if op == "+":
        srv.box.store(uids, add=flags)
    elif op == "-":
        srv.box.store(uids, remove=flags)
    else:
        srv.box.store(uids, replace=flags)
    silent = base.endswith(".SILENT")
    # only messages whose flags changed are reported, as in Dovecot
    sync_mailbox(srv, expunges=uid, send_uid=uid, hide=set(uids) if silent else set())
    srv.tagged(tag, "OK Store completed.")


# -- COPY / MOVE -------------------------------------------------------------------
def _copy(srv: ImapServer, tag: str, name: str, args: list[Arg]
          ) -> tuple[int, list[int], list[int]] | None:
    uid = name.startswith("UID ")
    if len(args) != 2:
        srv.command_error(tag, name, "Invalid arguments.")
        return None
    seqs = resolve_set(srv, tag, name, args[0], uid)
    if seqs is None:
        return None
    dest = mailbox_arg(srv, tag, name, args[1])
    if dest is None:
        return None
    if not seqs:
        sync_mailbox(srv, expunges=uid)
        srv.tagged(tag, "OK No messages found.")
        return None
    assert srv.box is not None
    try:
        return srv.box.copy([srv.view[s - 1] for s in seqs], dest)
    except StorageError as exc:
        srv.tagged(tag, storage_reply(exc, trycreate=True))
        return None


def cmd_copy(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    result = _copy(srv, tag, name, args)
    if result is None:
        return
    validity, src, dst = result
    sync_mailbox(srv, expunges=name.startswith("UID "))
    srv.tagged(tag, f"OK [COPYUID {validity} {format_set(src)} {format_set(dst)}] Copy completed.")


def cmd_move(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if srv.examined:
        srv.tagged(tag, "NO [CANNOT] Mailbox is read-only.")
        return
    result = _copy(srv, tag, name, args)
    if result is None:
        return
    validity, src, dst = result
    srv.send_line(f"* OK [COPYUID {validity} {format_set(src)} {format_set(dst)}] Moved UIDs.")
    assert srv.box is not None
    srv.stats["expunged"] += len(srv.box.expunge(src))
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, "OK Move completed.")


# -- EXPUNGE, CHECK, CLOSE, UNSELECT ---------------------------------------------------
def cmd_expunge(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    assert srv.box is not None
    if not srv.examined:
        srv.stats["expunged"] += len(srv.box.expunge())
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, "OK Expunge completed.")


def cmd_uid_expunge(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if len(args) != 1:
        srv.command_error(tag, name, "Invalid arguments.")
        return
    seqs = resolve_set(srv, tag, name, args[0], True)
    if seqs is None:
        return
    assert srv.box is not None
    uids = [srv.view[s - 1] for s in seqs if DELETED in srv.vinfo[srv.view[s - 1]].flags]
    if uids and not srv.examined:
        srv.stats["expunged"] += len(srv.box.expunge(uids))
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, "OK Expunge completed.")


def cmd_check(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    assert srv.box is not None
    srv.box.checkpoint(check=True)
    sync_mailbox(srv, expunges=True)
    srv.tagged(tag, "OK Check completed.")


def cmd_close(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    assert srv.box is not None
    if not srv.examined:
        srv.stats["expunged"] += len(srv.box.expunge())
    srv.close_mailbox()
    srv.tagged(tag, "OK Close completed.")


def cmd_unselect(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    srv.close_mailbox()
    srv.tagged(tag, "OK Unselect completed.")

