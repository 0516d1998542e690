"""NAME
    queueid - Postfix queue ids: short (hex) and long (base 52), from clock and inode

SUMMARY
    qid = new_queue_id(ctx); release_queue_id(ctx, qid)
    format_queue_id(1795527573.788585, 0x16052C, long_ids=False) -> "C086916052C"

DESCRIPTION
    Short ids (enable_long_queue_ids = no) are five upper-case hex digits
    of the microseconds followed by the inode number in hex. Long ids are
    the seconds in base 52 (six or more characters), the microseconds in
    base 52 (four), "z", and the inode number in base 51; the alphabet has
    no vowels. On a file system the inode is the queue file's; here an
    allocator per instance hands out the lowest number not in use (so id
    tails recur, as on a real system) and never gives out an id twice, which
    keeps a simulation deterministic.

PARAMETERS
    enable_long_queue_ids.

SEE ALSO
    mail_queue(3), postconf(5)
"""

from __future__ import annotations

import re
import weakref
import zlib
from typing import Any, Callable

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")
_SAFE = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
_ID_OK = re.compile(r"^[0-9A-Za-z]+$")


# -- queue ids ----------------------------------------------------------------------
def _encode(value: int, base: int, pad: int) -> str:
    out = ""
    while value:
        value, digit = divmod(value, base)
        out = _SAFE[digit] + out
    return out.rjust(pad, "0") if pad else (out or "0")


def _decode(text: str, base: int) -> int:
    value = 0
    for ch in text:
        digit = _SAFE.find(ch)
        if digit < 0 or digit >= base:
            raise ValueError(text)
        value = value * base + digit
    return value


def is_long_id(qid: str) -> bool:
    """True for a long queue id: a 'z' after at least ten time characters."""
    z = qid.rfind("z")
    return z >= 10


def queue_id_ok(qid: str) -> bool:
    """mail_queue_id_ok(): only letters and digits, and not too long."""
    return bool(_ID_OK.match(qid)) and len(qid) <= 100


def id_inode(qid: str) -> int | None:
    """The inode number encoded in a queue id, or None when it is not one of ours."""
    try:
        if is_long_id(qid):
            return _decode(qid[qid.rfind("z") + 1:], 51)
        return int(qid[5:], 16) if len(qid) > 5 else None
    except ValueError:
        return None


def id_hash_source(qid: str) -> str:
    """What the hash directories are named after: the id, or a long id's usec in hex."""
    if is_long_id(qid):
        z = qid.rfind("z")
        try:
            usec = _decode(qid[z - 4:z], 52)
        except ValueError:
            usec = 0
        return "%05X" % usec
    return qid


def format_queue_id(when: float, inode: int, long_ids: bool) -> str:
    sec = int(when)
    usec = int(round((when - sec) * 1_000_000))
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    if long_ids:
        return _encode(sec, 52, 6) + _encode(usec, 52, 4) + "z" + _encode(inode, 51, 0)
    return "%05X%X" % (usec, inode)


class _InodeAllocator:
    """Lowest free 'inode' at or above a per-host base; ids are never reissued.

    ``scan`` gives the inodes of the files in the queue now. It is asked again
    when the search runs long: another process (simlab serve's delivery
    process) may have removed files whose inodes this one still counts as used.
    """

    def __init__(self, base: int, scan: Callable[[], set[int]] | None = None) -> None:
        self.base = base
        self.scan = scan
        self.in_use: set[int] = scan() if scan is not None else set()
        self.issued: set[str] = set()
        self._rescan_at = max(1024, 2 * len(self.in_use))
        # Every inode in [base, _low) is in use: the search starts at _low, so that a
        # queue that keeps its files (no qmgr, a long deferred queue) costs O(1) per id.
        self._low = base

    def take(self, when: float, long_ids: bool) -> str:
        inode = self._low
        if inode - self.base > self._rescan_at and self.scan is not None:
            inode = self._rescan()      # the search from base would have got this far
        in_use = self.in_use
        contiguous = True
        while True:
            if inode not in in_use:
                qid = format_queue_id(when, inode, long_ids)
                if qid not in self.issued:
                    break
                contiguous = False      # free but not usable at this time: stays below _low
            elif contiguous:
                self._low = inode + 1
            inode += 1
            if inode - self.base > self._rescan_at and self.scan is not None:
                inode = self._rescan()
                in_use = self.in_use
                contiguous = True
        in_use.add(inode)
        if contiguous:
            self._low = inode + 1
        self.issued.add(qid)
        return qid

    def _rescan(self) -> int:
        """Ask the queue again which inodes are in use; the search starts over at base."""
        assert self.scan is not None
        self.in_use = self.scan()
        self._rescan_at = max(1024, 2 * len(self.in_use))
        self._low = self.base
        return self.base

    def release(self, inode: int) -> None:
        self.in_use.discard(inode)
        if inode < self._low:
            self._low = inode


# The allocator lives in the context's shared state (a WeakKeyDictionary keyed by the
# context would make a weak reference per lookup: two per message).
_SHARED_KEY = "queueid:allocator"


def _allocator(ctx: Any) -> _InodeAllocator:
    alloc = ctx.shared.get(_SHARED_KEY)
    if alloc is None:
        ref = weakref.ref(ctx)      # the context keeps the allocator: no strong path back from it

        def scan() -> set[int]:
            from .queue import QueueStore
            store = QueueStore(ref())
            found = (id_inode(qid) for queue in QUEUES for qid in store.list(queue))
            return {inode for inode in found if inode is not None}
        base = 0x160000 + zlib.crc32(ctx.hostname.encode()) % 0x1000 * 16 + ctx.shared.get("inode_offset", 0)
        alloc = ctx.shared[_SHARED_KEY] = _InodeAllocator(base, scan)
    return alloc


def new_queue_id(ctx: Any) -> str:
    """A fresh queue id from the clock and the inode allocator (short or long per main.cf)."""
    long_ids = ctx.config.get_bool("enable_long_queue_ids")
    return _allocator(ctx).take(ctx.now(), long_ids)


def release_queue_id(ctx: Any, qid: str) -> None:
    """Give a queue id's inode back (its file is gone, or the transaction was aborted)."""
    inode = id_inode(qid)
    alloc = ctx.shared.get(_SHARED_KEY)
    if alloc is not None and inode is not None:
        alloc.release(inode)
