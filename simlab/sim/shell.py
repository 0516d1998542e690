"""NAME
    shell - /bin/sh -c on a simulated host

SUMMARY
    register_command(host, "/bin/sh", sh)         # done once for every host (commands_registry)
    result = await run_command(ctx, ["/bin/sh", "-c", 'deliver -f "$SENDER" | tee -a /tmp/log'])

DESCRIPTION
    A simulated host has no real shell, yet Postfix hands every command
    with shell metacharacters to ``/bin/sh -c`` (local(8) mailbox_command,
    "|command" aliases and .forward lines). This is a small, well-defined
    POSIX-sh subset that runs the host's registered programs:

      words        separated by blanks; '...' keeps everything literally,
                   "..." keeps blanks and expands $VAR, ${VAR}, $?; a
                   backslash quotes the next character (in "..." only
                   before $ ` " \\ and newline); # starts a comment
      expansion    $NAME, ${NAME}, $? (status of the last command), $0..$9
                   (sh -c SCRIPT NAME ARG...);
                   unset names expand to nothing; unquoted expansions are
                   split at blanks (no pathname expansion)
      assignments  NAME=value before a command (its environment only), or
                   alone (a shell variable); export NAME[=value]
      lists        a ; b, a NEWLINE b, a && b, a || b, ! pipeline
      pipes        a | b | c: each program reads what the previous one wrote
      redirection  >FILE, >>FILE, <FILE (paths under the host root,
                   relative ones from the working directory), 2>&1 and >&2
                   (stderr is the same stream as stdout here, as in the
                   output that Postfix captures)
      builtins     : true false echo exit export cd exec

    Programs are looked up as dash does: a name with a "/" as is, else in
    $PATH (default /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin).
    An unknown program is ``sh: 1: NAME: not found`` with status 127; a
    syntax error is ``sh: 1: Syntax error: ...`` with status 2; a file that
    cannot be created ``sh: 1: cannot create F: Directory nonexistent``
    (status 2). The exit status is the last command's. Backquotes, $(...),
    subshells, "&", here-documents and control structures (if, for, case)
    are not part of this subset: they are reported as syntax errors.

SEE ALSO
    sh(1) (dash), local(8) "EXTERNAL COMMAND DELIVERY", simlab.postfix.commands_registry
"""

from __future__ import annotations

import os
import re
from typing import Any

from .shparse import Command, Pipeline, ShellError, Word, parse

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")


# -- execution ---------------------------------------------------------------------------
class Shell:
    """One ``sh -c SCRIPT`` run: variables, the status, the shell's own messages."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.vars = dict(run.env)
        self.exported = set(run.env)
        self.status = 0
        self.cwd = run.cwd
        self.line = 1
        self.stop: int | None = None      # set by exit and exec: the script ends here

    def msg(self, line: int, text: str) -> None:
        self.run.stdout += f"sh: {line}: {text}\n".encode("utf-8", "surrogateescape")

    def lookup(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        return self.vars.get(name, "")

    def expand(self, word: Word) -> list[str]:
        """Parameter expansion and field splitting of one word."""
        fields: list[str] = []
        cur = ""
        have = False        # the current field exists ("" makes an empty one)
        for kind, text in word.parts:
            if kind != "var":
                cur += self.lookup(text) if kind == "qvar" else text
                have = True
                continue
            for j, piece in enumerate(re.split(r"[ \t\n]+", self.lookup(text))):
                if j > 0 and have:
                    fields.append(cur)
                    cur, have = "", False
                if piece:
                    cur, have = cur + piece, True
        if have:
            fields.append(cur)
        return fields

    def expand_one(self, word: Word) -> str:
        fields = self.expand(word)
        if len(fields) != 1:
            raise _RedirectError(word.line, f"{''.join(t for _, t in word.parts)}: ambiguous redirect")
        return fields[0]

    def path(self, name: str) -> Any:
        p = name if name.startswith("/") else os.path.normpath(os.path.join(self.cwd, name))
        return self.run.root / p.lstrip("/")

    async def script(self, text: str) -> int:
        try:
            program = parse(text)
        except ShellError as e:
            self.msg(1, f"Syntax error: {e}")
            return 2
        for connector, pipe in program:
            if connector == "&&" and self.status != 0 or connector == "||" and self.status == 0:
                continue
            self.status = await self.pipeline(pipe)
            if self.stop is not None:
                return self.stop
        return self.status

    async def pipeline(self, pipe: Pipeline) -> int:
        data = self.run.stdin
        status = 0
        for i, cmd in enumerate(pipe.commands):
            last = i == len(pipe.commands) - 1
            status, out = await self.command(cmd, data, piped=not last)
            data = out
        if pipe.negate:
            status = 0 if status else 1
        return status

    async def command(self, cmd: Command, stdin: bytes, piped: bool) -> tuple[int, bytes]:
        """(status, what it wrote when its output goes down a pipe)."""
        env_extra: dict[str, str] = {}
        argv: list[str] = []
        for word in cmd.words:
            lit_prefix = ""
            for kind, text in word.parts:
                if kind != "lit":
                    break
                lit_prefix += text
            m = _ASSIGN.match(lit_prefix)
            if not argv and m:
                value = Word(_drop_prefix(word.parts, len(m.group(0))), word.line)
                env_extra[m.group(1)] = "".join(self.expand(value))
                continue
            argv.extend(self.expand(word))
        try:
            out_file, append, stdin = self.redirections(cmd, stdin)
        except _RedirectError as e:
            self.msg(e.line, e.text)
            return 2, b""
        sink = bytearray()
        self.line = cmd.line
        if not argv:
            self.vars.update(env_extra)
            status = self.status
        else:
            status = await self.execute(cmd.line, argv, env_extra, stdin, sink)
        if out_file is not None:
            with open(out_file, "ab" if append else "wb") as f:
                f.write(sink)
            return status, b""
        if piped:
            return status, bytes(sink)
        self.run.stdout += sink
        return status, b""

    def redirections(self, cmd: Command, stdin: bytes) -> tuple[Any, bool, bytes]:
        out_file, append = None, False
        for r in cmd.redirects:
            if r.op == "dup":
                continue
            assert r.target is not None
            name = self.expand_one(r.target)
            real = self.path(name)
            if r.op == "<":
                try:
                    stdin = real.read_bytes()
                except OSError:
                    raise _RedirectError(cmd.line, f"cannot open {name}: No such file") from None
                continue
            if not real.parent.is_dir():
                raise _RedirectError(cmd.line, f"cannot create {name}: Directory nonexistent")
            if real.is_dir():
                raise _RedirectError(cmd.line, f"cannot create {name}: Is a directory")
            if r.op == ">":
                real.write_bytes(b"")
            else:
                real.touch()
            out_file, append = real, True
        return out_file, append, stdin

    async def execute(self, line: int, argv: list[str], env_extra: dict[str, str], stdin: bytes,
                      sink: bytearray) -> int:
        name = argv[0]
        builtin = _BUILTINS.get(name)
        if builtin is not None:
            return builtin(self, argv, sink)
        if name == "exec":
            status = await self.execute(line, argv[1:], env_extra, stdin, sink) if len(argv) > 1 else 0
            if len(argv) > 1:
                self.stop = status
            return status
        from ..postfix.commands_registry import CommandResult, CommandRun, call_program, find_command
        path = self.which(name)
        fn = find_command(self.run.root, path) if path else None
        if fn is None:
            self.msg(line, f"{name}: not found")
            return 127
        env = {k: v for k, v in self.vars.items() if k in self.exported}
        env.update(env_extra)
        run = CommandRun(list(argv), stdin, env, self.run.user, self.run.uid, self.run.gid,
                         self.run.root, self.run.now, self.cwd)
        result: CommandResult = await call_program(fn, run)
        sink += result.output
        return result.status & 0xFF if result.status >= 0 else 128 - result.status

    def which(self, name: str) -> str | None:
        from ..postfix.commands_registry import find_command
        if "/" in name:
            return name if name.startswith("/") else os.path.normpath(os.path.join(self.cwd, name))
        for d in (self.vars.get("PATH") or DEFAULT_PATH).split(":"):
            candidate = f"{(d or '.').rstrip('/')}/{name}"
            if find_command(self.run.root, candidate) is not None:
                return candidate
        return None


class _RedirectError(Exception):
    def __init__(self, line: int, text: str) -> None:
        self.line, self.text = line, text


def _drop_prefix(parts: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    """The word's parts without its first n literal characters (the NAME= of an assignment)."""
    out: list[tuple[str, str]] = []
    for kind, text in parts:
        if n > 0:
            take = min(n, len(text))
            n -= take
            text = text[take:]
            if not text:
                continue
        out.append((kind, text))
    if not out:
        out.append(("qlit", ""))
    return out


