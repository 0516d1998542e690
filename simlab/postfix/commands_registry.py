"""NAME
    commands_registry - the programs that exist on a simulated host

SUMMARY
    @register_command(host, "/usr/local/bin/lab-pipe")
    def lab_pipe(run: CommandRun) -> int:
        run.path("/var/spool/labpipe/msg.1").write_bytes(run.stdin); return 0
    result = await run_command(ctx, ["/usr/local/bin/lab-pipe", "bob@example.com"], stdin=b"...",
                               user="nobody", time_limit=1000)

DESCRIPTION
    master.cf ``argv=/usr/local/bin/...`` (pipe(8)) and ``|command`` in
    aliases or .forward (local(8)) name executables of the host. A simulated
    host has no executables: a program there is a Python callable registered
    under the host's root and the command's absolute path. The callable gets
    a ``CommandRun`` (argv, stdin bytes, environment, user, the clock, and
    ``path()`` to reach files under the host root), writes what it prints to
    ``run.stdout`` and returns its exit status (None means 0); it may be a
    coroutine function, and then it runs in virtual time.

    A few programs exist on every host: /bin/true, /bin/false, /bin/cat,
    /bin/sh (simlab.sim.shell: a small sh -c that runs the host's programs)
    (and their /usr/bin names), and Postfix's /usr/sbin/sendmail (also
    /usr/lib/sendmail, /usr/bin/sendmail), which submits to the instance
    running on that root. A program runs another one of its host with
    ``await run.call(argv, stdin)`` (a content filter re-injects mail so).

    A registered program that raises an exception has crashed: it ends as
    a process killed by SIGABRT (status -6, what it printed so far is its
    output) and ``CommandResult.crash`` carries the exception text, which
    local(8) and pipe(8) log as a warning. The delivery is then deferred,
    as pipe_command() defers for any command killed by a signal.

    local(8) and pipe(8) both run commands through ``run_command``, so one
    registration serves an alias ``"|/usr/local/bin/x"``, a .forward, a
    mailbox_command and a master.cf ``argv=``.

    ``run_command`` runs a registered callable when there is one. Otherwise,
    under ``simlab serve`` (``real``, the default there) it starts the real executable with
    asyncio.create_subprocess_exec (the command path under the root when that
    file exists, else the path itself); on the virtual network an unknown
    command fails as execvp would: exit status 1 and "execvp ...: No such file
    or directory" on its output. Standard error is merged into the output, as
    Postfix captures it. Under ``simlab serve`` /bin/sh is the real shell
    (unless the host registered its own).

SEE ALSO
    pipe(8), local(8), execvp(3)
"""

from __future__ import annotations

import asyncio
import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Union

CommandFn = Callable[["CommandRun"], Union[int, None, "CommandResult", Awaitable[Any]]]

_REGISTRY: dict[str, dict[str, CommandFn]] = {}
_EVERYWHERE: dict[str, CommandFn] = {}


@dataclass
class CommandRun:
    """What a simulated program sees when it runs."""

    argv: list[str]
    stdin: bytes
    env: dict[str, str]
    user: str
    uid: int
    gid: int
    root: Path
    now: float
    cwd: str = "/"
    stdout: bytearray = field(default_factory=bytearray)

    def path(self, unix_path: str) -> Path:
        """The real file behind a path of the host (relative paths start at cwd)."""
        p = unix_path if unix_path.startswith("/") else os.path.join(self.cwd, unix_path)
        return self.root / p.lstrip("/")

    def print(self, text: str) -> None:
        self.stdout += (text + "\n").encode("utf-8", "surrogateescape")

    async def call(self, argv: list[str], stdin: bytes = b"") -> "CommandResult":
        """Run another program of this host (as the same user, in the same place); never raises.

        A filter script re-injects its message so:
        ``await run.call(["/usr/sbin/sendmail", "-G", "-i", "-f", sender, "--", *rcpts], data)``.
        """
        fn = find_command(self.root, argv[0])
        if fn is None:
            return CommandResult(127, f"{argv[0]}: not found\n".encode("utf-8", "surrogateescape"))
        run = CommandRun(list(argv), stdin, dict(self.env), self.user, self.uid, self.gid, self.root,
                         self.now, self.cwd)
        return await call_program(fn, run)


@dataclass(frozen=True)
class CommandResult:
    status: int                   # exit status; negative = killed by that signal
    output: bytes = b""
    timed_out: bool = False
    crash: str = ""               # the uncaught exception of a registered program that died


SIGABRT = 6


def _root_key(root: Any) -> str:
    path = Path(root) if isinstance(root, (str, Path)) else Path(root.root)
    try:
        return str(path.resolve())
    except OSError:
        return str(path)


def register_command(where: Any, path: str, fn: CommandFn | None = None) -> Any:
    """Make ``path`` an executable of a host (a Host, a PostfixContext or a root folder).

    Usable as a decorator: ``@register_command(host, "/usr/local/bin/x")``.
    """
    if not path.startswith("/"):
        raise ValueError(f"command path must be absolute: {path}")

    def add(f: CommandFn) -> CommandFn:
        _REGISTRY.setdefault(_root_key(where), {})[path] = f
        return f

    return add(fn) if fn is not None else add


def unregister_command(where: Any, path: str) -> None:
    _REGISTRY.get(_root_key(where), {}).pop(path, None)


