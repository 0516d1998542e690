"""NAME
    records - Postfix's queue file record format

SUMMARY
    data = encode_record(REC_TYPE_RCPT, "alice@example.com")
    for rec in iter_records(data): rec.type, rec.data, rec.offset

DESCRIPTION
    A Postfix queue file (and the stream that postdrop, pickup and cleanup
    pass to each other) is a sequence of typed records: one type byte, the
    data length as a little-endian base-128 number (the high bit of each
    length byte means "more length bytes follow"), then the data. The
    envelope segment (``C`` size, ``T`` arrival time, ``F`` full name, ``S``
    sender, ``A`` name=value attributes, ``O`` original recipient, ``R``
    recipient, ``D`` done recipient) ends at ``M``; the message content is
    ``N`` (a whole line) and ``L`` (part of a longer line) records up to
    ``X``; the extracted segment (recipients from headers, ``r``/``e``
    return-receipt and errors-to) ends at ``E``.

    A recipient is marked delivered by overwriting its ``R`` type byte with
    ``D`` in place, which is why readers remember each record's offset.

SEE ALSO
    rec_type(3h), record(3), postcat(1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

REC_TYPE_SIZE = "C"
REC_TYPE_TIME = "T"
REC_TYPE_CTIME = "c"
REC_TYPE_FULL = "F"
REC_TYPE_INSP = "I"
REC_TYPE_FILT = "L"
REC_TYPE_FROM = "S"
REC_TYPE_DONE = "D"
REC_TYPE_RCPT = "R"
REC_TYPE_ORCP = "O"
REC_TYPE_DRCP = "/"
REC_TYPE_WARN = "W"
REC_TYPE_ATTR = "A"
REC_TYPE_KILL = "K"
REC_TYPE_RDR = ">"
REC_TYPE_FLGS = "f"
REC_TYPE_DELAY = "d"
REC_TYPE_MESG = "M"
REC_TYPE_CONT = "L"
REC_TYPE_NORM = "N"
REC_TYPE_DTXT = "w"
REC_TYPE_XTRA = "X"
REC_TYPE_RRTO = "r"
REC_TYPE_ERTO = "e"
REC_TYPE_PRIO = "P"
REC_TYPE_PTR = "p"
REC_TYPE_VERP = "V"
REC_TYPE_DSN_RET = "<"
REC_TYPE_DSN_ENVID = "i"
REC_TYPE_DSN_ORCPT = "o"
REC_TYPE_DSN_NOTIFY = "n"
REC_TYPE_MILT_COUNT = "m"
REC_TYPE_END = "E"

# Which records may appear in each segment (the first is the segment's end).
REC_TYPE_ENVELOPE = "MCTcFILSDRO/WVA>K<ion"
REC_TYPE_CONTENT = "XLNw"
REC_TYPE_EXTRACT = "EDRO/PreAFIL>Kon"

# rec_type_name(): what postcat prints before each record.
_NAMES = {
    "C": "message_size", "T": "message_arrival_time", "c": "queue_file_create_time",
    "F": "sender_fullname", "I": "content_inspector", "S": "sender",
    "D": "done_recipient", "/": "canceled_recipient", "R": "recipient",
    "O": "original_recipient", "W": "warning_message_time", "A": "named_attribute",
    "p": "pointer_record", "K": "killed_record", "M": "message_content",
    "N": "regular_text", "w": "deleted_text", "X": "extracted_info",
    "r": "return_receipt", "e": "errors_to", "P": "priority", "V": "verp_delimiters",
    "E": "message_end", ">": "redirect_to", "f": "flags", "<": "dsn_return_flags",
    "i": "dsn_envelope_id", "o": "dsn_original_recipient", "n": "dsn_notify_flags",
}


def rec_type_name(rtype: str, in_envelope: bool = True) -> str:
    """Postfix's printable name of a record type ('L' depends on the segment)."""
    if rtype == "L":
        return "content_filter" if in_envelope else "unterminated_text"
    return _NAMES.get(rtype, "unknown_record_type")


