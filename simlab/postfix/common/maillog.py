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
    when that parameter is set, recorded in the trace as a ``log`` event
    (details: program, pid, text, line) and passed to every subscriber (the
    ``-v`` echo of ``simlab serve``).

PARAMETERS
    myhostname, syslog_name, maillog_file.

SEE ALSO
    maillog(5), postlogd(8)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .context import PostfixContext


_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_last_stamp: tuple[int, str] = (-1, "")


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
        self._idents: dict[str, str] = {}
        self._file: Path | None = None

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
        self._cfg = cfg

    def host_label(self) -> str:
        self._settings()
        return self._label

    def line(self, program: str, pid: int, text: str) -> str:
        """Log ``text`` as ``program[pid]``; returns the line as written."""
        self._settings()
        if "/" in program:
            full = program
        else:
            full = self._idents.get(program) or self._idents.setdefault(program, ident(self._cfg, program))
        line = f"{stamp(self.ctx.clock.now())} {self._label} {full}[{pid}]: {text}"
        self.lines.append(line)
        self._write(line)
        self.ctx.trace.record(full.rsplit("/", 1)[-1], "log", program=full, pid=pid, text=text, line=line)
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

    def _write(self, line: str) -> None:
        self._settings()
        path = self._file
        if path is None:
            return
        data = (line + "\n").encode("utf-8", "surrogateescape")
        try:
            fd = os.open(path, _APPEND, 0o666)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, _APPEND, 0o666)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
