"""NAME
    maillog - Postfix's log line format, to the maillog file and the trace

SUMMARY
    ctx.log.line("smtpd", 30259, "connect from localhost[127.0.0.1]")
    -> "Nov 24 13:36:55 mail postfix/smtpd[30259]: connect from localhost[127.0.0.1]"
    ctx.log.warning("postfix/outside/smtpd", pid, "...")   # "...: warning: ..."

DESCRIPTION
    A line is: time stamp (``%b %d %H:%M:%S``, UTC, the time zone of every
    simulated host), the host label (the first label of ``myhostname``), the
    syslog ident ``syslog_name/program`` with the process id, and the text.

    ``program`` may be a bare program name ("smtpd": the ident becomes
    ``$syslog_name/smtpd``, so pass the service's ``syslog_name`` through
    ``ident()`` when a master.cf entry overrides it) or a full ident
    ("postfix/outside/smtpd", used as is).

    Each line is appended to ``maillog_file`` (resolved under the host root)
    when that parameter is set: as by postlogd(8), through one descriptor
    kept open (O_APPEND), opened again when the parameter changes or the
    file was removed or renamed (log rotation: noticed within
    RECHECK_SECONDS of wall-clock time, not per line); ``close()`` lets it go
    (master stop). The line is also recorded in the trace as a ``log``
    event (details: program, pid, text, line) and passed to every
    subscriber (the ``-v`` echo of ``simlab serve``).

PARAMETERS
    myhostname, syslog_name, maillog_file.

SEE ALSO
    maillog(5), postlogd(8)
"""

from __future__ import annotations

import os
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .context import PostfixContext


_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_last_stamp: tuple[int, str] = (-1, "")


_CONTROLS = {c: "?" for c in (*range(32), 127)}


def stamp(epoch: float) -> str:
    """The syslog time stamp of ``epoch`` ("Nov 24 13:36:55")."""
    global _last_stamp
    sec = int(epoch)
    if _last_stamp[0] != sec:
        _last_stamp = (sec, time.strftime("%b %d %H:%M:%S", time.gmtime(sec)))
    return _last_stamp[1]


def ident(config: Any, program: str) -> str:
    """``syslog_name/program`` for a (possibly per-service) configuration."""
    try:
        name = config["syslog_name"] or "postfix"
    except KeyError:
        name = "postfix"
    return f"{name}/{program}"


class MailLog:
    """The maillog of one Postfix instance."""

    def __init__(self, ctx: "PostfixContext") -> None:
        self.ctx = ctx
        self.lines: list[str] = []
        self._subs: list[Callable[[str], None]] = []
        # What one configuration says (host label, idents, log file); rebuilt when ctx.config is replaced.
        self._cfg: Any = None
        self._label = ""
        # program -> (ident, trace component, " label ident[")
        self._idents: dict[str, tuple[str, str, str]] = {}
        self._file: Path | None = None
        self._path = ""                 # str(self._file), for the per-line stat
        self._out = _LogFile()
        self._closer = weakref.finalize(self, self._out.close)

    def subscribe(self, fn: Callable[[str], None]) -> Callable[[], None]:
        self._subs.append(fn)
        return lambda: self._subs.remove(fn) if fn in self._subs else None

    def _settings(self) -> None:
        cfg = self.ctx.config
        if cfg is self._cfg:
            return
        try:
            name = cfg["myhostname"] or self.ctx.hostname
        except KeyError:
            name = self.ctx.hostname
        try:
            target = cfg["maillog_file"]
        except KeyError:
            target = ""
        self._label = name.split(".", 1)[0]
        self._idents = {}
        self._file = self.ctx.path(target) if target else None
        path = str(self._file) if self._file is not None else ""
        if path != self._path:
            self._out.close()
            self._path = path
        self._cfg = cfg

    def host_label(self) -> str:
        self._settings()
        return self._label

    def line(self, program: str, pid: int, text: str) -> str:
        """Log ``text`` as ``program[pid]``; returns the line as written."""
        ctx = self.ctx
        if ctx.config is not self._cfg:
            self._settings()
        known = self._idents.get(program)
        if known is None:
            full = program if "/" in program else ident(self._cfg, program)
            known = self._idents[program] = (full, full.rsplit("/", 1)[-1], f" {self._label} {full}[")
        now = int(ctx.clock.now())
        when = _last_stamp[1] if _last_stamp[0] == now else stamp(now)
        if not text.isprintable():
            text = text.translate(_CONTROLS)      # msg_vprintf(): printable(text, '?')
        line = f"{when}{known[2]}{pid}]: {text}"
        self.lines.append(line)
        if self._path:
            self._out.append(self._path, (line + "\n").encode("utf-8", "surrogateescape"))
        ctx.trace.record(known[1], "log", program=known[0], pid=pid, text=text, line=line)
        if self._subs:
            for fn in list(self._subs):
                fn(line)
        return line

    info = line

    def warning(self, program: str, pid: int, text: str) -> str:
        return self.line(program, pid, "warning: " + text)

    def error(self, program: str, pid: int, text: str) -> str:
        return self.line(program, pid, "error: " + text)

    def fatal(self, program: str, pid: int, text: str) -> str:
        return self.line(program, pid, "fatal: " + text)

    def panic(self, program: str, pid: int, text: str) -> str:
        return self.line(program, pid, "panic: " + text)

    def close(self) -> None:
        """Let the log file go (master stop); the next line opens it again."""
        self._out.close()


# The descriptors open now, oldest first: beyond _MAX_OPEN the oldest is closed (its
# next line opens it again), so contexts waiting for the garbage collector hold few.
_MAX_OPEN = 64
_OPEN: dict[int, "_LogFile"] = {}


# How long a descriptor is used before the file's name is looked at again (wall-clock
# seconds). postlogd(8) keeps its descriptor until reload; simlab also notices a removed or
# renamed (rotated) file by itself, within this time instead of with a stat per line.
RECHECK_SECONDS = 0.01
_monotonic = time.monotonic


def recheck_files() -> None:
    """Look at every log file's name again at its next line (a simulation run starts:
    a notebook cell may have removed or rotated the file since the last one)."""
    for out in _OPEN.values():
        out.check_at = 0.0


class _LogFile:
    """One append-only descriptor, re-opened when its file is no longer the one at ``path``."""

    def __init__(self) -> None:
        self.fd = -1
        self.ident: tuple[int, int] = (0, 0)
        self.check_at = 0.0

    def append(self, path: str, data: bytes) -> None:
        if self.fd >= 0:
            now = _monotonic()
            if now >= self.check_at:
                self.check_at = now + RECHECK_SECONDS
                try:
                    st = os.stat(path)
                except OSError:
                    self.close()
                else:
                    if (st.st_ino, st.st_dev) != self.ident:
                        self.close()
        if self.fd < 0:
            self._open(path)
        os.write(self.fd, data)

    def _open(self, path: str) -> None:
        try:
            fd = os.open(path, _APPEND, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, _APPEND, 0o666)
        st = os.fstat(fd)
        self.fd, self.ident = fd, (st.st_ino, st.st_dev)
        self.check_at = _monotonic() + RECHECK_SECONDS
        while len(_OPEN) >= _MAX_OPEN:
            _OPEN[next(iter(_OPEN))].close()
        _OPEN[id(self)] = self

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            _OPEN.pop(id(self), None)
            os.close(fd)