# REC_TYPE_SIZE_FORMAT: six fixed-width fields so cleanup can update them in place.
SIZE_FORMAT = "%15d %15d %15d %15d %15d %15d"
WARN_FORMAT = "%15d"
PTR_FORMAT = "%15d"


class RecordError(ValueError):
    """A queue file that is truncated or not in record format."""


@dataclass(frozen=True, slots=True)
class Record:
    type: str
    data: bytes
    offset: int          # where the type byte is

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "surrogateescape")


def encode_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_record(rtype: str, data: bytes | str) -> bytes:
    """One record: type byte, base-128 length, data."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    n = len(data)
    if n < 0x80 and len(rtype) == 1 and rtype < "\x80":
        return bytes((ord(rtype), n)) + data
    return rtype.encode("ascii") + encode_length(n) + data


def read_record(buf: bytes, pos: int) -> tuple[Record, int]:
    """The record at ``pos`` and the offset after it."""
    if pos >= len(buf):
        raise RecordError("end of file")
    rtype = chr(buf[pos])
    i = pos + 1
    length = shift = 0
    while True:
        if i >= len(buf):
            raise RecordError(f"truncated length at offset {pos}")
        byte = buf[i]
        i += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
        if shift > 35:
            raise RecordError(f"bad length at offset {pos}")
    end = i + length
    if end > len(buf):
        raise RecordError(f"truncated record at offset {pos}")
    return Record(rtype, bytes(buf[i:end]), pos), end


def iter_raw(buf: bytes, start: int = 0, follow_pointers: bool = True) -> Iterator[tuple[str, bytes, int]]:
    """iter_records() as plain (type, data, offset) tuples, for readers of whole files."""
    pos = start
    n = len(buf)
    seen: set[int] = set()
    while pos < n:
        rtype, data, end = next_record(buf, pos, n)
        if rtype == REC_TYPE_PTR and follow_pointers:
            target = int(data.strip() or b"0")
            if target > 0 and target not in seen:
                seen.add(target)
                pos = target
                continue
        yield rtype, data, pos
        pos = end


TYPE_CHARS = [chr(b) for b in range(256)]     # a type byte as a str, without a call


def next_record(buf: bytes, pos: int, n: int) -> tuple[str, bytes, int]:
    """(type, data, offset after it) of the record at ``pos``; ``n`` is len(buf).

    A record shorter than 128 bytes (one length byte) is sliced here; others go
    through read_record(), which checks the length and raises RecordError.
    """
    i = pos + 1
    length = buf[i] if i < n else 0x80
    end = i + 1 + length
    if length < 0x80 and end <= n:
        return TYPE_CHARS[buf[pos]], buf[i + 1:end], end
    rec, end = read_record(buf, pos)
    return rec.type, rec.data, end


def short_text(buf: bytes, pos: int, content: list[bytes]) -> int:
    """Append the data of the run of short N records at ``pos`` to ``content``; the offset after them.

    Message lines are nearly all shorter than 128 bytes: one length byte.
    """
    n = len(buf)
    append = content.append
    while pos + 1 < n and buf[pos] == 0x4E:     # "N"
        end = pos + 2 + buf[pos + 1]
        if buf[pos + 1] >= 0x80 or end > n:
            break
        append(buf[pos + 2:end])
        pos = end
    return pos


def text_content(content: list[bytes], cont: list[int]) -> bytes:
    """The message bytes (LF line ends) of a content segment's N and L record data.

    ``cont`` holds the indexes in ``content`` of the L records (parts of a longer line).
    """
    if not cont:
        return b"\n".join(content) + b"\n" if content else b""
    parts: list[bytes] = []
    partial = set(cont)
    for i, data in enumerate(content):
        parts.append(data)
        if i not in partial:
            parts.append(b"\n")
    return b"".join(parts)


def text_size(content: list[bytes]) -> int:
    """What the content records take in a queue file (Postfix's message size)."""
    return sum(1 + len(encode_length(len(data))) + len(data) for data in content)


def iter_records(buf: bytes, start: int = 0, follow_pointers: bool = True) -> Iterator[Record]:
    """Every record in file order; pointer records are followed unless told otherwise."""
    pos = start
    seen: set[int] = set()
    while pos < len(buf):
        rec, nxt = read_record(buf, pos)
        if rec.type == REC_TYPE_PTR and follow_pointers:
            target = int(rec.data.strip() or b"0")
            if target > 0 and target not in seen:
                seen.add(target)
                pos = target
                continue
        yield rec
        pos = nxt


def put_content(out: bytearray, content: bytes, line_limit: int = 2048, terminate: bool = True) -> None:
    """Append the records of content_records(content, line_limit, terminate) to ``out``, encoded."""
    if not content:
        return
    if content.endswith(b"\n"):
        lines = content[:-1].split(b"\n")
        lengths = list(map(len, lines))
        longest = max(lengths)
        if longest < 0x80 and (line_limit <= 0 or longest < line_limit):
            # the usual message, every line one short N record: the records are joined in C
            parts: list[bytes] = [b""] * (2 * len(lines))
            parts[::2] = map(_N_HEADS.__getitem__, lengths)
            parts[1::2] = lines
            out += b"".join(parts)
            return
    for rtype, data in _records(content, line_limit, terminate):
        out += encode_record(rtype, data)


_N_HEADS = [bytes((0x4E, n)) for n in range(0x80)]      # "N" and a one-byte length


def content_records(content: bytes, line_limit: int = 2048, terminate: bool = True) -> list[tuple[str, bytes]]:
    """The N/L records of a message: one N per line, long lines split into L pieces.

    cleanup writes a header line longer than line_limit as L pieces and a last N
    (cleanup_out()); a body line comes as smtp_get()/rec_streamlf_get() read it, in
    pieces of line_limit, so one of exactly line_limit bytes is an L and an empty N.
    A last line without its newline (sendmail input that ends without one) is an L
    record; ``terminate`` (cleanup's queue file, not postdrop's) adds the empty N
    record that ends it, as Postfix's cleanup does.
    """
    return list(_records(content, line_limit, terminate))


def _records(content: bytes, line_limit: int, terminate: bool) -> Iterator[tuple[str, bytes]]:
    if not content:
        return
    open_end = not content.endswith(b"\n")
    body = content if open_end else content[:-1]
    lines = body.split(b"\n")
    if open_end:
        lines.pop()
    head_end = -1
    pos = 0
    for line in lines:
        if line_limit > 0 and len(line) >= line_limit:
            if head_end < 0:
                head_end = _head_end(body)
            yield from _pieces(line, line_limit, pos >= head_end)
        else:
            yield REC_TYPE_NORM, line
        pos += len(line) + 1
    if open_end:
        last = body[pos:]
        while line_limit > 0 and len(last) > line_limit:
            yield REC_TYPE_CONT, last[:line_limit]
            last = last[line_limit:]
        yield REC_TYPE_CONT, last
        if terminate:
            yield REC_TYPE_NORM, b""


def _head_end(body: bytes) -> int:
    """Where the body starts (the blank line); past the end when there is none."""
    if body.startswith(b"\n"):
        return 0
    blank = body.find(b"\n\n")
    return blank + 1 if blank >= 0 else len(body) + 1


def _pieces(line: bytes, line_limit: int, in_body: bool) -> Iterator[tuple[str, bytes]]:
    edge = 1 if in_body else 0          # body: split at >= line_limit; header: at > line_limit
    while len(line) + edge > line_limit:
        yield REC_TYPE_CONT, line[:line_limit]
        line = line[line_limit:]
    yield REC_TYPE_NORM, line


def join_content(records: list[tuple[str, bytes]]) -> bytes:
    """The message bytes (LF line ends) of a list of N/L records."""
    parts: list[bytes] = []
    for rtype, data in records:
        parts.append(data)
        if rtype == REC_TYPE_NORM:
            parts.append(b"\n")
    return b"".join(parts)


def split_attr(text: str) -> tuple[str, str]:
    """``name=value`` of an attribute record (split_nameval)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise RecordError(f"malformed attribute: {text[:100]}")
    return name.strip(), value.strip()
