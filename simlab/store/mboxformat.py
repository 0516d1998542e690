"""NAME
    mboxformat - the bytes of an mbox file: From_ lines, Dovecot's headers, parsing

SUMMARY
    from_line("bob@example.com", when)      # b"From bob@example.com  Tue Nov 24 13:40:03 2026"
    parse_mbox(data)                        # MboxContents: messages with UIDs and flags
    render_message(msg, ...)                # a message with its X-UID/Status/... headers

DESCRIPTION
    What mbox.py reads and writes, without the file: the From_ line
    (asctime(3) date, MAILER-DAEMON for the null sender), ">From " quoting,
    splitting a file into messages, Dovecot's state headers (X-IMAPbase,
    X-UID, Status, X-Status, X-Keywords, Content-Length) read into flags and
    UIDs and written back with 50 spaces of padding. mbox.py holds the
    Mbox class, which locks the file and applies these.

SEE ALSO
    mbox.py, mbox(5), Dovecot MboxMailbox
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field
from typing import Collection

from .message import (
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    SEEN,
    canonical_flag,
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
    first: dict[bytes, bytes] = {}      # msg.header() of each name, from one pass over the fields
    for raw in msg.headers:
        name = field_name(raw)
        if name not in first:
            first[name] = raw
    status = first.get(b"status")
    if status is not None:
        chars = field_value(status)
        if "R" in chars:
            flags.add(SEEN)
        msg.old = "O" in chars
    xstatus = first.get(b"x-status")
    if xstatus is not None:
        chars = field_value(xstatus)
        flags.update(flag for flag, ch in _XSTATUS if ch in chars)
    keywords = first.get(b"x-keywords")
    if keywords is not None:
        flags.update(canonical_flag(k) for k in field_value(keywords).split())
    msg.flags = frozenset(flags)
    xuid = first.get(b"x-uid")
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
    keyword_order: list[str] | None = None, grow_padding: int = HEADER_PADDING,
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
    new_base = imapbase is not None and not any(field_name(h) == b"x-imapbase" for h in msg.headers)
    for raw in msg.headers:
        name = field_name(raw)
        if name in (b"x-imapbase", b"x-uid", b"x-keywords") and name in seen:
            continue
        if name == b"x-uid" and new_base:
            continue  # measured: X-IMAPbase and X-UID are written anew after the other headers
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
    # the padding stays where it was written first: X-Keywords only when it came with it
    had_keywords = msg.has_xuid is False or any(field_name(h) == b"x-keywords" for h in msg.headers)
    pad_at = (names.index(b"x-keywords") if b"x-keywords" in names and had_keywords
              else names.index(b"x-uid"))
    eoh = b"\n" if msg.have_eoh else b""
    size = sum(map(len, out)) + len(eoh)
    spaces = (msg.header_size - size if size <= msg.header_size else grow_padding) \
        if msg.has_xuid else HEADER_PADDING
    out[pad_at] = _pad(out[pad_at], spaces)
    return msg.from_line + b"\n" + b"".join(out) + eoh + msg.body


_FROM_AT_LINE_START = re.compile(rb"^From ", re.MULTILINE)


def _quote_from(message: bytes) -> bytes:
    return _FROM_AT_LINE_START.sub(b">From ", message) if b"From " in message else message


PSEUDO_BODY = (b"This text is part of the internal format of your mail folder, and is not\n"
               b"a real message.  It is created automatically by the mail system software.\n"
               b"If deleted, important folder data will be lost, and it will be re-created\n"
               b"with the data reset to initial values.\n")


def pseudo_message(now: float, hostname: str, uidvalidity: int, last_uid: int) -> bytes:
    """The message Dovecot writes into an mbox it empties, to keep X-IMAP (UIDVALIDITY, UIDs)."""
    tm = time.gmtime(now)
    return (f"From MAILER_DAEMON  {time.strftime('%a %b %d %H:%M:%S %Y', tm)}\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', tm)}\n"
            f"From: Mail System Internal Data <MAILER-DAEMON@{hostname}>\n"
            "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
            f"Message-ID: <{int(now)}@{hostname}>\n"
            f"X-IMAP: {uidvalidity} {last_uid:010d}\n"
            "Status: RO\n\n").encode() + PSEUDO_BODY + b"\n"


def saved_record(data: bytes, *, uid: int, flags: Collection[str], sender: str, when: float,
                 imapbase: bytes | None) -> bytes:
    """A message as Dovecot's mbox save writes it (APPEND, COPY), with its own headers.

    The From_ line has a zero-padded day; X-Keywords is followed by the space Dovecot
    reserved for Content-Length (MBOX_HEADER_PADDING + room for the number) minus what
    the Content-Length header took.
    """
    text = data.replace(b"\r\n", b"\n")
    eoh = text.find(b"\n\n")
    head, body = (text[:eoh + 1], text[eoh + 2:]) if eoh >= 0 else (text, b"")
    if head and not head.endswith(b"\n"):
        head += b"\n"
    status = "R" if SEEN in flags else ""  # no O: a saved message is \\Recent there
    xstatus = "".join(ch for flag, ch in _XSTATUS if flag in flags)
    keywords = "".join(" " + k for k in sorted(f for f in flags if not f.startswith("\\")))
    out = [f"From {sender}  {time.strftime('%a %b %d %H:%M:%S %Y', time.gmtime(when))}\n".encode(),
           head]
    if imapbase is not None:
        out.append(b"X-IMAPbase: " + imapbase + b"\n")
    out.append(f"X-UID: {uid}\nStatus: {status}\n".encode())
    if xstatus:
        out.append(f"X-Status: {xstatus}\n".encode())
    digits = len(str(len(body)))
    out.append(f"X-Keywords:{keywords}{' ' * (SAVE_SPACE - digits)}\n"
               f"Content-Length: {len(body)}\n\n".encode())
    return b"".join(out) + body + (b"" if body.endswith(b"\n") or not body else b"\n") + b"\n"


SAVE_SPACE = 74  # measured: "X-Keywords:" then 72 spaces before a two-digit Content-Length
