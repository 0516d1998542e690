"""NAME
    mbox - the Unix mailbox file, as Postfix local(8) writes it and Dovecot keeps it

SUMMARY
    box = Mbox(root / "var/mail/alice")
    box.append(message, "bob@example.com", when)        # local(8) delivery
    box.messages()                                      # [StoredMessage, ...]
    box.set_flags("1", add={"\\\\Seen"}); box.expunge(["2"])
    box.rewrite(uidvalidity=..., flags={uid: {...}}, expunge={...}, recent={...})

DESCRIPTION
    One file holds all messages. Each starts with a From_ line
    ("From sender  Tue Nov 24 13:40:03 2026", two spaces, asctime(3) date,
    MAILER-DAEMON for the null sender) and ends with a blank line. Body lines
    that begin with "From " are written as ">From " (the quoting is not
    undone on reading, as Dovecot does not undo it either).

    Dovecot keeps its state inside the messages' headers, and so does this
    module: X-IMAPbase (first message only: UIDVALIDITY, last UID as ten
    digits, the mailbox's keywords), X-UID, Status (R = \\Seen, O = no longer
    \\Recent), X-Status (A F T D = \\Answered \\Flagged \\Draft \\Deleted),
    X-Keywords, and Content-Length for bodies of 1024 bytes and more. Missing
    ones are added after the last header; existing ones are changed in
    place. When a message's header has to grow, 50 spaces of padding are
    left after X-UID (or X-Keywords) so that later flag changes rewrite the
    header in place: a changed header keeps its old size while the padding
    lasts. These headers are hidden from POP3/IMAP clients, and from sizes.

    A message's UID comes from its X-UID when that is larger than the
    previous message's and not beyond the X-IMAPbase last UID; otherwise it
    and every later message get new UIDs.

    Every write takes the mailbox locks (see locking) and rewrites the file
    in place, so the inode stays the same.

SEE ALSO
    local(8), mbox(5), Dovecot MboxMailbox (mbox_lazy_writes, mbox headers)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Collection, Iterable, Mapping, Sequence

from .locking import acquire, mailbox_lock, release
from .message import MailboxError, StoredMessage, canonical_flag, rfc822_size
from .mboxformat import (HEADER_PADDING, MboxContents, MboxMessage, _quote_from, asctime, from_line,
                         parse_from_line,
                         parse_mbox, pseudo_message, render_message)

__all__ = ["Mbox", "MboxContents", "MboxMessage", "asctime", "from_line", "parse_from_line", "parse_mbox",
           "render_message"]


def _append_at_end(fd: int, record: bytes) -> None:
    """Write RECORD at the end, after a newline if the file does not end in one."""
    if os.lseek(fd, 0, os.SEEK_END) > 0:
        os.lseek(fd, -1, os.SEEK_END)
        if os.read(fd, 1) != b"\n":
            record = b"\n" + record
    _write_all(fd, record)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Mbox:
    """A Unix mailbox file (see the module documentation)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Mbox({str(self.path)!r})"

    def exists(self) -> bool:
        return self.path.is_file()

    def read(self) -> MboxContents:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise MailboxError(f"{self.path}: {exc.strerror}") from None
        return parse_mbox(data)

    def messages(self) -> list[StoredMessage]:
        out = []
        for msg in self.read().messages:
            data = msg.visible()
            out.append(StoredMessage(str(msg.uid), data, msg.flags, msg.internaldate,
                                     rfc822_size(data), msg.uid))
        return out

    def append(self, message: bytes, envelope_sender: str, when: float, *, fsync: bool = False) -> None:
        """Deliver one message the way local(8) does (From_ line, >From, blank line).

        ``fsync``: flush before the lock goes, as Postfix's mail_copy() does
        (simlab serve: the queue file is removed only after this returns).
        """
        record = self._record(message, envelope_sender, when)
        fd, lock = acquire(self.path, when)
        try:
            _append_at_end(fd, record)
            if fsync:
                os.fsync(fd)
        finally:
            release(fd, lock)

    def append_record(self, record: bytes, when: float) -> None:
        """Append bytes already laid out as an mbox message (Dovecot's save)."""
        fd, lock = acquire(self.path, when)
        try:
            _append_at_end(fd, record)
        finally:
            release(fd, lock)

    @staticmethod
    def _record(message: bytes, envelope_sender: str, when: float) -> bytes:
        text = message.replace(b"\r\n", b"\n")
        if not text.endswith(b"\n"):
            text += b"\n"
        return from_line(envelope_sender, when) + b"\n" + _quote_from(text) + b"\n"

    def set_flags(self, key: str, add: Iterable[str] = (), remove: Iterable[str] = (),
                  *, now: float | None = None) -> None:
        contents = self.read()
        target = next((m for m in contents.messages if str(m.uid) == key), None)
        if target is None:
            raise MailboxError(f"no message {key} in {self.path}")
        flags = (set(target.flags) | {canonical_flag(f) for f in add}) - {
            canonical_flag(f) for f in remove}
        self.rewrite(uidvalidity=contents.uidvalidity or int(now or target.internaldate),
                     flags={target.uid: frozenset(flags)}, now=now)

    def expunge(self, keys: Iterable[str], *, now: float | None = None) -> None:
        contents = self.read()
        drop = {m.uid for m in contents.messages if str(m.uid) in set(keys)}
        first = contents.messages[0].internaldate if contents.messages else 0
        self.rewrite(uidvalidity=contents.uidvalidity or int(now or first), expunge=drop, now=now)

    def rewrite(self, *, uidvalidity: int, flags: Mapping[int, Collection[str]] | None = None,
                expunge: Collection[int] = (), recent: Collection[int] = (),
                now: float | None = None, min_next_uid: int = 1,
                keywords: Sequence[str] = (), lazy: bool = False,
                touch_first: bool = False, hostname: str = "localhost") -> MboxContents:
        """Dovecot's full write: apply flags, drop EXPUNGE, write UIDs; no-op when unchanged.

        Messages whose UID is in RECENT are written without the O status flag. LAZY is
        mbox_lazy_writes as Dovecot measured shows it: without an expunge, only the
        messages whose flags change, and the first one (it holds X-IMAPbase) when
        anything changes or TOUCH_FIRST (CHECK) asks, get their Status rewritten (O).
        """
        flags = flags or {}
        with mailbox_lock(self.path, now) as fh:
            original = fh.read()
            contents = parse_mbox(original, min_next_uid)
            kept = [m for m in contents.messages if m.uid not in expunge]
            names = list(contents.keywords)
            names += [k for k in keywords if k not in names]
            for m in kept:
                for f in sorted(flags.get(m.uid, m.flags)):
                    if not f.startswith("\\") and f not in names:
                        names.append(f)
            base = f"{uidvalidity} {contents.next_uid - 1:010d}".encode()
            base += b"".join(b" " + k.encode() for k in names)
            parts = [contents.pseudo] if contents.pseudo else []
            if contents.messages and not kept and not parts and lazy:
                parts = [pseudo_message(now if now is not None else time.time(), hostname,
                                        uidvalidity, contents.next_uid - 1)]
            full = not lazy or len(kept) != len(contents.messages)
            changed = {m.uid for m in kept
                       if m.uid in flags and frozenset(flags[m.uid]) != m.flags}
            first = full or touch_first or bool(changed) or names != list(contents.keywords)
            for i, m in enumerate(kept):
                new_flags = frozenset(flags.get(m.uid, m.flags))
                touched = m.has_xuid and (full or m.uid in changed or (i == 0 and first))
                parts.append(render_message(
                    m, uid=m.uid, flags=new_flags,
                    old=m.uid not in recent if touched or not lazy else m.old,
                    imapbase=base if i == 0 and not contents.pseudo else None,
                    # measured: a header that outgrows its place while an expunge moves
                    # the messages anyway is written without padding
                    keyword_order=names, grow_padding=0 if lazy and full else HEADER_PADDING
                ) + b"\n")
            data = b"".join(parts)
            if data != original:
                fh.seek(0)
                fh.write(data)
                fh.truncate()
        result = parse_mbox(data, contents.next_uid)
        result.uidvalidity = result.uidvalidity or uidvalidity
        return result
