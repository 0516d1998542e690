"""NAME
    queuefile - one Postfix queue file: its records in, its records out

SUMMARY
    data = encode_queue_file(QueueFile(qid, arrival, sender, [Recipient("bob@example.com")], content))
    qf = decode_queue_file(data, qid)

DESCRIPTION
    A queue file is a sequence of Postfix records (records.py): the size
    record, time, attributes, sender and recipients, the message content,
    the extracted section and the end record. ``encode_queue_file`` writes
    one as cleanup(8) or postdrop(1) (maildrop) does; ``decode_queue_file``
    reads it back as qmgr(8), postcat(1) and the delivery agents do, done
    recipients ("D" records) included. The store that names, writes and
    moves these files is queue.py.

PARAMETERS
    line_length_limit (long lines are split into continuation records).

SEE ALSO
    cleanup(8), qmgr(8), postcat(1), records.py
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import records as R

_DSN_NOTIFY = (("NEVER", 1), ("SUCCESS", 2), ("FAILURE", 4), ("DELAY", 8))   # dsn_mask.h


# -- the queue file model -------------------------------------------------------------
def notify_mask(notify: str) -> int:
    """DSN NOTIFY words ("SUCCESS,DELAY") as Postfix's bit mask."""
    mask = 0
    for word in notify.upper().replace(" ", "").split(","):
        for name, bit in _DSN_NOTIFY:
            if word == name:
                mask |= bit
    return mask


def notify_words(mask: int) -> str:
    return ",".join(name for name, bit in _DSN_NOTIFY if mask & bit)


@dataclass
class Recipient:
    """One envelope recipient; ``offset`` is where its R record starts in the file."""

    address: str
    orig: str = ""
    notify: str = ""          # DSN NOTIFY words, e.g. "SUCCESS,FAILURE"
    orcpt: str = ""           # dsn_orig_rcpt value, e.g. "rfc822;alice@example.com"
    offset: int | None = None
    done: bool = False        # a D record: already delivered (or bounced)
    extracted: bool = False   # from message headers (sendmail -t): after the X record


@dataclass
class QueueFile:
    """A queue file as the programs see it (records.py has the byte layout)."""

    qid: str
    arrival: float
    sender: str
    recipients: list[Recipient]
    content: bytes                    # headers + body, LF line ends
    attrs: dict[str, str] = field(default_factory=dict)
    size: int = 0                     # content size as Postfix counts it (set by write/read)
    warn_time: float = 0.0            # when to send a delay warning (0 = never)
    msg_id: str = ""
    fullname: str = ""                # sender full name (local submission)
    create_time: float = 0.0          # when cleanup made the file (0 = arrival)
    forced_expire: bool = False       # postsuper -e (a mode bit, not a record)
    filter: str = ""                  # content_filter "transport:nexthop" (the L record)

    def pending(self) -> list[Recipient]:
        """The recipients not yet delivered."""
        return [r for r in self.recipients if not r.done]


_MESSAGE_ID = re.compile(rb"(?im)^message-id:[ \t]*(.*(?:\n[ \t].*)*)")


def _message_id(content: bytes) -> str:
    end = content.find(b"\n\n")
    if end < 0:
        end = len(content)
    # _MESSAGE_ID.search() would try the case-blind pattern at every offset of the headers
    low = content[:end].lower()
    at = low.find(b"message-id:")
    while at > 0 and low[at - 1] != 0x0A:
        at = low.find(b"message-id:", at + 1)
    if at < 0:
        return ""
    m = _MESSAGE_ID.match(content, at, end)
    return m.group(1).decode("utf-8", "replace").replace("\n", "").strip() if m else ""


