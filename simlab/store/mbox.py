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

import asyncio
import calendar
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Collection, Iterable, Mapping

from .locking import acquire, mailbox_lock, release
from .message import (
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    SEEN,
    MailboxError,
    StoredMessage,
    canonical_flag,
    rfc822_size,
)

HEADER_PADDING = 50
MIN_CONTENT_LENGTH_SIZE = 1024
HIDDEN_HEADERS = frozenset(
    {b"status", b"x-status", b"x-keywords", b"x-uid", b"x-imap", b"x-imapbase", b"content-length"}
)
_XSTATUS = ((ANSWERED, "A"), (FLAGGED, "F"), (DRAFT, "T"), (DELETED, "D"))
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FROM_RE = re.compile(
    rb"From (\"[^\"\n]*\"\S*|\S*) +(?:[A-Za-z]{3},? +)?([A-Za-z]{3}) +(\d{1,2}) +"
    rb"(\d{1,2}):(\d\d)(?::(\d\d))?(?: +([A-Za-z]{1,5}|[+-]\d{4}))? +(\d{4})"
)


def asctime(when: float) -> str:
    """asctime(3) in UTC, the hosts' time zone: 'Tue Nov 24 13:40:03 2026'."""
    tm = time.gmtime(when)
    return (f"{_DAYS[tm.tm_wday]} {_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {tm.tm_year}")


def from_line(sender: str, when: float) -> bytes:
    return f"From {sender or 'MAILER-DAEMON'}  {asctime(when)}".encode()


def parse_from_line(line: bytes) -> tuple[str, float] | None:
    """(sender, epoch seconds) of a From_ line, or None when it is not one."""
    m = _FROM_RE.match(line)
    if m is None or m.group(2).decode().title() not in _MONTHS:
        return None
    sender, mon, day, hh, mm, ss, zone, year = m.groups()
    when = calendar.timegm((int(year), _MONTHS.index(mon.decode().title()) + 1, int(day),
                            int(hh), int(mm), int(ss or 0), 0, 0, 0))
    if zone and zone[:1] in b"+-":
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * 60
        when -= offset if zone[:1] == b"+" else -offset
    return sender.decode("utf-8", "replace"), float(when)


def field_name(raw: bytes) -> bytes:
    return raw.split(b":", 1)[0].strip().lower()


def field_value(raw: bytes) -> str:
    value = raw.split(b":", 1)[1] if b":" in raw else b""
    return value.decode("utf-8", "replace").strip()


@dataclass
class MboxMessage:
    """One message as it lies in the file."""

    from_line: bytes
    headers: list[bytes]
    have_eoh: bool
    body: bytes
    sender: str
    internaldate: float
    header_size: int
    xuid: int = 0
    uid: int = 0
    flags: frozenset[str] = frozenset()
    old: bool = False
    has_xuid: bool = False

    def visible(self) -> bytes:
        """The message as clients see it: store headers removed."""
        kept = [h for h in self.headers if field_name(h) not in HIDDEN_HEADERS]
        return b"".join(kept) + (b"\n" if self.have_eoh else b"") + self.body

    def header(self, name: bytes) -> bytes | None:
        for h in self.headers:
            if field_name(h) == name:
                return h
        return None


@dataclass
class MboxContents:
    messages: list[MboxMessage]
    uidvalidity: int | None
    next_uid: int
    keywords: list[str] = field(default_factory=list)
    pseudo: bytes = b""
    needs_write: bool = False


def _split_header(data: bytes, start: int, end: int) -> tuple[list[bytes], bool, int]:
    """The header fields of data[start:end], whether a blank line ends them, the header size.

    Works on offsets: slicing the rest of the file for every message made reading quadratic.
    """
    headers: list[bytes] = []
    pos = start
    while pos < end:
        nl = data.find(b"\n", pos, end)
        stop = end if nl < 0 else nl + 1
        line = data[pos:stop]
        if line in (b"\n", b"\r\n"):
            return headers, True, stop - start
        if headers and line[:1] in (b" ", b"\t"):
            headers[-1] += line
        else:
            headers.append(line)
        pos = stop
    return headers, False, end - start


