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

    Files are written to a temporary name, marked complete (mode 0700),
    renamed into place and then flushed (fsync when the context asks for
    it: under ``simlab serve`` a 250 reply means "on disk"); the one fsync
    covers the name too, as for Postfix, which never fsyncs a directory.
    As in Postfix, moves between queues and "done" marks are not flushed:
    a crash may repeat a delivery but loses nothing.
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
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .queuefile import (QueueFile, Recipient, decode_queue_file, encode_queue_file, notify_mask,
                        notify_words)
from .queueid import (QUEUES, format_queue_id, id_hash_source, id_inode, is_long_id, new_queue_id,
                      queue_id_ok, release_queue_id)

__all__ = ["QUEUES", "QueueFile", "QueueStore", "Recipient", "decode_queue_file", "encode_queue_file",
           "format_queue_id", "id_hash_source", "id_inode", "is_long_id", "new_queue_id", "notify_mask",
           "notify_words", "queue_id_ok", "release_queue_id"]

MODE_READY = 0o700
MODE_EXPIRE = stat.S_IXGRP

# -- the store ------------------------------------------------------------------------
@dataclass
class _Layout:
    config: Any
    root: Path
    top: Path
    hashed: frozenset[str]
    depth: int
    dirs: dict[str, str] = field(default_factory=dict)      # queue -> "TOP/queue/"