def encode_queue_file(qf: QueueFile, *, maildrop: bool = False, line_limit: int = 2048) -> bytes:
    """The bytes of a queue file; sets ``qf.size`` and each recipient's offset.

    ``maildrop=True`` gives postdrop's layout (no size record, no cleanup
    attributes): what pickup reads.
    """
    rec = R.encode_record
    out = bytearray()
    sec = int(qf.arrival)
    usec = min(999_999, int(round((qf.arrival - sec) * 1_000_000)))
    attrs = qf.attrs
    if not maildrop:
        out += _SIZE_PLACEHOLDER
    out += rec(R.REC_TYPE_TIME, f"{sec} {usec}")
    if not maildrop:
        out += rec(R.REC_TYPE_ATTR, f"create_time={int(qf.create_time or qf.arrival)}")
        ident = attrs.get("log_ident", qf.qid)     # pickup: the requeued file's own, or none
        if ident:
            out += rec(R.REC_TYPE_ATTR, f"log_ident={ident}")
    early, late = attr_order(attrs)
    for name in early:
        out += rec(R.REC_TYPE_ATTR, f"{name}={attrs[name]}")
    if qf.fullname:
        out += rec(R.REC_TYPE_FULL, qf.fullname)
    out += rec(R.REC_TYPE_FROM, qf.sender)
    heads = _ATTR_HEADS
    for name in late:
        text = f"{name}={attrs[name]}".encode("utf-8", "surrogateescape")
        if len(text) < 0x80:        # the usual short attribute, without a call per record
            out += heads[len(text)]
            out += text
        else:
            out += rec(R.REC_TYPE_ATTR, text)
    if qf.warn_time > 0 and qf.sender:
        out += rec(R.REC_TYPE_WARN, R.WARN_FORMAT % int(qf.warn_time))
    for r in qf.recipients:
        if not r.extracted:
            _put_rcpt(out, r, maildrop)
    out += _MESG
    data_offset = len(out)
    R.put_content(out, qf.content, line_limit, terminate=not maildrop)
    if not maildrop and qf.content and not qf.content.endswith(b"\n"):
        qf.content += b"\n"        # what the queue file now says (L record, then an empty N)
    size = len(out) - data_offset
    out += _XTRA
    if qf.filter and not maildrop:
        out += rec(R.REC_TYPE_FILT, qf.filter)     # cleanup writes it first in the extracted segment
    for r in qf.recipients:
        if r.extracted:
            _put_rcpt(out, r, maildrop)
    out += _END
    qf.size = size
    if maildrop:
        if not qf.msg_id:
            qf.msg_id = _message_id(qf.content)
        return bytes(out)
    flags = 0       # qmgr_opts: the recipients' DSN NOTIFY bits, shifted (QMGR_READ_FLAG_FROM_DSN)
    for r in qf.recipients:
        if r.notify:
            flags |= notify_mask(r.notify) << 1
    size_rec = rec(R.REC_TYPE_SIZE, R.SIZE_FORMAT % (size, data_offset, len(qf.recipients), flags, size, 0))
    out[:len(size_rec)] = size_rec
    data = bytes(out)
    known = _remember_content(qf, data[data_offset:data_offset + size])
    if known is not None:
        _remember_decoded(qf, data, sec + usec / 1_000_000, known)
    return data


_BEFORE_SENDER = ("envelope_id", "ret_flags")


def attr_order(attrs: dict[str, str]) -> tuple[list[str], list[str]]:
    """The attribute names written before the sender record and after it, in file order.

    Before: what came before rewrite_context (sendmail's envelope_id and ret_flags),
    rewrite_context, then the DSN envelope_id and ret_flags (as smtpd passes them);
    after: the rest. log_ident is an envelope record of its own, not listed.
    """
    names = [n for n in attrs if n != "log_ident"]
    if "rewrite_context" in attrs:
        cut = names.index("rewrite_context") + 1
        early = names[:cut] + [n for n in names[cut:] if n in _BEFORE_SENDER]
    else:
        early = [n for n in names if n in _BEFORE_SENDER]
    return early, [n for n in names if n not in early]


_ATTR_HEADS = [bytes((ord(R.REC_TYPE_ATTR), n)) for n in range(0x80)]
_SIZE_PLACEHOLDER = R.encode_record(R.REC_TYPE_SIZE, R.SIZE_FORMAT % (0, 0, 0, 0, 0, 0))
_MESG = R.encode_record(R.REC_TYPE_MESG, "")
_XTRA = R.encode_record(R.REC_TYPE_XTRA, "")
_END = R.encode_record(R.REC_TYPE_END, "")


def _put_rcpt(out: bytearray, r: Recipient, maildrop: bool) -> None:
    rec = R.encode_record
    if r.notify:
        out += rec(R.REC_TYPE_ATTR, f"notify_flags={notify_mask(r.notify)}")
    if r.orcpt:
        out += rec(R.REC_TYPE_ATTR, f"dsn_orig_rcpt={r.orcpt}")
    if not maildrop or r.orig:
        out += rec(R.REC_TYPE_ORCP, r.orig)
    r.offset = len(out)
    out += rec(R.REC_TYPE_DONE if r.done else R.REC_TYPE_RCPT, r.address)


# memo: a queue file is decoded by qmgr and again by the delivery agent, and its
# content segment was encoded by cleanup just before. Both memos are keyed by
# queue id and hold what decoding exactly those bytes gives, which is compared
# in full before use: a file that changed (a D record) is decoded again.
_MEMO_ENTRIES = 128
_MEMO_MAX_BYTES = 1 << 15
_decoded: dict[str, tuple[bytes, QueueFile]] = {}        # qid -> (file, an unshared copy)
_contents: dict[str, tuple[bytes, bytes, str]] = {}      # qid -> (content records, content, msg_id)