def _message_flags(msg: MboxMessage) -> None:
    flags: set[str] = set()
    status = msg.header(b"status")
    if status is not None:
        chars = field_value(status)
        if "R" in chars:
            flags.add(SEEN)
        msg.old = "O" in chars
    xstatus = msg.header(b"x-status")
    if xstatus is not None:
        chars = field_value(xstatus)
        flags.update(flag for flag, ch in _XSTATUS if ch in chars)
    keywords = msg.header(b"x-keywords")
    if keywords is not None:
        flags.update(canonical_flag(k) for k in field_value(keywords).split())
    msg.flags = frozenset(flags)
    xuid = msg.header(b"x-uid")
    if xuid is not None:
        msg.has_xuid = True
        value = field_value(xuid)
        msg.xuid = int(value) if (value.isascii() and value.isdigit()) else 0


def _next_from(data: bytes, pos: int) -> int:
    """Offset of the LF that precedes the next valid From_ line, or len(data)."""
    while True:
        nl = data.find(b"\nFrom ", pos)
        if nl < 0:
            return len(data)
        eol = data.find(b"\n", nl + 1)
        if parse_from_line(data[nl + 1:len(data) if eol < 0 else eol]) is not None:
            return nl
        pos = nl + 1


def parse_mbox(data: bytes, min_next_uid: int = 1) -> MboxContents:
    """Split an mbox file into messages and read Dovecot's headers."""
    messages: list[MboxMessage] = []
    pos = 0 if data.startswith(b"From ") else _next_from(data, 0) + 1
    while pos < len(data):
        eol = data.find(b"\n", pos)
        eol = len(data) if eol < 0 else eol
        line = data[pos:eol]
        parsed = parse_from_line(line)
        if parsed is None:
            pos = _next_from(data, pos) + 1
            continue
        start = min(eol + 1, len(data))
        headers, have_eoh, header_size = _split_header(data, start, len(data))
        clen = next((field_value(h) for h in headers if field_name(h) == b"content-length"), "")
        stop = start + header_size + int(clen) if (clen.isascii() and clen.isdigit()) else -1
        tail = data[stop:stop + 6]
        if stop >= 0 and stop <= len(data) and (tail in (b"", b"\n") or (
                tail == b"\nFrom " and _next_from(data, stop) == stop)):
            end = stop
        else:
            end = _next_from(data, start)
            if end < start + header_size:
                headers, have_eoh, header_size = _split_header(data, start, end)
        body_start = start + header_size
        body = data[body_start:end] if end >= body_start else b""
        if end == len(data) and body.endswith(b"\n"):
            body = body[:-1]
        msg = MboxMessage(line, headers, have_eoh, body, parsed[0], parsed[1], header_size)
        _message_flags(msg)
        messages.append(msg)
        pos = end + 1
    return _assign_uids(messages, min_next_uid)


def _assign_uids(messages: list[MboxMessage], min_next_uid: int = 1) -> MboxContents:
    uidvalidity: int | None = None
    last_uid: int | None = None
    keywords: list[str] = []
    pseudo = b""
    if messages and messages[0].header(b"x-imap") is not None:
        first = messages.pop(0)
        pseudo = first.from_line + b"\n" + b"".join(first.headers) + b"\n" + first.body + b"\n"
        base = first.header(b"x-imap")
    else:
        base = messages[0].header(b"x-imapbase") if messages else None
    if base is not None:
        parts = field_value(base).split()
        if len(parts) >= 2 and all(p.isascii() and p.isdigit() for p in parts[:2]):
            uidvalidity, last_uid = int(parts[0]), int(parts[1])
            keywords = parts[2:]
    limit = last_uid if last_uid is not None else max((m.xuid for m in messages), default=0)
    next_uid = max(limit + 1, min_next_uid)
    prev = 0
    needs_write = uidvalidity is None and bool(messages)
    for msg in messages:
        if 0 < prev < msg.xuid <= limit or (prev == 0 and 0 < msg.xuid <= limit):
            msg.uid = prev = msg.xuid
        else:
            msg.uid = prev = next_uid
            next_uid += 1
            needs_write = True
    return MboxContents(messages, uidvalidity, next_uid, keywords, pseudo, needs_write)


def _pad(line: bytes, spaces: int) -> bytes:
    return line[:-1] + b" " * spaces + b"\n"


