"""NAME
    cmdutil - what every Postfix administration command shares

SUMMARY
    cmd = Command("postsuper", argv, ctx=None)      # takes --root ROOT out of argv
    opts, args = cmd.getopt("c:d:h:H:r:e:psv")
    cmd.ctx; cmd.store; cmd.warn("..."); cmd.fatal("...", 1)

DESCRIPTION
    A command either runs against a live instance (``ctx=`` the context of a
    running PostfixSystem: virtual clock, simulated pids, trace, wake-ups) or
    as a separate program on a host root on disk (``--root ROOT``: the
    configuration is ROOT/etc/postfix or ``-c DIR``; absolute paths resolve
    under ROOT; the process id is the real one). Without ``--root`` the root
    is ``/``, as for the real Postfix.

    Options are parsed like Postfix's GETOPT (POSIX: options stop at the
    first non-option). Diagnostics go to stderr prefixed with the program
    name (``postsuper: warning: ...``), and -- for the programs that log --
    to the maillog as ``postfix/PROGRAM[PID]``.

SEE ALSO
    postconf(5), master(8)
"""

from __future__ import annotations

import getopt
import os
import sys
from pathlib import Path
from typing import Any, TextIO


def printable(message: str) -> str:
    """msg(3) output passes printable(): each byte outside printable ASCII becomes '?'."""
    data = message.encode("utf-8", "surrogateescape")
    if all(0x20 <= b < 0x7f for b in data):
        return message
    return "".join(chr(b) if 0x20 <= b < 0x7f else "?" for b in data)


class CommandExit(Exception):
    """Raised by ``fatal``: the command ends with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def split_root(argv: list[str]) -> tuple[str | None, list[str]]:
    """Take ``--root ROOT`` / ``--root=ROOT`` out of ``argv``."""
    out: list[str] = []
    root = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
            i += 2
            continue
        if a.startswith("--root="):
            root = a.split("=", 1)[1]
        elif a == "--":
            out.extend(argv[i:])
            break
        else:
            out.append(a)
        i += 1
    return root, out


def root_hostname(root: Path) -> str:
    """The machine's name: ROOT/etc/hostname (what ``simlab init`` wrote)."""
    for rel in ("etc/hostname", "etc/mailname"):
        try:
            name = (root / rel).read_text().strip()
        except OSError:
            continue
        if name:
            return name
    return "localhost"


def load_context(root: str | Path, config_dir: str | None = None, warn: Any = None) -> Any:
    """A PostfixContext for a root on disk (wall clock, no trace)."""
    from ..common.context import PostfixContext, RealClock
    from ..config import HostFacts, load_config
    rootp = Path(root)
    hostname = root_hostname(rootp)
    if config_dir is None:
        cdir, shown = rootp / "etc" / "postfix", "/etc/postfix"
    else:
        cdir, shown = Path(config_dir), config_dir
        if cdir.is_absolute() and str(rootp) != "/":
            cdir = rootp / str(cdir).lstrip("/")
    kwargs: dict[str, Any] = {"facts": HostFacts(hostname=hostname), "display_dir": shown}
    if warn is not None:
        kwargs["warn"] = warn
    config = load_config(cdir, **kwargs)
    return PostfixContext(root=rootp, hostname=hostname, config=config, clock=RealClock())


class Command:
    """One invocation of a Postfix command."""

    def __init__(self, prog: str, argv: list[str], *, ctx: Any = None, stdin: Any = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None, logs: bool = False) -> None:
        self.prog = prog
        self.root, self.argv = split_root(list(argv))
        self._ctx = ctx
        self.stdin = stdin if stdin is not None else sys.stdin
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.logs = logs
        self.config_dir: str | None = None
        self._pid: int | None = None
        self.verbose = 0

    # -- options ------------------------------------------------------------------------
    def getopt(self, spec: str, usage: str, usage_code: int = 1,
               log_usage: bool = False) -> tuple[list[tuple[str, str]], list[str]]:
        """Parse options; a bad one is reported on stderr, and in the maillog only with
        ``log_usage`` (most commands open the maillog after reading main.cf, which comes
        after option parsing: ``postsuper -x`` logs nothing, sendmail does)."""
        try:
            opts, args = getopt.getopt(self.argv, spec)
        except getopt.GetoptError as e:
            if e.opt and "requires argument" in e.msg:
                self.err(f"option requires an argument -- '{e.opt}'")
            else:
                self.err(f"invalid option -- '{e.opt}'")
            if log_usage:
                self.fatal(usage, usage_code)
            self.err("fatal: " + usage)
            raise CommandExit(usage_code)
        for o, v in opts:
            if o == "-c":
                self.config_dir = v
        return opts, args

    # -- the instance -------------------------------------------------------------------
    @property
    def ctx(self) -> Any:
        if self._ctx is None:
            self._ctx = load_context(self.root or "/", self.config_dir)
        return self._ctx

    @property
    def store(self) -> Any:
        from ..common.queue import QueueStore
        return QueueStore(self.ctx)

    @property
    def pid(self) -> int:
        if self._pid is None:
            self._pid = self.ctx.pids.next() if self.root is None and self._ctx is not None else os.getpid()
        return self._pid

    # -- output -------------------------------------------------------------------------
    def out(self, text: str) -> None:
        self.stdout.write(text)

    def err(self, text: str) -> None:
        self.stderr.write(f"{self.prog}: {text}\n")

    def log(self, text: str) -> None:
        """stderr and (for programs that log) the maillog, sanitized like msg(3) does."""
        text = printable(text)
        self.err(text)
        if self.logs:
            try:
                self.ctx.log.line(self.prog, self.pid, text)
            except Exception:  # a broken main.cf must not hide the message itself
                pass

    def warn(self, text: str) -> None:
        self.log("warning: " + text)

    def fatal(self, text: str, code: int = 1) -> None:
        self.log("fatal: " + text)
        raise CommandExit(code)

    def run(self, body: Any) -> int:
        """Call ``body()`` and turn CommandExit into an exit code."""
        from ..config import ConfigError
        try:
            return int(body() or 0)
        except CommandExit as e:
            return e.code
        except ConfigError as e:         # main.cf or master.cf is broken: Postfix's fatal text
            self.err(f"fatal: {e}")
            return 1
        except BrokenPipeError:
            return 0