def _remember(memo: dict, key: str, value: tuple) -> None:
    if len(memo) >= _MEMO_ENTRIES:
        memo.clear()
    memo[key] = value


def _remember_content(qf: QueueFile, records: bytes) -> tuple[bytes, bytes, str] | None:
    """Sets qf.msg_id; notes what decoding ``records`` (put_content's output for qf.content) gives.

    Returns the note (records, content, msg_id), or None when none was made.
    """
    content = qf.content
    if not qf.qid or not 0 < len(records) <= _MEMO_MAX_BYTES or type(content) is not bytes:
        if not qf.msg_id:
            qf.msg_id = _message_id(content)
        return None
    decoded = content if content.endswith(b"\n") else content + b"\n"    # the last line's LF
    mid = _message_id(decoded)
    if not qf.msg_id:
        qf.msg_id = mid if decoded is content else _message_id(content)
    known = (records, decoded, mid)
    _remember(_contents, qf.qid, known)
    return known


def _remember_decoded(qf: QueueFile, data: bytes, arrival: float, known: tuple[bytes, bytes, str]) -> None:
    """Notes what decode_queue_file(data, qf.qid) gives, worked out from ``qf`` instead of ``data``.

    qmgr reads every file just after cleanup wrote it; its decoder would find
    exactly the values written, normalised as they are here (arrival to the
    microsecond, whole seconds, NOTIFY words in Postfix's order). A file whose
    attributes the decoder would change (white space around a name or value,
    an "=" in a name, a name it takes as an envelope attribute) is not noted.
    tests/test_queue_records.py compares this with _decode() itself.
    """
    if len(data) > _MEMO_MAX_BYTES or not _all_str(qf.sender, qf.fullname or "", qf.filter or ""):
        return
    early, late = attr_order(qf.attrs)          # the encoder's order
    attrs = {k: qf.attrs[k] for k in early + late}
    plain = _PLAIN_NAMES
    for name, value in attrs.items():
        if name not in plain and not _plain_name(name) or type(value) is not str or value != value.strip():
            return
    rcpts = []
    for extracted in (False, True):         # the envelope segment's, then the extracted segment's
        for r in qf.recipients:
            if bool(r.extracted) is extracted:
                if not _all_str(r.address, r.orig, r.notify, r.orcpt) or r.orcpt != r.orcpt.strip():
                    return
                notify = notify_words(notify_mask(r.notify)) if r.notify else ""
                rcpts.append(Recipient(r.address, r.orig, notify, r.orcpt or "", r.offset, bool(r.done), extracted))
    records, content, msg_id = known
    warn_time = float(int(qf.warn_time)) if qf.warn_time > 0 and qf.sender else 0.0
    decoded = QueueFile(qf.qid, arrival, qf.sender, rcpts, content, attrs, size=qf.size, warn_time=warn_time,
                        msg_id=msg_id, fullname=qf.fullname or "",
                        create_time=float(int(qf.create_time or qf.arrival)), filter=qf.filter or "")
    _remember(_decoded, qf.qid, (data, decoded))


_PLAIN_NAMES: set[str] = set()         # memo: attribute names that come back as they are


def _plain_name(name: object) -> bool:
    """An attribute name that the decoder gives back unchanged and keeps among the attributes."""
    if type(name) is not str or not name or name != name.strip() or "=" in name or name in _ENVELOPE_ATTRS:
        return False
    if len(_PLAIN_NAMES) >= 1024:
        _PLAIN_NAMES.clear()
    _PLAIN_NAMES.add(name)
    return True


def _all_str(*values: object) -> bool:
    """Values that a record holds as they are (bytes would come back as str)."""
    for v in values:
        if type(v) is not str:
            return False
    return True


def _copy(qf: QueueFile) -> QueueFile:
    """A QueueFile sharing nothing mutable with ``qf``."""
    new = object.__new__(QueueFile)
    new.__dict__.update(qf.__dict__)
    new.attrs = dict(qf.attrs)
    rcpts = new.recipients = []
    for r in qf.recipients:
        c = object.__new__(Recipient)
        c.__dict__.update(r.__dict__)
        rcpts.append(c)
    return new


def decode_queue_file(data: bytes, qid: str = "") -> QueueFile:
    """A QueueFile from its bytes (either layout); raises records.RecordError when malformed.

    One pass over the records, as records.iter_raw() walks them (pointer
    records followed, a malformed record found when it is reached); the
    content segment's N and L records only make up the message, and
    nothing after the end record is read.
    """
    if type(data) is not bytes:
        data = bytes(data)
    hit = _decoded.get(qid) if qid else None
    if hit is not None and hit[0] == data:
        return _copy(hit[1])
    qf = _decode(data, qid)
    if qid and len(data) <= _MEMO_MAX_BYTES:
        _remember(_decoded, qid, (data, _copy(qf)))
    return qf


