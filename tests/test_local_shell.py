"""/bin/sh -c on simulated hosts (simlab.sim.shell) and local(8) commands that need a shell."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from _delivery_lab import deliver_now, lab, maillog, postalias, read, stop
from simlab.postfix.commands_registry import CommandRun, register_command, run_command, unregister_command

MSG = (b"From: <bob@example.com>\nTo: <x@example.com>\nSubject: test\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <t@client.example>\n\nbody line\n")


class Ctx:
    def __init__(self, root: Path) -> None:
        self.root = root

    def now(self) -> float:
        return 1795527000.0

    def path(self, unix_path: str) -> Path:
        return self.root / unix_path.lstrip("/")


@pytest.fixture
def host(tmp_path: Path) -> Any:
    root = tmp_path / "host"
    (root / "var/tmp").mkdir(parents=True)
    seen: list[list[str]] = []

    def args(run: CommandRun) -> int:
        seen.append(list(run.argv))
        run.print(" ".join(f"<{a}>" for a in run.argv[1:]))
        return int(run.env.get("STATUS", "0"))

    def upper(run: CommandRun) -> int:
        run.stdout += run.stdin.upper()
        return 0

    register_command(root, "/usr/local/bin/args", args)
    register_command(root, "/usr/bin/upper", upper)

    def sh(script: str, stdin: bytes = b"", env: dict[str, str] | None = None, real: bool = False) -> Any:
        return asyncio.run(run_command(Ctx(root), ["/bin/sh", "-c", script], stdin=stdin,
                                       env=env or {}, real=real))

    yield root, sh, seen
    unregister_command(root, "/usr/local/bin/args")
    unregister_command(root, "/usr/bin/upper")


def test_shell_quoting_variables_and_field_splitting(host: Any) -> None:
    _, sh, seen = host
    env = {"SENDER": "bob@example.com", "TWO": "a  b", "EMPTY": ""}
    r = sh("""args -f "$SENDER" '$SENDER' ${SENDER}x \\$SENDER $TWO "$TWO" $EMPTY "$EMPTY" $UNSET""", env=env)
    assert r.status == 0
    assert seen[-1][1:] == ["-f", "bob@example.com", "$SENDER", "bob@example.comx", "$SENDER",
                            "a", "b", "a  b", ""]
    assert sh("args one # two three").output == b"<one>\n"
    assert sh("X=1; args $X; Y=2 args $Y; args $Y").output == b"<1>\n\n\n"


def test_shell_lists_status_and_path_search(host: Any) -> None:
    _, sh, seen = host
    r = sh("STATUS=3 args a; args b")
    assert (r.status, r.output) == (0, b"<a>\n<b>\n")
    assert sh("STATUS=3 args a").status == 3
    assert sh("false && args no; args $?").output == b"<1>\n"
    assert sh("false || args yes").output == b"<yes>\n"
    assert sh("exit 4; args never").status == 4
    assert sh("! false").status == 0
    assert sh("echo hi there").output == b"hi there\n"
    assert sh("PATH=/nowhere; args x").output == b"sh: 1: args: not found\n"


def test_shell_pipes_and_redirection(host: Any) -> None:
    root, sh, _ = host
    r = sh("cat | upper | cat", stdin=b"mail body\n")
    assert (r.status, r.output) == (0, b"MAIL BODY\n")
    assert sh("upper > /var/tmp/out; args done >> /var/tmp/out", stdin=b"x\n").output == b""
    assert (root / "var/tmp/out").read_bytes() == b"X\n<done>\n"
    assert sh("cd /var/tmp && cat < out | upper >> log; cat log").output == b"X\n<DONE>\n"
    r = sh("args x > /no/such/dir/f")
    assert (r.status, r.output) == (2, b"sh: 1: cannot create /no/such/dir/f: Directory nonexistent\n")
    assert sh("args x 2>&1").output == b"<x>\n"


def test_shell_unknown_programs_and_syntax_errors(host: Any) -> None:
    _, sh, _ = host
    r = sh("args a\nupper | nosuch -x")
    assert (r.status, r.output) == (127, b"<a>\nsh: 2: nosuch: not found\n")
    assert sh("nosuch | upper").status == 0                 # a pipeline's status is its last command's
    assert sh("/usr/lib/nosuch").output == b"sh: 1: /usr/lib/nosuch: not found\n"
    for script, text in (("args 'open", "Unterminated quoted string"), ("| args", '"|" unexpected'),
                         ("args |", "end of file unexpected"), ("args $(date)", "command substitution")):
        r = sh(script)
        assert r.status == 2 and r.output.startswith(b"sh: 1: Syntax error: " + text.encode()), r


def test_shell_is_the_real_one_under_serve(host: Any) -> None:
    _, sh, _ = host
    assert sh('echo "$(echo hi)"', real=True).output == b"hi\n"
    assert sh('echo "$(echo hi)"').status == 2


# -- local(8) ------------------------------------------------------------------------------------
@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    c = lab(tmp_path)
    yield c
    stop(c)


def aliases(ctx: Any, text: str) -> None:
    with open(ctx.path("/etc/aliases"), "a") as f:
        f.write(text)
    postalias(ctx.root, "hash:/etc/aliases")


def local_lines(ctx: Any) -> list[str]:
    return [re.sub(r"^.*\]: \w+: ", "", ln) for ln in maillog(ctx, "local")]


def test_local_alias_command_with_shell_syntax(ctx: Any) -> None:
    aliases(ctx, 'saved: "|/bin/cat >> /var/spool/labfiles/saved.txt; echo $RECIPIENT > /var/spool/labfiles/who"\n'
                 'broken: "|/bin/cat | nosuch-filter -q"\n')
    deliver_now(ctx, "bob@example.com", ["saved@example.com", "broken@example.com"], MSG)
    lines = local_lines(ctx)
    saved = next(ln for ln in lines if ln.startswith("to=<saved@"))
    broken = next(ln for ln in lines if ln.startswith("to=<broken@"))
    assert saved.endswith('status=sent (delivered to command: /bin/cat >> /var/spool/labfiles/saved.txt; '
                             'echo $RECIPIENT > /var/spool/labfiles/who)')
    assert read(ctx, "/var/spool/labfiles/saved.txt").startswith("From bob@example.com  ")
    assert read(ctx, "/var/spool/labfiles/who") == "saved@example.com\n"
    assert broken.endswith('dsn=5.3.0, status=bounced (Command died with status 127: "/bin/cat | '
                             'nosuch-filter -q". Command output: sh: 1: nosuch-filter: not found )')


def test_local_command_environment(ctx: Any) -> None:
    seen: dict[str, str] = {}
    register_command(ctx, "/usr/local/bin/envdump", lambda run: seen.update(run.env) or 0)
    try:
        ctx.config = ctx.config.clone(mailbox_command="/usr/local/bin/envdump")
        deliver_now(ctx, "bob@example.com", ["alice+list@example.com"], MSG)
    finally:
        unregister_command(ctx, "/usr/local/bin/envdump")
    assert local_lines(ctx)[0].endswith("status=sent (delivered to command: /usr/local/bin/envdump)")
    mine = {k: seen[k] for k in ("SENDER", "RECIPIENT", "USER", "LOGNAME", "LOCAL", "DOMAIN", "EXTENSION",
                                 "HOME", "ORIGINAL_RECIPIENT")}
    assert mine == {"SENDER": "bob@example.com", "RECIPIENT": "alice+list@example.com", "USER": "alice",
                    "LOGNAME": "alice", "LOCAL": "alice+list", "DOMAIN": "example.com", "EXTENSION": "list",
                    "HOME": "/home/alice", "ORIGINAL_RECIPIENT": "alice+list@example.com"}
    assert "SHELL" in seen and "PATH" not in seen
