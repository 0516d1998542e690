"""NAME
    imap_messages - the IMAP commands that work on the selected mailbox's messages

SUMMARY
    class ImapServer(MailboxCommands, MessageCommands, ServerCore): ...

DESCRIPTION
    FETCH, SEARCH (with ESEARCH's RETURN (MIN MAX COUNT ALL)), STORE, COPY,
    MOVE, EXPUNGE, UID EXPUNGE, CHECK, CLOSE and UNSELECT, and the mailbox
    synchronisation that follows them as in Dovecot: after a command the
    session's view is compared with the mailbox and the changes are sent
    before the tagged reply -- "* N EXPUNGE" (highest first; not after
    FETCH, STORE, SEARCH and COPY without UID, which must not renumber),
    "* N EXISTS" and "* N RECENT" for new mail, "* N FETCH (FLAGS (...))" for
    flags changed by this or another session (UID first after UID STORE;
    not for STORE .SILENT's own changes).

    Message sets are checked as Dovecot does: in an empty mailbox every
    sequence set is an "Invalid messageset", as is any number past the last
    message; UID sets simply match what exists. A read-only (EXAMINE)
    mailbox ignores STORE and EXPUNGE ("OK Store ignored with read-only
    mailbox.").

SEE ALSO
    RFC 3501 6.4 and 7.4, RFC 4731 (ESEARCH), RFC 6851 (MOVE), RFC 4315
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .imap_fetch import FetchItem, MessageView, flag_list, parse_fetch, render_fetch
from .imap_parse import Arg, Atom, ParseError, SequenceSet, format_set
from .imap_search import BadCharset, SearchContext, parse_search
from .mailbox import DELETED, SEEN, SYSTEM_FLAGS, MessageInfo, OpenMailbox, StorageError, canonical_flag

if TYPE_CHECKING:
    from .imap import ImapServer

_BASE_FLAGS = " ".join(SYSTEM_FLAGS)


class MessageCommands:
    """FETCH ... UNSELECT and the mailbox sync (see the module documentation)."""

    def __init__(self) -> None:
        self.view: list[int] = []
        self.vinfo: dict[int, MessageInfo] = {}
        self.vrecent: set[int] = set()
        self.keywords: list[str] = []
        self.examined = False

    # -- the session's view of the mailbox --------------------------------------------
    def open_view(self: "ImapServer", box: OpenMailbox, readonly: bool) -> None:
        from .imap import State  # imap imports this module: a late import avoids the cycle
        infos = box.sync()
        self.box, self.examined, self.state = box, readonly, State.SELECTED
        self.view = [m.uid for m in infos]
        self.vinfo = {m.uid: m for m in infos}
        self.vrecent = {m.uid for m in infos if m.recent}
        self.keywords = box.keywords()

    def send_flags_lines(self: "ImapServer") -> None:
        words = " ".join(self.keywords)
        flags = _BASE_FLAGS + (" " + words if words else "")
        self.send_line(f"* FLAGS ({flags})")
        if self.examined:
            self.send_line("* OK [PERMANENTFLAGS ()] Read-only mailbox.")
        else:
            self.send_line(f"* OK [PERMANENTFLAGS ({flags} \\*)] Flags permitted.")

    def sync_mailbox(self: "ImapServer", expunges: bool, send_uid: bool = False,
                     hide: set[int] | frozenset[int] = frozenset(),
                     force: set[int] | frozenset[int] = frozenset()) -> None:
        if self.box is None:
            return
        try:
            infos = self.box.sync()
        except StorageError:
            return
        current = {m.uid: m for m in infos}
        if expunges:
            for seq in range(len(self.view), 0, -1):
                uid = self.view[seq - 1]
                if uid not in current:
                    del self.view[seq - 1]
                    self.vinfo.pop(uid, None)
                    self.vrecent.discard(uid)
                    self.send_line(f"* {seq} EXPUNGE")
        last = self.view[-1] if self.view else 0
        new = [m for m in infos if m.uid > last]
        if new:
            for m in new:
                self.view.append(m.uid)
                self.vinfo[m.uid] = m
                if m.recent:
                    self.vrecent.add(m.uid)
            self.send_line(f"* {len(self.view)} EXISTS")
            self.send_line(f"* {len(self.vrecent)} RECENT")
        keywords = self.box.keywords()
        if keywords != self.keywords:
            self.keywords = keywords
            self.send_flags_lines()
        fresh = {m.uid for m in new}
        for seq, uid in enumerate(self.view, 1):
            m = current.get(uid)
            if m is None or uid in fresh:
                continue
            changed = m.flags != self.vinfo[uid].flags
            self.vinfo[uid] = m
            if (changed or uid in force) and uid not in hide:
                head = f"UID {uid} " if send_uid else ""
                self.send_line(f"* {seq} FETCH ({head}FLAGS {flag_list(m.flags, uid in self.vrecent)})")

    def resolve_set(self: "ImapServer", tag: str, name: str, arg: Arg, uid: bool) -> list[int] | None:
        """Sequence numbers named by ARG (a sequence set, or a UID set with UID)."""
        if not isinstance(arg, Atom):
            self.command_error(tag, name, "Invalid arguments.")
            return None
        try:
            seqset = SequenceSet.parse(arg.value)
        except ParseError:
            self.command_error(tag, name, "Invalid uidset" if uid else "Invalid messageset")
            return None
        if uid:
            largest = self.view[-1] if self.view else 0
            return [i for i, u in enumerate(self.view, 1) if seqset.contains(u, largest)]
        count = len(self.view)
        if count == 0 or seqset.max_explicit(count) > count:
            self.command_error(tag, name, "Invalid messageset")
            return None
        return seqset.resolve(count)

    def _message(self: "ImapServer", seq: int) -> MessageView:
        assert self.box is not None
        return MessageView(seq, self.vinfo[self.view[seq - 1]], self.box.data)

    # -- FETCH -------------------------------------------------------------------------
    def cmd_fetch(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        uid = name.startswith("UID ")
        if len(args) != 2 or not isinstance(args[1], (Atom, list)):
            self.command_error(tag, name, "Invalid arguments.")
            return
        seqs = self.resolve_set(tag, name, args[0], uid)
        if seqs is None:
            return
        try:
            items = parse_fetch(args[1])
        except ParseError as exc:
            self.command_error(tag, name, str(exc))
            return
        if uid and not any(i.name == "UID" for i in items):
            items.insert(0, FetchItem("UID"))
        marks_seen = any(i.sets_seen for i in items) and not self.examined
        has_flags = any(i.name == "FLAGS" for i in items)
        missing = False
        assert self.box is not None
        for seq in seqs:
            view = self._message(seq)
            wanted = items
            if marks_seen and SEEN not in view.info.flags:
                self.box.store([view.info.uid], add={SEEN})
                info = view.info
                view.info = self.vinfo[info.uid] = MessageInfo(
                    info.uid, info.flags | {SEEN}, info.size, info.internaldate, info.recent)
                if not has_flags:
                    wanted = items + [FetchItem("FLAGS")]
            try:
                self.send(render_fetch(view, wanted, recent=view.info.uid in self.vrecent,
                                       counters=self.stats))
            except StorageError:
                missing = True
        self.sync_mailbox(expunges=uid)
        self.tagged(tag, "NO [EXPUNGEISSUED] Some of the requested messages no longer exist."
                    if missing else "OK Fetch completed.")

    # -- SEARCH ------------------------------------------------------------------------
    def cmd_search(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        uid = name.startswith("UID ")
        returns: list[str] | None = None
        if len(args) >= 2 and isinstance(args[0], Atom) and args[0].upper == "RETURN" \
                and isinstance(args[1], list):
            returns = [(a.value.upper() if isinstance(a, Atom) else "") for a in args[1]] or ["ALL"]
            args = args[2:]
        try:
            _charset, test = parse_search(args)
        except BadCharset:
            self.tagged(tag, "NO [BADCHARSET (US-ASCII UTF-8)] Unknown charset")
            return
        except ParseError as exc:
            self.command_error(tag, name, str(exc))
            return
        found: list[int] = []
        largest_uid = self.view[-1] if self.view else 0
        for seq in range(1, len(self.view) + 1):
            try:
                if test(SearchContext(self._message(seq), len(self.view), largest_uid)):
                    found.append(self.view[seq - 1] if uid else seq)
            except StorageError:
                continue
        if returns is None:
            self.send_line("* SEARCH" + "".join(f" {n}" for n in found))
        else:
            parts = [f'(TAG "{tag}")'] + (["UID"] if uid else [])
            if found and "MIN" in returns:
                parts.append(f"MIN {found[0]}")
            if found and "MAX" in returns:
                parts.append(f"MAX {found[-1]}")
            if found and "ALL" in returns:
                parts.append(f"ALL {format_set(found)}")
            if "COUNT" in returns:
                parts.append(f"COUNT {len(found)}")
            self.send_line("* ESEARCH " + " ".join(parts))
        self.sync_mailbox(expunges=uid)
        self.tagged(tag, "OK Search completed.")

    # -- STORE -------------------------------------------------------------------------
    def _store_flags(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> set[str] | None:
        words = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        flags = set()
        for w in words:
            if not isinstance(w, Atom):
                self.command_error(tag, name, "Flags list contains non-atoms.")
                return None
            flag = canonical_flag(w.value) if w.value.startswith("\\") else w.value
            if flag.startswith("\\") and flag not in SYSTEM_FLAGS:
                self.command_error(tag, name, f"Invalid system flag {w.value.upper()}")
                return None
            flags.add(flag)
        return flags

    def cmd_store(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        uid = name.startswith("UID ")
        rest = list(args)
        if len(rest) >= 2 and isinstance(rest[1], list):
            self.command_error(tag, name, "Unknown STORE modifier")
            return
        if len(rest) < 3 or not isinstance(rest[1], Atom):
            self.command_error(tag, name, "Invalid arguments.")
            return
        kind = rest[1].upper
        op = kind[0] if kind[:1] in "+-" else "="
        base = kind.lstrip("+-")
        if base not in ("FLAGS", "FLAGS.SILENT"):
            self.command_error(tag, name, "Invalid arguments.")
            return
        seqs = self.resolve_set(tag, name, rest[0], uid)
        if seqs is None:
            return
        flags = self._store_flags(tag, name, rest[2:])
        if flags is None:
            return
        if self.examined:
            self.sync_mailbox(expunges=uid)
            self.tagged(tag, "OK Store ignored with read-only mailbox.")
            return
        uids = [self.view[s - 1] for s in seqs]
        if DELETED in flags and op != "-":
            self.stats["deleted"] += sum(DELETED not in self.vinfo[u].flags for u in uids)
        assert self.box is not None
        if op == "+":
            self.box.store(uids, add=flags)
        elif op == "-":
            self.box.store(uids, remove=flags)
        else:
            self.box.store(uids, replace=flags)
        silent = base.endswith(".SILENT")
        self.sync_mailbox(expunges=uid, send_uid=uid, hide=set(uids) if silent else set(),
                          force=set(uids))
        self.tagged(tag, "OK Store completed.")

    # -- COPY / MOVE -------------------------------------------------------------------
    def _copy(self: "ImapServer", tag: str, name: str, args: list[Arg]
              ) -> tuple[int, list[int], list[int]] | None:
        uid = name.startswith("UID ")
        if len(args) != 2:
            self.command_error(tag, name, "Invalid arguments.")
            return None
        seqs = self.resolve_set(tag, name, args[0], uid)
        if seqs is None:
            return None
        dest = self.mailbox_arg(tag, name, args[1])
        if dest is None:
            return None
        if not seqs:
            self.sync_mailbox(expunges=uid)
            self.tagged(tag, "OK No messages found.")
            return None
        assert self.box is not None
        try:
            return self.box.copy([self.view[s - 1] for s in seqs], dest)
        except StorageError as exc:
            from .imap_commands import storage_reply
            self.tagged(tag, storage_reply(exc, trycreate=True))
            return None

    def cmd_copy(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        result = self._copy(tag, name, args)
        if result is None:
            return
        validity, src, dst = result
        self.sync_mailbox(expunges=name.startswith("UID "))
        self.tagged(tag, f"OK [COPYUID {validity} {format_set(src)} {format_set(dst)}] Copy completed.")

    def cmd_move(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        if self.examined:
            self.tagged(tag, "NO [CANNOT] Mailbox is read-only.")
            return
        result = self._copy(tag, name, args)
        if result is None:
            return
        validity, src, dst = result
        self.send_line(f"* OK [COPYUID {validity} {format_set(src)} {format_set(dst)}] Moved UIDs.")
        assert self.box is not None
        self.stats["expunged"] += len(self.box.expunge(src))
        self.sync_mailbox(expunges=True)
        self.tagged(tag, "OK Move completed.")

    # -- EXPUNGE, CHECK, CLOSE, UNSELECT ---------------------------------------------------
    def cmd_expunge(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        assert self.box is not None
        if not self.examined:
            self.stats["expunged"] += len(self.box.expunge())
        self.sync_mailbox(expunges=True)
        self.tagged(tag, "OK Expunge completed.")

    def cmd_uid_expunge(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        if len(args) != 1:
            self.command_error(tag, name, "Invalid arguments.")
            return
        seqs = self.resolve_set(tag, name, args[0], True)
        if seqs is None:
            return
        assert self.box is not None
        uids = [self.view[s - 1] for s in seqs if DELETED in self.vinfo[self.view[s - 1]].flags]
        if uids and not self.examined:
            self.stats["expunged"] += len(self.box.expunge(uids))
        self.sync_mailbox(expunges=True)
        self.tagged(tag, "OK Expunge completed.")

    def cmd_check(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        assert self.box is not None
        self.box.checkpoint()
        self.sync_mailbox(expunges=True)
        self.tagged(tag, "OK Check completed.")

    def cmd_close(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        assert self.box is not None
        if not self.examined:
            self.stats["expunged"] += len(self.box.expunge())
        self.close_mailbox()
        self.tagged(tag, "OK Close completed.")

    def cmd_unselect(self: "ImapServer", tag: str, name: str, args: list[Arg]) -> None:
        self.close_mailbox()
        self.tagged(tag, "OK Unselect completed.")