def _decode(data: bytes, qid: str) -> QueueFile:
    qf = QueueFile(qid, 0.0, "", [], b"")
    attrs = qf.attrs
    orig, orcpt, notify = "", "", ""
    content: list[bytes] = []
    cont: list[int] = []            # which of them are L records (parts of a longer line)
    size_field: int | None = None
    known: tuple[bytes, bytes, str] | None = None     # the content segment, from _contents
    n = len(data)
    pos = 0
    seen: set[int] = set()
    segment = 0                     # 0 envelope, 1 content, 2 extracted
    while True:
        if segment == 1:
            pos = R.short_text(data, pos, content)
        if pos >= n:
            raise R.RecordError("no end-of-message record")
        t, raw, end = R.next_record(data, pos, n)
        if t == R.REC_TYPE_PTR:
            target = int(raw.strip() or b"0")
            if target > 0 and target not in seen:
                seen.add(target)
                pos = target
                continue
        offset, pos = pos, end
        if segment == 1:
            if t == R.REC_TYPE_NORM:
                content.append(raw)
            elif t == R.REC_TYPE_CONT:
                cont.append(len(content))
                content.append(raw)
            elif t == R.REC_TYPE_XTRA:
                segment = 2
            continue
        if t == "A":                            # REC_TYPE_ATTR, the most common record
            name, value = _attr_memo.get(raw) or _split_attr(raw)
            if name not in _ENVELOPE_ATTRS:
                attrs[name] = value
            elif name == "create_time":
                qf.create_time = float(value)
            elif name == "log_ident":
                qf.qid = qf.qid or value
            elif name == "dsn_orig_rcpt":
                orcpt = value
            else:                               # notify_flags
                notify = notify_words(int(value or 0))
            continue
        text = raw.decode("utf-8", "surrogateescape")
        if t == "R" or t == "D":                # REC_TYPE_RCPT, REC_TYPE_DONE
            qf.recipients.append(Recipient(text, orig, notify, orcpt, offset, t == "D", segment == 2))
            orig, orcpt, notify = "", "", ""
        elif t == R.REC_TYPE_ORCP:
            orig = text
        elif t == R.REC_TYPE_SIZE and size_field is None:
            size_field = int(_first_word(text, "size"))
        elif t == R.REC_TYPE_TIME:
            parts = text.split() or [_first_word(text, "time")]
            qf.arrival = int(parts[0]) + (int(parts[1]) / 1_000_000 if len(parts) > 1 else 0.0)
        elif t == R.REC_TYPE_FULL and segment == 0:
            qf.fullname = text
        elif t == R.REC_TYPE_FROM:
            qf.sender = text
        elif t == R.REC_TYPE_WARN:
            qf.warn_time = float(int(text))
        elif t == R.REC_TYPE_FILT:
            qf.filter = text                # the last one wins, as for qmgr
        elif t == R.REC_TYPE_DRCP:
            orig, orcpt, notify = "", "", ""
        elif t == R.REC_TYPE_MESG and segment == 0:
            segment = 1
            known = _contents.get(qf.qid)
            if known is not None:
                stop = pos + len(known[0])
                if data.startswith(known[0], pos) and data[stop:stop + 1] == b"X":
                    pos = stop              # exactly the records that cleanup wrote, then X
                else:
                    known = None
        elif t == R.REC_TYPE_END:
            break
    if known is not None:
        records, qf.content, qf.msg_id = known
        qf.size = size_field if size_field is not None else len(records)
        return qf
    qf.content = R.text_content(content, cont)
    qf.size = size_field if size_field is not None else R.text_size(content)
    qf.msg_id = _message_id(qf.content)
    return qf


_ENVELOPE_ATTRS = frozenset(("create_time", "log_ident", "dsn_orig_rcpt", "notify_flags"))
_attr_memo: dict[bytes, tuple[str, str]] = {}     # memo: most attribute records recur from file to file


def _split_attr(raw: bytes) -> tuple[str, str]:
    """``name=value`` of an attribute record, as split_nameval() splits it."""
    text = raw.decode("utf-8", "surrogateescape")
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise R.RecordError(f"malformed attribute: {text[:100]}")
    if len(_attr_memo) >= 4096:
        _attr_memo.clear()
    nv = _attr_memo[raw] = (name, value.strip())
    return nv


def _first_word(text: str, what: str) -> str:
    """The first word of a size or time record; an empty one makes the file corrupt, as for qmgr."""
    words = text.split()
    if not words:
        raise R.RecordError(f"malformed {what} record")
    return words[0]
