"""NAME
    maildir - the Maildir format, as Postfix local(8) and virtual(8) write it

SUMMARY
    md = Maildir(root / "home/bob/Maildir", hostname="mail.example.com")
    name = md.append(message, "alice@example.com", when)   # tmp/ then new/
    md.messages(); md.set_flags(name, add={"\\\\Seen"}); md.expunge([name])

DESCRIPTION
    A Maildir is a directory with three subdirectories. A delivery agent
    writes the message to tmp/TIME.PPID.HOST, then links it into
    new/TIME.VdevIinoMusec.HOST (dev and inode in hex, the microseconds of
    the delivery time) and removes the tmp/ name, as Postfix's maildir code
    does; there is no From_ line and no quoting. HOST is the simulated
    host's name given to the constructor ("/" and ":" written as \\057 and
    \\072), never the real machine's. With ``counter``, the inode part comes
    from that callable (device 0), so that names are reproducible on the
    virtual network.

    A mail client moves a message to cur/ and appends ":2,FLAGS", the
    flags as ASCII letters in order: D (draft), F (flagged), P (passed),
    R (replied), S (seen), T (trashed). They map to \\Draft, \\Flagged,
    \\Answered, \\Seen and \\Deleted; P has no IMAP flag and is kept.

    The message's modification time is set to the delivery time; it is
    the INTERNALDATE Dovecot reports for Maildir messages.

SEE ALSO
    local(8), virtual(8), maildir(5), https://cr.yp.to/proto/maildir.html
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

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

_LETTERS = {"D": DRAFT, "F": FLAGGED, "R": ANSWERED, "S": SEEN, "T": DELETED}
_FLAG_LETTER = {flag: letter for letter, flag in _LETTERS.items()}


def _safe_host(hostname: str) -> str:
    return hostname.replace("/", "\\057").replace(":", "\\072")


def _split(name: str) -> tuple[str, str]:
    base, _, info = name.partition(":")
    return base, info[2:] if info.startswith("2,") else ""


class Maildir:
    """A Maildir directory (see the module documentation)."""

    def __init__(self, path: str | Path, hostname: str, *,
                 counter: Callable[[], int] | None = None) -> None:
        self.path = Path(path)
        self.hostname = hostname
        self.counter = counter

    def __repr__(self) -> str:
        return f"Maildir({str(self.path)!r}, hostname={self.hostname!r})"

    def create(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def append(self, message: bytes, envelope_sender: str, when: float, *, pid: int = 0,
               fsync: bool = False) -> str:
        """Deliver one message; returns its base name.

        The envelope sender is not stored: Maildir has no From_ line, and the
        Return-Path header is the delivery agent's to add. ``fsync``: flush
        the file in tmp/ before it is linked into new/, as Postfix does.
        """
        self.create()
        seconds = int(when)
        usec = int(round((when - seconds) * 1_000_000)) % 1_000_000
        host = _safe_host(self.hostname)
        tmp = self.path / "tmp" / f"{seconds}.P{pid}.{host}"
        text = message.replace(b"\r\n", b"\n")
        with open(tmp, "wb") as fh:
            fh.write(text)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.utime(tmp, (when, when))
        if self.counter is not None:
            dev, ino = 0, self.counter()
        else:
            st = tmp.stat()
            dev, ino = st.st_dev, st.st_ino
        name = f"{seconds}.V{dev:x}I{ino:x}M{usec}.{host}"
        target = self.path / "new" / name
        if target.exists():
            tmp.unlink()
            raise MailboxError(f"create maildir file {target}: File exists")
        os.link(tmp, target)
        tmp.unlink()
        return name

    def _files(self) -> list[tuple[str, Path]]:
        files: list[tuple[str, Path]] = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            if folder.is_dir():
                files.extend((_split(p.name)[0], p) for p in folder.iterdir()
                             if not p.name.startswith("."))
        return sorted(files, key=lambda item: (item[0].split(".", 1)[0].zfill(12), item[0]))

    def _find(self, key: str) -> Path:
        for base, path in self._files():
            if base == key:
                return path
        raise MailboxError(f"no message {key} in {self.path}")

    def messages(self) -> list[StoredMessage]:
        out = []
        for base, path in self._files():
            data = path.read_bytes()
            letters = _split(path.name)[1]
            flags = frozenset(_LETTERS[ch] for ch in letters if ch in _LETTERS)
            out.append(StoredMessage(base, data, flags, path.stat().st_mtime, rfc822_size(data)))
        return out

    def set_flags(self, key: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        path = self._find(key)
        letters = set(_split(path.name)[1])
        letters |= {_FLAG_LETTER[f] for f in map(canonical_flag, add) if f in _FLAG_LETTER}
        letters -= {_FLAG_LETTER[f] for f in map(canonical_flag, remove) if f in _FLAG_LETTER}
        target = self.path / "cur" / f"{key}:2,{''.join(sorted(letters))}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target != path:
            os.rename(path, target)

    def expunge(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._find(key).unlink()
