"""NAME
    queue - Postfix's mail queues: queue ids, queue files, atomic moves

SUMMARY
    qid = new_queue_id(ctx)
    store = QueueStore(ctx)
    store.write("incoming", QueueFile(qid, arrival, sender, [Recipient("alice@example.com", "alice")], content))
    store.move(qid, "incoming", "active"); store.mark_done("active", qid, rcpt)

DESCRIPTION
    The queues are directories under ``queue_directory``: maildrop,
    incoming, active, deferred, hold and corrupt. A queue file is named
    after its queue id and holds Postfix's records (see records.py), so
    postcat(1) output matches the real one byte for byte.

    Queue ids (``C086916052C``, long: ``4jYkSt3ryBzBrr3``) come from
    queueid.py: the clock's microseconds and an inode-like number.

    Queues named in hash_queue_names are split into hash_queue_depth levels
    of subdirectories named after the first characters of the id (for long
    ids: of the microseconds in hex), e.g. ``deferred/C/C086916052C``.

    Files are written to a temporary name, flushed (fsync when the context
    asks for it: under ``simlab serve`` a 250 reply means "on disk") and
    renamed into place. As in Postfix, moves between queues and "done"
    marks are not flushed: a crash may repeat a delivery but loses nothing.
    A file whose mode has the group-execute bit is force-expired
    (postsuper -e), as Postfix marks it.

PARAMETERS
    queue_directory, hash_queue_names, hash_queue_depth,
    enable_long_queue_ids, line_length_limit.

SEE ALSO
    qmgr(8), postsuper(1), postcat(1), postconf(5)
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import records as R
from .queueid import (QUEUES, format_queue_id, id_hash_source, id_inode, is_long_id, new_queue_id,
                      queue_id_ok, release_queue_id)

__all__ = ["QUEUES", "QueueFile", "QueueStore", "Recipient", "decode_queue_file", "encode_queue_file",
           "format_queue_id", "id_hash_source", "id_inode", "is_long_id", "new_queue_id", "notify_mask",
           "notify_words", "queue_id_ok", "release_queue_id"]

MODE_READY = 0o700
MODE_EXPIRE = stat.S_IXGRP

_DSN_NOTIFY = (("NEVER", 1), ("SUCCESS", 2), ("FAILURE", 8), ("DELAY", 4))


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


def _message_id(content: bytes) -> str:
    head = content.split(b"\n\n", 1)[0]
    m = re.search(rb"(?im)^message-id:[ \t]*(.*(?:\n[ \t].*)*)", head)
    return m.group(1).decode("utf-8", "replace").replace("\n", "").strip() if m else ""


def encode_queue_file(qf: QueueFile, *, maildrop: bool = False, line_limit: int = 2048) -> bytes:
    """The bytes of a queue file; sets ``qf.size`` and each recipient's offset.

    ``maildrop=True`` gives postdrop's layout (no size record, no cleanup
    attributes): what pickup reads.
    """
    out = bytearray()

    def put(rtype: str, data: bytes | str) -> int:
        pos = len(out)
        out.extend(R.encode_record(rtype, data))
        return pos

    sec = int(qf.arrival)
    usec = min(999_999, int(round((qf.arrival - sec) * 1_000_000)))
    attrs = dict(qf.attrs)
    if not maildrop:
        put(R.REC_TYPE_SIZE, R.SIZE_FORMAT % (0, 0, 0, 0, 0, 0))
    put(R.REC_TYPE_TIME, f"{sec} {usec}")
    if not maildrop:
        put(R.REC_TYPE_ATTR, f"create_time={int(qf.create_time or qf.arrival)}")
        put(R.REC_TYPE_ATTR, f"log_ident={qf.qid}")
    if "rewrite_context" in attrs:
        put(R.REC_TYPE_ATTR, f"rewrite_context={attrs.pop('rewrite_context')}")
    if qf.fullname:
        put(R.REC_TYPE_FULL, qf.fullname)
    put(R.REC_TYPE_FROM, qf.sender)
    for name, value in attrs.items():
        put(R.REC_TYPE_ATTR, f"{name}={value}")
    if qf.warn_time > 0 and qf.sender:
        put(R.REC_TYPE_WARN, R.WARN_FORMAT % int(qf.warn_time))

    def put_rcpt(r: Recipient) -> None:
        if r.orcpt:
            put(R.REC_TYPE_ATTR, f"dsn_orig_rcpt={r.orcpt}")
        if r.notify:
            put(R.REC_TYPE_ATTR, f"notify_flags={notify_mask(r.notify)}")
        if not maildrop or r.orig:
            put(R.REC_TYPE_ORCP, r.orig)
        r.offset = put(R.REC_TYPE_DONE if r.done else R.REC_TYPE_RCPT, r.address)

    for r in qf.recipients:
        if not r.extracted:
            put_rcpt(r)
    put(R.REC_TYPE_MESG, "")
    data_offset = len(out)
    R.put_content(out, qf.content, line_limit)
    size = len(out) - data_offset
    put(R.REC_TYPE_XTRA, "")
    if qf.filter and not maildrop:
        put(R.REC_TYPE_FILT, qf.filter)     # cleanup writes it first in the extracted segment
    for r in qf.recipients:
        if r.extracted:
            put_rcpt(r)
    put(R.REC_TYPE_END, "")
    qf.size = size
    if not maildrop:
        flags = 0
        size_rec = R.SIZE_FORMAT % (size, data_offset, len(qf.recipients), flags, size, 0)
        out[:len(R.encode_record(R.REC_TYPE_SIZE, size_rec))] = R.encode_record(R.REC_TYPE_SIZE, size_rec)
    if not qf.msg_id:
        qf.msg_id = _message_id(qf.content)
    return bytes(out)


def decode_queue_file(data: bytes, qid: str = "") -> QueueFile:
    """A QueueFile from its bytes (either layout); raises records.RecordError when malformed."""
    qf = QueueFile(qid, 0.0, "", [], b"")
    orig, orcpt, notify = "", "", ""
    segment = "envelope"
    content: list[tuple[str, bytes]] = []
    size_field: int | None = None
    seen_end = False
    for t, raw, offset in R.scan_queue_file(data, content):
        if segment == "content":
            if t == R.REC_TYPE_XTRA:
                segment = "extracted"
            continue
        text = raw.decode("utf-8", "surrogateescape")
        if t == R.REC_TYPE_SIZE and size_field is None:
            size_field = int(text.split()[0])
        elif t == R.REC_TYPE_TIME:
            parts = text.split()
            qf.arrival = int(parts[0]) + (int(parts[1]) / 1_000_000 if len(parts) > 1 else 0.0)
        elif t == R.REC_TYPE_FULL and segment == "envelope":
            qf.fullname = text
        elif t == R.REC_TYPE_FROM:
            qf.sender = text
        elif t == R.REC_TYPE_WARN:
            qf.warn_time = float(int(text))
        elif t == R.REC_TYPE_FILT:
            qf.filter = text                # the last one wins, as for qmgr
        elif t == R.REC_TYPE_ATTR:
            name, value = R.split_attr(text)
            if name == "create_time":
                qf.create_time = float(value)
            elif name == "log_ident":
                qf.qid = qf.qid or value
            elif name == "dsn_orig_rcpt":
                orcpt = value
            elif name == "notify_flags":
                notify = notify_words(int(value or 0))
            else:
                qf.attrs[name] = value
        elif t == R.REC_TYPE_ORCP:
            orig = text
        elif t in (R.REC_TYPE_RCPT, R.REC_TYPE_DONE):
            qf.recipients.append(Recipient(text, orig, notify, orcpt, offset,
                                           done=(t == R.REC_TYPE_DONE), extracted=(segment == "extracted")))
            orig, orcpt, notify = "", "", ""
        elif t == R.REC_TYPE_DRCP:
            orig, orcpt, notify = "", "", ""
        elif t == R.REC_TYPE_MESG and segment == "envelope":
            segment = "content"
        elif t == R.REC_TYPE_END:
            seen_end = True
            break
    if not seen_end:
        raise R.RecordError("no end-of-message record")
    qf.content = R.join_content(content)
    qf.size = size_field if size_field is not None else sum(len(R.encode_record(t, d)) for t, d in content)
    qf.msg_id = _message_id(qf.content)
    return qf


# -- the store ------------------------------------------------------------------------
@dataclass
class _Layout:
    config: Any
    root: Path
    top: Path
    hashed: frozenset[str]
    depth: int
    dirs: dict[str, str] = field(default_factory=dict)


class QueueStore:
    """The queue directories of one Postfix instance."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    # -- names ------------------------------------------------------------------------
    def _layout(self) -> _Layout:
        """The queue layout of the current configuration (recomputed after a reload)."""
        shared = getattr(self.ctx, "shared", None)
        cfg = self.ctx.config
        hit = shared.get("queue:layout") if shared is not None else None
        if hit is None or hit.config is not cfg or hit.root != self.ctx.root:
            hit = _Layout(cfg, self.ctx.root, self.ctx.path(cfg["queue_directory"] or "/var/spool/postfix"),
                          frozenset(cfg.get_list("hash_queue_names")), max(0, cfg.get_int("hash_queue_depth")))
            if shared is not None:
                shared["queue:layout"] = hit
        return hit

    @property
    def top(self) -> Path:
        return self._layout().top

    def queue_dir(self, queue: str) -> Path:
        return self._layout().top / queue

    def hash_dirs(self, queue: str, qid: str) -> list[str]:
        """The subdirectory names for ``qid`` in ``queue`` (dir_forest)."""
        lay = self._layout()
        if queue not in lay.hashed:
            return []
        src = id_hash_source(qid)
        return [src[i] if i < len(src) else "_" for i in range(lay.depth)]

    def _name(self, queue: str, qid: str) -> str:
        """path() as a string."""
        lay = self._layout()
        base = lay.dirs.get(queue)
        if base is None:
            base = lay.dirs[queue] = os.path.join(str(lay.top), queue)
        if lay.depth and queue in lay.hashed:
            return os.path.join(base, *self.hash_dirs(queue, qid), qid)
        return os.path.join(base, qid)

    def path(self, queue: str, qid: str) -> Path:
        return Path(self._name(queue, qid))

    def relpath(self, queue: str, qid: str) -> str:
        """The name postcat prints: ``deferred/C/C086916052C``."""
        return "/".join([queue, *self.hash_dirs(queue, qid), qid])

    def locate(self, queue: str, qid: str) -> Path | None:
        """The file of ``qid`` in ``queue``, also when it sits in another hash directory."""
        p = self.path(queue, qid)
        if p.is_file():
            return p
        for found in self._scan(queue):
            if found.name == qid:
                return found
        return None

    def _scan(self, queue: str) -> Iterator[Path]:
        base = self.queue_dir(queue)
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if queue_id_ok(name):
                    yield Path(dirpath) / name

    # -- reading ----------------------------------------------------------------------
    def list(self, queue: str) -> list[str]:
        """The queue ids in ``queue``, sorted."""
        lay = self._layout()
        base = lay.dirs.get(queue)
        if base is None:
            base = lay.dirs[queue] = os.path.join(str(lay.top), queue)
        names: list[str] = []
        _file_names(base, names)
        return sorted(n for n in names if queue_id_ok(n))

    def find(self, qid: str) -> str | None:
        """Which queue holds ``qid`` (None when none does)."""
        if not queue_id_ok(qid):
            return None
        for queue in QUEUES:
            if self.locate(queue, qid) is not None:
                return queue
        return None

    def read_bytes(self, queue: str, qid: str) -> bytes:
        p = self.locate(queue, qid)
        if p is None:
            raise FileNotFoundError(f"{queue}/{qid}")
        return p.read_bytes()

    def read(self, queue: str, qid: str) -> QueueFile:
        data, mode = None, 0
        try:
            with open(self._name(queue, qid), "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                if stat.S_ISREG(mode):
                    data = f.read()
        except OSError:
            pass
        if data is None:    # elsewhere in the queue (another hash depth), or not there at all
            p = self.locate(queue, qid)
            if p is None:
                raise FileNotFoundError(f"{queue}/{qid}")
            data, mode = p.read_bytes(), p.stat().st_mode
        qf = decode_queue_file(data, qid)
        qf.qid = qid
        qf.forced_expire = bool(mode & MODE_EXPIRE)
        return qf

    # -- writing ----------------------------------------------------------------------
    def write(self, queue: str, qf: QueueFile, mode: int = MODE_READY) -> Path:
        """Write ``qf`` atomically into ``queue`` (tmp + rename; fsync when ctx.fsync)."""
        line_limit = self.ctx.config.get_int("line_length_limit")
        data = encode_queue_file(qf, maildrop=(queue == "maildrop"), line_limit=line_limit)
        target = self._name(queue, qf.qid)
        existed = os.path.exists(target)
        self._atomic_write(target, data, mode | (MODE_EXPIRE if qf.forced_expire else 0))
        self.ctx.trace.record("queue", "queue", qid=qf.qid, src=queue if existed else "", dst=queue,
                              action="write", size=qf.size)
        return Path(target)

    async def write_flushed(self, queue: str, qf: QueueFile, mode: int = MODE_READY) -> Path:
        """write() for a caller that can wait: the same file, the same trace event.

        With ctx.fsync on a real event loop (simlab serve) the two flushes
        wait in a worker thread, so that other sessions go on meanwhile and
        the file system commits their files together, as it does for
        Postfix's many cleanup processes. The file is on disk when this
        returns, as with write().
        """
        if not self.ctx.fsync:
            return self.write(queue, qf, mode)
        loop = asyncio.get_running_loop()
        line_limit = self.ctx.config.get_int("line_length_limit")
        data = encode_queue_file(qf, maildrop=(queue == "maildrop"), line_limit=line_limit)
        target = self._name(queue, qf.qid)
        existed = os.path.exists(target)
        mode |= MODE_EXPIRE if qf.forced_expire else 0
        parent, tmp, fd = self._create_tmp(target)
        try:
            os.write(fd, data)
        except BaseException:
            os.close(fd)
            raise
        await _in_worker(loop, _fsync_close, fd)     # the worker owns fd now, even if we are cancelled
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        await _in_worker(loop, _fsync_dir, Path(parent))
        self.ctx.trace.record("queue", "queue", qid=qf.qid, src=queue if existed else "", dst=queue,
                              action="write", size=qf.size)
        return Path(target)

    @staticmethod
    def _create_tmp(target: str) -> tuple[str, str, int]:
        parent, name = os.path.split(target)
        tmp = os.path.join(parent, f".{name}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        try:
            fd = os.open(tmp, flags, 0o600)
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
            fd = os.open(tmp, flags, 0o600)
        return parent, tmp, fd

    def _atomic_write(self, target: str, data: bytes, mode: int) -> None:
        parent, tmp, fd = self._create_tmp(target)
        try:
            os.write(fd, data)
            if self.ctx.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        if self.ctx.fsync:
            _fsync_dir(Path(parent))

    def move(self, qid: str, src: str, dst: str, *, when: float | None = None) -> None:
        """Rename ``qid`` from queue ``src`` to ``dst`` (trace event kind="queue").

        A file moved into the deferred queue gets ``when`` (default: the
        context's clock, virtual time on the virtual network) as its time
        stamp: the queue manager retries it from then on.
        """
        old = self._name(src, qid)
        if not os.path.isfile(old):
            found = self.locate(src, qid)
            if found is None:
                raise FileNotFoundError(f"{src}/{qid}")
            old = str(found)
        new = self._name(dst, qid)
        try:
            os.replace(old, new)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(new), exist_ok=True)
            os.replace(old, new)
        if dst == "deferred":
            stamp = self.ctx.now() if when is None else when
            os.utime(new, (stamp, stamp))
        # No fsync: qmgr's rename is not flushed in Postfix either. A crash can only
        # leave the file under its old name, to be scanned again; nothing is lost.
        self.ctx.trace.record("queue", "queue", qid=qid, src=src, dst=dst, action="move")

    def mark_done(self, queue: str, qid: str, rcpt: Recipient) -> None:
        """Overwrite the recipient's R type byte with D, as qmgr does after delivery.

        Written, not fsync'ed: Postfix's deliver_completed() only flushes the
        stream. After a crash a recipient may be delivered twice, never lost.
        """
        p: Path | str | None = self._name(queue, qid)
        if not os.path.isfile(p):
            p = self.locate(queue, qid)
            if p is None:
                raise FileNotFoundError(f"{queue}/{qid}")
        offset = rcpt.offset
        fd = os.open(p, os.O_RDWR)
        try:
            if offset is not None and (offset < 0 or os.pread(fd, 1, offset) != b"R"):
                offset = None
            if offset is None:
                offset = self._find_rcpt(_read_all(fd), rcpt)
            if offset is None:
                return
            os.pwrite(fd, b"D", offset)
        finally:
            os.close(fd)
        rcpt.offset = offset
        rcpt.done = True

    @staticmethod
    def _find_rcpt(data: bytes, rcpt: Recipient) -> int | None:
        for r in decode_queue_file(data).recipients:
            if not r.done and r.address == rcpt.address and (not rcpt.orig or r.orig == rcpt.orig):
                return r.offset
        return None

    def remove(self, queue: str, qid: str) -> bool:
        """Delete ``qid`` from ``queue``; False when it was not there."""
        p: Path | str | None = self._name(queue, qid)
        if not os.path.isfile(p):
            p = self.locate(queue, qid)
            if p is None:
                return False
        os.unlink(p)
        release_queue_id(self.ctx, qid)
        self.ctx.trace.record("queue", "queue", qid=qid, src=queue, dst="", action="remove")
        return True

    # -- postsuper -e -------------------------------------------------------------------
    def set_expired(self, queue: str, qid: str) -> bool:
        p = self.locate(queue, qid)
        if p is None:
            return False
        os.chmod(p, stat.S_IMODE(p.stat().st_mode) | MODE_EXPIRE)
        return True

    def is_expired(self, queue: str, qid: str) -> bool:
        p = self.locate(queue, qid)
        return p is not None and bool(p.stat().st_mode & MODE_EXPIRE)

    def mtime(self, queue: str, qid: str) -> float:
        p = self.locate(queue, qid)
        return p.stat().st_mtime if p is not None else 0.0


def _file_names(top: str, out: list[str]) -> None:
    """The names of the files under ``top``, as os.walk() (no symlinked folders) finds them."""
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            out.append(entry.name)
        elif not os.path.islink(entry.path):
            _file_names(entry.path, out)


def _fsync_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _in_worker(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    """fn(*args) in the loop's thread pool; in place on a loop without one (the virtual loop)."""
    try:
        fut = loop.run_in_executor(None, fn, *args)
    except (RuntimeError, NotImplementedError):
        fn(*args)
        return
    await fut


def _read_all(fd: int) -> bytes:
    parts = []
    pos = 0
    while True:
        chunk = os.pread(fd, 1 << 16, pos)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        pos += len(chunk)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