def find_command(where: Any, path: str) -> CommandFn | None:
    """The callable behind ``path`` on that host, if there is one."""
    return _REGISTRY.get(_root_key(where), {}).get(path) or _EVERYWHERE.get(path)


async def call_program(fn: CommandFn, run: CommandRun) -> CommandResult:
    """Run a registered program to its end (no time limit) and collect its result.

    An uncaught exception kills the program with SIGABRT (see ``crash``).
    """
    try:
        got = fn(run)
        if inspect.isawaitable(got):
            got = await got
    except Exception as exc:  # asyncio.CancelledError (time limit) is not one and passes through
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return CommandResult(-SIGABRT, bytes(run.stdout), crash=f"{run.argv[0]}: uncaught exception: {text}")
    if isinstance(got, CommandResult):
        return got
    return CommandResult(int(got or 0), bytes(run.stdout))


def _true(run: CommandRun) -> int:
    return 0


def _false(run: CommandRun) -> int:
    return 1


def _cat(run: CommandRun) -> int:
    for name in run.argv[1:] or ["-"]:
        if name == "-":
            run.stdout += run.stdin
            continue
        try:
            run.stdout += run.path(name).read_bytes()
        except OSError as e:
            run.print(f"cat: {name}: {e.strerror}")
            return 1
    return 0


SHELLS = ("/bin/sh", "/usr/bin/sh", "/bin/dash", "/usr/bin/dash")
SENDMAILS = ("/usr/sbin/sendmail", "/usr/lib/sendmail", "/usr/bin/sendmail")


def _sendmail(run: CommandRun) -> int:
    """Postfix's sendmail(1) of this host: the running instance of the root when there is one."""
    import io

    from .commands import sendmail
    from .master.registry import find_master
    master = find_master(root=run.root)
    args = run.argv[1:] if master is not None else ["--root", str(run.root), *run.argv[1:]]
    out, err = io.StringIO(), io.StringIO()
    inp = io.TextIOWrapper(io.BytesIO(run.stdin), encoding="utf-8", errors="surrogateescape")
    rc = sendmail.main(args, ctx=master.ctx if master is not None else None, stdin=inp, stdout=out,
                       stderr=err, user=run.user)
    run.stdout += (out.getvalue() + err.getvalue()).encode("utf-8", "surrogateescape")
    return rc


def _sh(run: CommandRun) -> Awaitable[int]:
    from ..sim.shell import sh
    return sh(run)


for _prefix in ("/bin", "/usr/bin"):
    _EVERYWHERE[f"{_prefix}/true"] = _true
    _EVERYWHERE[f"{_prefix}/false"] = _false
    _EVERYWHERE[f"{_prefix}/cat"] = _cat
for _shell in SHELLS:
    _EVERYWHERE[_shell] = _sh
for _path in SENDMAILS:
    _EVERYWHERE[_path] = _sendmail


def is_real(ctx: Any) -> bool:
    """Does ``ctx`` run on real sockets (``simlab serve``) rather than the virtual network?"""
    from .common.netaccess import RealNetAccess
    return isinstance(getattr(ctx, "net", None), RealNetAccess)


async def run_command(ctx: Any, argv: list[str], *, stdin: bytes = b"", user: str = "nobody",
                      uid: int = 65534, gid: int = 65534, env: dict[str, str] | None = None,
                      cwd: str = "/", time_limit: float | None = None, real: bool | None = None,
                      program: str = "pipe") -> CommandResult:
    """Run ``argv`` on the host of ``ctx``; never raises for the command's own failures.

    ``real`` (default: whether ``ctx`` is on real sockets, i.e. ``simlab
    serve``) allows starting an unregistered program as a real process.
    """
    env = dict(env or {})
    if real is None:
        real = is_real(ctx)
    fn = find_command(ctx.root, argv[0])
    if real and fn is _EVERYWHERE.get(argv[0]) and argv[0] in SHELLS:
        fn = None
    if fn is not None:
        run = CommandRun(list(argv), stdin, env, user, uid, gid, Path(ctx.root), ctx.now(), cwd)
        try:
            if time_limit:
                return await asyncio.wait_for(call_program(fn, run), time_limit)
            return await call_program(fn, run)
        except asyncio.TimeoutError:
            return CommandResult(-9, bytes(run.stdout), timed_out=True)
    if real:
        return await _run_real(ctx, argv, stdin, env, cwd, time_limit, program)
    return CommandResult(1, f"{program}: fatal: pipe_command: execvp {argv[0]}: "
                            f"No such file or directory\n".encode())


async def _run_real(ctx: Any, argv: list[str], stdin: bytes, env: dict[str, str], cwd: str,
                    time_limit: float | None, program: str = "pipe") -> CommandResult:
    under_root = ctx.path(argv[0])
    exe = str(under_root) if under_root.exists() else argv[0]
    workdir = ctx.path(cwd) if ctx.path(cwd).is_dir() else None
    try:
        proc = await asyncio.create_subprocess_exec(
            exe, *argv[1:], stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env={"PATH": "/usr/bin:/bin", **env},
            cwd=str(workdir) if workdir else None)
    except OSError as e:
        return CommandResult(1, f"{program}: fatal: pipe_command: execvp {argv[0]}: {e.strerror}\n".encode())
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), time_limit)
    except asyncio.TimeoutError:
        proc.kill()
        out = b""
        await proc.wait()
        return CommandResult(-9, out, timed_out=True)
    return CommandResult(proc.returncode if proc.returncode is not None else 0, out)