class QueueStore:
    """The queue directories of one Postfix instance."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._lay: _Layout | None = None

    # -- names ------------------------------------------------------------------------
    def _layout(self) -> _Layout:
        """The queue layout of the current configuration (recomputed after a reload)."""
        ctx = self.ctx
        hit = self._lay
        # memo: names are made several times per message; the layout changes only with main.cf
        if hit is not None and hit.config is ctx.config and hit.root is ctx.root:
            return hit
        shared = getattr(ctx, "shared", None)
        cfg = ctx.config
        hit = shared.get("queue:layout") if shared is not None else None
        if hit is None or hit.config is not cfg or (hit.root is not ctx.root and hit.root != ctx.root):
            hit = _Layout(cfg, ctx.root, ctx.path(cfg["queue_directory"] or "/var/spool/postfix"),
                          frozenset(cfg.get_list("hash_queue_names")), max(0, cfg.get_int("hash_queue_depth")))
            if shared is not None:
                shared["queue:layout"] = hit
        self._lay = hit
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

    def _dir(self, lay: _Layout, queue: str) -> str:
        """``TOP/queue/``: queue_dir() as a string, with the slash."""
        prefix = lay.dirs.get(queue)
        if prefix is None:
            prefix = lay.dirs[queue] = os.path.join(str(lay.top), queue, "")
        return prefix

    def _name(self, queue: str, qid: str) -> str:
        """path() as a string."""
        lay = self._layout()
        prefix = lay.dirs.get(queue) or self._dir(lay, queue)
        if "/" in qid:          # not a queue id: os.path.join's rules, as for a path
            return os.path.join(prefix, *self.hash_dirs(queue, qid), qid)
        if lay.depth and queue in lay.hashed:
            src = id_hash_source(qid)
            if lay.depth == 1 and src:
                return f"{prefix}{src[0]}/{qid}"
            return prefix + "".join(d + "/" for d in self.hash_dirs(queue, qid)) + qid
        return prefix + qid

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
        names: list[str] = []
        _file_names(self._dir(self._layout(), queue), names)
        names = [n for n in names if queue_id_ok(n)]
        names.sort()
        return names

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
            fd = os.open(self._name(queue, qid), os.O_RDONLY)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                st = os.fstat(fd)
                mode = st.st_mode
                if stat.S_ISREG(mode):
                    data = _read_file(fd, st.st_size)
            except OSError:
                data = None
            finally:
                os.close(fd)
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
        return Path(self._write(queue, qf, mode))

    def _write(self, queue: str, qf: QueueFile, mode: int, fresh: bool = False) -> str:
        line_limit = self.ctx.config.get_int("line_length_limit")
        data = encode_queue_file(qf, maildrop=(queue == "maildrop"), line_limit=line_limit)
        target = self._name(queue, qf.qid)
        existed = not fresh and os.path.exists(target)
        self._atomic_write(target, data, mode | (MODE_EXPIRE if qf.forced_expire else 0))
        self.ctx.trace.record("queue", "queue", qid=qf.qid, src=queue if existed else "", dst=queue,
                              action="write", size=qf.size)
        return target

    async def write_flushed(self, queue: str, qf: QueueFile, mode: int = MODE_READY) -> Path:
        """write() for a caller that can wait: the same file, the same trace event.

        With ctx.fsync on a real event loop (simlab serve) the two flushes
        wait in a worker thread, so that other sessions go on meanwhile and
        the file system commits their files together, as it does for
        Postfix's many cleanup processes. The file is on disk when this
        returns, as with write().
        """
        return Path(await self.enqueue(queue, qf, mode))

    async def enqueue(self, queue: str, qf: QueueFile, mode: int = MODE_READY, *, fresh: bool = False) -> str:
        """write_flushed(), giving the file's name as a string (cleanup's path, once per message).

        ``fresh``: the queue id was just allocated (new_queue_id never hands
        out an id twice), so no file of that name can be there to replace.
        """
        if not self.ctx.fsync:
            return self._write(queue, qf, mode, fresh)
        loop = asyncio.get_running_loop()
        line_limit = self.ctx.config.get_int("line_length_limit")
        data = encode_queue_file(qf, maildrop=(queue == "maildrop"), line_limit=line_limit)
        target = self._name(queue, qf.qid)
        existed = not fresh and os.path.exists(target)
        mode |= MODE_EXPIRE if qf.forced_expire else 0
        # All of it in the worker: creating and naming a file can wait for the journal
        # behind other sessions' fsyncs, and the event loop serves them meanwhile.
        await _in_worker(loop, _write_flushed, target, data, mode)
        self.ctx.trace.record("queue", "queue", qid=qf.qid, src=queue if existed else "", dst=queue,
                              action="write", size=qf.size)
        return target

    def _atomic_write(self, target: str, data: bytes, mode: int) -> None:
        tmp, fd = _create_tmp(target)
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
            os.replace(tmp, target)
            if self.ctx.fsync:
                os.fsync(fd)        # data and name at once, as in enqueue()
        finally:
            os.close(fd)

    def move(self, qid: str, src: str, dst: str, *, when: float | None = None) -> None:
        """Rename ``qid`` from queue ``src`` to ``dst`` (trace event kind="queue").

        A file moved into the deferred queue gets ``when`` (default: the
        context's clock, virtual time on the virtual network) as its time
        stamp: the queue manager retries it from then on.
        """
        old = self._name(src, qid)
        new = self._name(dst, qid)
        try:
            os.replace(old, new)
        except (FileNotFoundError, NotADirectoryError):
            if not os.path.isfile(old):
                found = self.locate(src, qid)
                if found is None:
                    raise FileNotFoundError(f"{src}/{qid}") from None
                old = str(found)
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
        try:
            fd = os.open(self._name(queue, qid), os.O_RDWR)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            p = self.locate(queue, qid)
            if p is None:
                raise FileNotFoundError(f"{queue}/{qid}") from None
            fd = os.open(p, os.O_RDWR)
        offset = rcpt.offset
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
        try:
            os.unlink(self._name(queue, qid))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
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


def _create_tmp(target: str) -> tuple[str, int]:
    """A new ``.QID.tmp`` beside ``target`` (mode 0600 until it is complete), its directory made if needed."""
    slash = target.rfind("/") + 1
    tmp = f"{target[:slash]}.{target[slash:]}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd = os.open(tmp, flags, 0o600)
    return tmp, fd


def _write_flushed(target: str, data: bytes, mode: int) -> None:
    """enqueue()'s file: written, marked complete, named, then flushed.

    Renamed before the flush, as Postfix's cleanup names its file before
    mail_stream_finish() fsyncs it: one fsync then covers the data and the
    name (the journal commits the rename with it), and no directory fsync
    is needed. The mode says "complete", so qmgr may already take the file.
    """
    tmp, fd = _create_tmp(target)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.replace(tmp, target)
    except BaseException:
        os.close(fd)
        raise
    _fsync_close(fd)


def _read_file(fd: int, size: int) -> bytes:
    """The whole of a regular file of ``size`` bytes (as fstat said) from its start."""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    return data + _read_all(fd, len(data))   # it changed size: read on to the end


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


def _read_all(fd: int, pos: int = 0) -> bytes:
    parts = []
    while True:
        chunk = os.pread(fd, 1 << 16, pos)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        pos += len(chunk)