# -- builtins ---------------------------------------------------------------------------------
def _true(sh: Shell, argv: list[str], sink: bytearray) -> int:
    return 0


def _false(sh: Shell, argv: list[str], sink: bytearray) -> int:
    return 1


def _echo(sh: Shell, argv: list[str], sink: bytearray) -> int:
    args = argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    text = " ".join(args)
    stop = text.find("\\c")
    if stop >= 0:
        text, newline = text[:stop], False
    for esc, ch in (("\\\\", "\0"), ("\\n", "\n"), ("\\t", "\t"), ("\\r", "\r"), ("\0", "\\")):
        text = text.replace(esc, ch)
    sink += (text + ("\n" if newline else "")).encode("utf-8", "surrogateescape")
    return 0


def _exit(sh: Shell, argv: list[str], sink: bytearray) -> int:
    if len(argv) > 1:
        if not (argv[1].isascii() and argv[1].isdigit()):
            sh.msg(sh.line, f"exit: Illegal number: {argv[1]}")
            sh.stop = 2
        else:
            sh.stop = int(argv[1]) & 0xFF
    else:
        sh.stop = sh.status
    return sh.stop


def _export(sh: Shell, argv: list[str], sink: bytearray) -> int:
    for arg in argv[1:]:
        name, eq, value = arg.partition("=")
        if eq:
            sh.vars[name] = value
        sh.exported.add(name)
    return 0


def _cd(sh: Shell, argv: list[str], sink: bytearray) -> int:
    target = argv[1] if len(argv) > 1 else sh.vars.get("HOME", "/")
    new = target if target.startswith("/") else os.path.normpath(os.path.join(sh.cwd, target))
    if not sh.path(new).is_dir():
        sh.msg(sh.line, f"cd: can't cd to {target}")
        return 2
    sh.cwd = new
    return 0


_BUILTINS = {":": _true, "true": _true, "false": _false, "echo": _echo, "exit": _exit,
             "export": _export, "cd": _cd}


async def sh(run: Any) -> int:
    """The /bin/sh program: ``sh -c SCRIPT [NAME [ARG...]]``."""
    args = run.argv[1:]
    if not args or args[0] != "-c":
        run.stdout += b"sh: only sh -c SCRIPT is supported on a simulated host\n"
        return 2
    if len(args) < 2:
        run.stdout += b"sh: 0: -c requires an argument\n"
        return 2
    shell = Shell(run)
    for i, value in enumerate(args[2:]):
        shell.vars[str(i)] = value         # $0 is NAME, $1... the arguments
    return await shell.script(args[1])
