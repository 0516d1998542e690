"""NAME
    locking - exclusive mailbox locks: a .lock file plus an fcntl lock

SUMMARY
    with mailbox_lock(Path("/root/var/mail/alice"), now=clock()) as fh:
        data = fh.read(); ...
    fd, lock = acquire(path, now); ...; release(fd, lock)      # the same, on a bare descriptor

DESCRIPTION
    Postfix's local(8) and Dovecot both lock an mbox file two ways before
    they touch it (mailbox_delivery_lock = fcntl, dotlock on Linux;
    Dovecot's mbox_write_locks = fcntl dotlock): they create FILE.lock with
    O_EXCL, then take an fcntl write lock on the file itself. Both locks are
    taken without waiting: a held lock raises ``MailboxLockedError`` with
    Postfix's wording, and the caller decides whether to defer or retry
    (Postfix retries deliver_lock_attempts times, deliver_lock_delay apart).

    A .lock file older than stale_lock_time (500 s) is removed, as Postfix
    does, when the caller passes ``now``.

    The file is created (mode 0600) when it does not exist and is handed to
    the caller opened for reading and writing, positioned at the start.

PARAMETERS
    stale_lock_time, mailbox_delivery_lock (the two lock kinds used here).

SEE ALSO
    local(8), postconf(5) mailbox_delivery_lock, dovecot mbox_write_locks
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO, Iterator

from .message import MailboxLockedError

try:
    import fcntl
except ImportError:  # Pyodide and Windows have no fcntl; the .lock file remains
    fcntl = None  # type: ignore[assignment]

STALE_LOCK_TIME = 500.0


def _dotlock(lock: str, now: float | None, stale_lock_time: float) -> None:
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            if now is not None:
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(lock).st_mtime < now - stale_lock_time:
                        os.unlink(lock)
                        continue
            raise MailboxLockedError(f"unable to create lock file {lock}: File exists") from None
        os.close(fd)
        return
    raise MailboxLockedError(f"unable to create lock file {lock}: File exists")


def acquire(path: str | Path, now: float | None = None, *,
            stale_lock_time: float = STALE_LOCK_TIME) -> tuple[int, str]:
    """Take PATH.lock and an fcntl lock on PATH: (descriptor open for r/w, lock file name).

    The directory is created when it is missing. Give both back to release().
    """
    path = os.fspath(path if isinstance(path, Path) else Path(path))
    lock = path + ".lock"
    try:
        _dotlock(lock, now, stale_lock_time)
    except MailboxLockedError:
        raise
    except OSError:
        # a missing directory (rare): create it the way the caller always could, then retry
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        _dotlock(lock, now, stale_lock_time)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except BaseException:
        _unlink(lock)
        raise
    if fcntl is not None:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            release(fd, lock, locked=False)
            raise MailboxLockedError(
                "unable to lock for exclusive access: Resource temporarily unavailable"
            ) from None
    return fd, lock


def release(fd: int, lock: str, *, locked: bool = True) -> None:
    """Drop what acquire() took: the fcntl lock, the descriptor, then the .lock file."""
    try:
        if fcntl is not None and locked:
            with contextlib.suppress(OSError):
                fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)
    finally:
        _unlink(lock)


def _unlink(lock: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock)


@contextlib.contextmanager
def mailbox_lock(
    path: Path, now: float | None = None, *, stale_lock_time: float = STALE_LOCK_TIME
) -> Iterator[BinaryIO]:
    """Hold PATH.lock and an fcntl lock on PATH; yield PATH open for r/w."""
    fd, lock = acquire(path, now, stale_lock_time=stale_lock_time)
    try:
        fh = os.fdopen(fd, "r+b", closefd=False)
    except BaseException:
        release(fd, lock)
        raise
    try:
        yield fh
        fh.flush()
    finally:
        try:
            fh.close()
        finally:
            release(fd, lock)
