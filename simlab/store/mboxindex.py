"""NAME
    mboxindex - Dovecot's index of one mbox file, kept in memory

SUMMARY
    index = MboxIndex(path, uidvalidity_source)
    index.refresh() -> MboxContents      # re-read the file when it changed; UIDs written
    index.flags(msg); index.pending[uid] = flags; index.write(...)

DESCRIPTION
    Dovecot keeps, beside each mbox, an index that remembers what the file
    cannot: which messages were already \\Recent to some session
    (first_recent_uid) and flag changes not yet written (mbox_lazy_writes).
    This index lives in memory for as long as the MailStore does, like
    Dovecot with INDEX=MEMORY; the file keeps everything else in its
    X-IMAPbase, X-UID and Status headers.

    A message is \\Recent while its UID is at or above first_recent_uid. The
    first session that opens the mailbox read-write takes the recent
    messages (they stay \\Recent for it only). As measured on Dovecot, writes
    are lazy: a message gets O when its header is rewritten (its flags
    changed, it holds X-IMAPbase and something changed, an expunge moved
    it); only when the session took messages an earlier look had already
    synced (owes_old) does its next write give every message O; and when a
    session took recent messages but wrote nothing (unsettled), the next
    read-write open rewrites the first message. When the index is created
    from a file, messages without O are recent.

    New UIDs (messages the MTA appended, or a file without X-UID headers)
    are written to the file as soon as the index sees them, with a new
    UIDVALIDITY when the file has none. Dovecot delays this until the next
    full write; the resulting file is the same.

SEE ALSO
    simlab.store.mbox, Dovecot mbox_lazy_writes, RFC 3501 \\Recent
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Collection, Iterator

from ..proto.mailbox import StorageError
from .mbox import Mbox, MboxContents, MboxMessage
from .message import MailboxError, MailboxLockedError


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """File and lock errors become the StorageError the protocol cores answer."""
    try:
        yield
    except MailboxLockedError:
        raise StorageError("Timeout while waiting for lock", "INUSE") from None
    except (MailboxError, OSError):
        raise StorageError("Internal error occurred. Refer to server log for more information.",
                           "TEMP") from None


class MboxIndex:
    """In-memory index of one mbox file (see the module documentation)."""

    def __init__(self, path: Path, new_uidvalidity: Callable[[], int],
                 now: Callable[[], float], hostname: str = "localhost") -> None:
        self.mbox = Mbox(path)
        self.hostname = hostname
        self.new_uidvalidity = new_uidvalidity
        self.now = now
        self.uidvalidity: int | None = None
        self.next_uid = 1
        self.first_recent_uid: int | None = None
        self.pending: dict[int, frozenset[str]] = {}
        self.keywords: list[str] = []
        self.owes_old = False
        self.unsettled = False
        self._stamp: tuple[int, int, int] | None = None
        self._contents: MboxContents | None = None

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.mbox.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def refresh(self, recent: Collection[int] = ()) -> MboxContents:
        """The file's messages with their UIDs; writes new UIDs first.

        RECENT are the calling session's recent UIDs (kept without O if written).
        """
        stamp = self._file_stamp()
        if self._contents is not None and stamp == self._stamp:
            return self._contents
        with storage_errors():
            contents = self.mbox.read()
        if contents.uidvalidity is not None and contents.uidvalidity != self.uidvalidity:
            if self.uidvalidity is not None:
                self.pending.clear()
                self.next_uid = 1
            self.uidvalidity = contents.uidvalidity
        if self.uidvalidity is None:
            self.uidvalidity = self.new_uidvalidity()
        if self.first_recent_uid is None:
            fresh = [m.uid for m in contents.messages if not m.old]
            self.first_recent_uid = min(fresh) if fresh else contents.next_uid
        if contents.needs_write:
            return self.write(recent=recent)
        self._remember(contents)
        return contents

    def _remember(self, contents: MboxContents) -> None:
        self.next_uid = max(self.next_uid, contents.next_uid)
        known = {m.uid for m in contents.messages}
        for uid in [u for u in self.pending if u not in known]:
            del self.pending[uid]
        self._contents, self._stamp = contents, self._file_stamp()

    def invalidate(self) -> None:
        self._contents, self._stamp = None, None

    def flags(self, msg: MboxMessage) -> frozenset[str]:
        return self.pending.get(msg.uid, msg.flags)

    def known_uids(self) -> set[int]:
        """The UIDs some earlier look at the file (any session) already synced."""
        return {m.uid for m in self._contents.messages} if self._contents is not None else set()

    def is_recent(self, uid: int) -> bool:
        return self.first_recent_uid is not None and uid >= self.first_recent_uid

    def take_recent(self, contents: MboxContents) -> set[int]:
        """Hand the recent messages to the calling session; later sessions see them old."""
        taken = {m.uid for m in contents.messages if self.is_recent(m.uid)}
        self.unsettled = self.unsettled or bool(taken)
        self.first_recent_uid = max(self.first_recent_uid or 1, contents.next_uid, self.next_uid)
        return taken

    def write(self, *, recent: Collection[int] = (), expunge: Collection[int] = (),
              full: bool = False, touch_first: bool = False) -> MboxContents:
        """Dovecot's write: pending flags, expunges and UIDs go to the file.

        A message a session took as \\Recent is written with O like any other (Dovecot
        keeps the session's \\Recent in its index); only the messages not yet taken
        stay without it. Unless FULL, the write is lazy (see Mbox.rewrite).
        """
        assert self.uidvalidity is not None
        if self.pending or expunge or full or touch_first or self.owes_old:
            self.unsettled = False
        full, self.owes_old = full or self.owes_old, False
        with storage_errors():
            contents = self.mbox.rewrite(
                uidvalidity=self.uidvalidity, flags=dict(self.pending), expunge=expunge,
                recent=_RecentSet(set(), self.first_recent_uid), now=self.now(),
                min_next_uid=self.next_uid, keywords=self.keywords, lazy=not full,
                touch_first=touch_first, hostname=self.hostname)
        self.pending.clear()
        self._remember(contents)
        return contents


class _RecentSet:
    """UIDs written without the O flag: the caller's recent ones and all not yet taken."""

    def __init__(self, uids: set[int], first_recent_uid: int | None) -> None:
        self.uids = uids
        self.first = first_recent_uid

    def __contains__(self, uid: object) -> bool:
        return uid in self.uids or (
            isinstance(uid, int) and self.first is not None and uid >= self.first)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.uids)

    def __len__(self) -> int:
        return len(self.uids)