def render_message(
    msg: MboxMessage, *, uid: int, flags: Collection[str], old: bool, imapbase: bytes | None,
    keyword_order: list[str] | None = None,
) -> bytes:
    """From_ line and header block (with Dovecot's headers) and body."""
    status = ("R" if SEEN in flags else "") + ("O" if old else "")
    xstatus = "".join(ch for flag, ch in _XSTATUS if flag in flags)
    order = keyword_order or []
    words = sorted((f for f in flags if not f.startswith("\\")),
                   key=lambda k: (order.index(k) if k in order else len(order), k))
    keywords = " ".join(words)
    out: list[bytes] = []
    seen: set[bytes] = set()
    for raw in msg.headers:
        name = field_name(raw)
        if name in (b"x-imapbase", b"x-uid", b"x-keywords") and name in seen:
            continue
        if name == b"x-imapbase":
            if imapbase is None:
                continue
            raw = b"X-IMAPbase: " + imapbase + b"\n"
        elif name == b"x-uid":
            raw = f"X-UID: {uid}\n".encode()
        elif name == b"status":
            raw = f"Status: {status}\n".encode()
        elif name == b"x-status":
            raw = f"X-Status: {xstatus}\n".encode()
        elif name == b"x-keywords":
            raw = f"X-Keywords: {keywords}".rstrip().encode() + b"\n"
        seen.add(name)
        out.append(raw if raw.endswith(b"\n") else raw + b"\n")
    if imapbase is not None and b"x-imapbase" not in seen:
        out.append(b"X-IMAPbase: " + imapbase + b"\n")
    if b"x-uid" not in seen:
        out.append(f"X-UID: {uid}\n".encode())
    if status and b"status" not in seen:
        out.append(f"Status: {status}\n".encode())
    if xstatus and b"x-status" not in seen:
        out.append(f"X-Status: {xstatus}\n".encode())
    if keywords and b"x-keywords" not in seen:
        out.append(f"X-Keywords: {keywords}\n".encode())
    if b"content-length" not in seen and len(msg.body) >= MIN_CONTENT_LENGTH_SIZE:
        out.append(f"Content-Length: {len(msg.body)}\n".encode())
    names = [field_name(raw) for raw in out]
    pad_at = names.index(b"x-keywords") if b"x-keywords" in names else names.index(b"x-uid")
    eoh = b"\n" if msg.have_eoh else b""
    size = sum(map(len, out)) + len(eoh)
    spaces = msg.header_size - size if msg.has_xuid and size <= msg.header_size else HEADER_PADDING
    out[pad_at] = _pad(out[pad_at], spaces)
    return msg.from_line + b"\n" + b"".join(out) + eoh + msg.body


_FROM_AT_LINE_START = re.compile(rb"^From ", re.MULTILINE)


def _quote_from(message: bytes) -> bytes:
    return _FROM_AT_LINE_START.sub(b">From ", message) if b"From " in message else message


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

    async def append_flushed(self, message: bytes, envelope_sender: str, when: float,
                             flush: Callable[[int], Awaitable[None]]) -> None:
        """append() with fsync whose flush is awaited (a worker thread under simlab serve).

        The locks stay held until the flush is done, even if the caller is
        cancelled meanwhile, so no other writer sees the mailbox half flushed.
        """
        record = self._record(message, envelope_sender, when)
        fd, lock = acquire(self.path, when)
        try:
            _append_at_end(fd, record)
            done = asyncio.ensure_future(flush(fd))
        except BaseException:
            release(fd, lock)
            raise
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            if not done.done():
                done.add_done_callback(lambda _f: release(fd, lock))
                raise
            release(fd, lock)
            raise
        except BaseException:
            release(fd, lock)
            raise
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
                now: float | None = None, min_next_uid: int = 1) -> MboxContents:
        """Dovecot's full write: apply flags, drop EXPUNGE, write UIDs; no-op when unchanged.

        Messages whose UID is in RECENT are written without the O status flag.
        """
        flags = flags or {}
        with mailbox_lock(self.path, now) as fh:
            original = fh.read()
            contents = parse_mbox(original, min_next_uid)
            kept = [m for m in contents.messages if m.uid not in expunge]
            names = list(contents.keywords)
            for m in kept:
                for f in sorted(flags.get(m.uid, m.flags)):
                    if not f.startswith("\\") and f not in names:
                        names.append(f)
            base = f"{uidvalidity} {contents.next_uid - 1:010d}".encode()
            base += b"".join(b" " + k.encode() for k in names)
            parts = [contents.pseudo] if contents.pseudo else []
            for i, m in enumerate(kept):
                new_flags = frozenset(flags.get(m.uid, m.flags))
                parts.append(render_message(
                    m, uid=m.uid, flags=new_flags, old=m.uid not in recent,
                    imapbase=base if i == 0 and not contents.pseudo else None,
                    keyword_order=names) + b"\n")
            data = b"".join(parts)
            if data != original:
                fh.seek(0)
                fh.write(data)
                fh.truncate()
        result = parse_mbox(data, contents.next_uid)
        result.uidvalidity = result.uidvalidity or uidvalidity
        return result
