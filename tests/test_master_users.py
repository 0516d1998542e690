"""master(8) runs each daemon as master.cf's unpriv column says (ps USER column), and a
registered program that raises dies like a command killed by SIGABRT: local(8) and pipe(8)
defer the recipient, log the exception as a warning, and qmgr retries later."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from _queue_lab import install_lab
from simlab import Network
from simlab.postfix.commands_registry import CommandRun, register_command, unregister_command
from simlab.postfix.system import PostfixSystem

RETRY = {"minimal_backoff_time": "100s", "maximal_backoff_time": "400s", "queue_run_delay": "100s"}


def _start(tmp_path: Path, **main_cf: str) -> tuple[Network, PostfixSystem]:
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    install_lab(host.root, **main_cf)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    return net, pf


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Network, PostfixSystem]]:
    net, pf = _start(tmp_path, **RETRY)
    yield net, pf
    net.run_sync(pf.stop())


def send(net: Network, pf: PostfixSystem, *rcpts: str) -> None:
    body = "Subject: users\n\nhello\n"
    assert pf.command("sendmail", "-f", "bob@example.com", *rcpts, stdin=body).rc == 0
    net.run(until=net.now + 1)


def ps_rows(pf: PostfixSystem) -> list[list[str]]:
    lines = pf.ps().splitlines()
    assert lines[0].split() == ["USER", "PID", "STAT", "STARTED", "COMMAND"]
    return [line.split() for line in lines[1:]]


# -- 1. the USER column of the process table --------------------------------------------------
def test_ps_lists_each_daemon_under_the_user_master_cf_gives_it(lab: Any) -> None:
    net, pf = lab
    send(net, pf, "alice@example.com")
    rows = ps_rows(pf)
    by_program = {r[4]: r for r in rows}
    assert by_program["/usr/lib/postfix/sbin/master"][0] == "root"
    for program in ("qmgr", "pickup", "cleanup"):        # unpriv "-"
        assert by_program[program][0] == "postfix", (program, pf.ps())
    assert by_program["local"][0] == "root"                                 # unpriv n
    services = {(s.name, s.type): s for s in pf.ctx.config.services}
    for p in pf.processes():
        assert p.user == ("postfix" if services[(p.service, p.type)].unpriv else "root")
        row = [r for r in rows if r[1] == str(p.pid)]
        assert row and row[0][0] == p.user and " ".join(row[0][4:]) == p.argv


def test_pipe_daemon_is_root_even_with_a_user_attribute_and_mail_owner_is_read(tmp_path: Path) -> None:
    net, pf = _start(tmp_path, mail_owner="mailer")
    try:
        register_command(pf.ctx.root, "/usr/local/bin/lab-pipe", lambda run: 0)
        send(net, pf, "robot@example.com")
        rows = ps_rows(pf)
        pipe = [r for r in rows if r[4] == "pipe"]
        assert pipe and pipe[0][0] == "root"                 # user=nobody is only the child's account
        assert [r[0] for r in rows if r[4] == "qmgr"] == ["mailer"]
    finally:
        unregister_command(pf.ctx.root, "/usr/local/bin/lab-pipe")
        net.run_sync(pf.stop())


def test_long_user_names_are_cut_as_ps_does(tmp_path: Path) -> None:
    net, pf = _start(tmp_path, mail_owner="postfixowner")
    try:
        assert [r[0] for r in ps_rows(pf) if r[4] == "qmgr"] == ["postfix+"]
        assert [p.user for p in pf.processes() if p.command == "qmgr"] == ["postfixowner"]
    finally:
        net.run_sync(pf.stop())


# -- 2. a registered program that raises ------------------------------------------------------
def _boom(run: CommandRun) -> int:
    run.print("starting")
    raise RuntimeError("kaboom")


def _tries(pf: PostfixSystem, rcpt: str) -> list[str]:
    return [ln for ln in pf.ctx.log.lines if f": to=<{rcpt}>" in ln]


def test_alias_program_that_raises_is_deferred_as_killed_by_sigabrt(lab: Any) -> None:
    net, pf = lab
    register_command(pf.ctx.root, "/usr/local/bin/boom", _boom)
    try:
        with open(pf.ctx.root / "etc/aliases", "a") as f:
            f.write('boomer: "|/usr/local/bin/boom"\n')
        assert pf.command("newaliases").rc == 0
        send(net, pf, "boomer@example.com")
        (first,) = _tries(pf, "boomer@example.com")
        assert first.endswith('dsn=4.3.0, status=deferred (Command died with signal 6: '
                              '"/usr/local/bin/boom". Command output: starting )'), first
        pid = first.split("postfix/local[", 1)[1].split("]", 1)[0]
        warnings = [ln for ln in pf.ctx.log.lines if f"postfix/local[{pid}]: warning: " in ln]
        assert any("/usr/local/bin/boom" in ln and "RuntimeError: kaboom" in ln for ln in warnings)
        assert not any("malformed response" in ln for ln in pf.ctx.log.lines)
        assert pf.command("mailq").stdout.count("boomer@example.com") == 1
        net.run(until=net.now + 150)                           # qmgr's deferred scan retries it
        assert len(_tries(pf, "boomer@example.com")) >= 2
        tries = _tries(pf, "boomer@example.com")
        assert all("status=deferred (Command died with signal 6" in ln for ln in tries)
    finally:
        unregister_command(pf.ctx.root, "/usr/local/bin/boom")


def test_pipe_transport_program_that_raises_is_deferred(lab: Any) -> None:
    net, pf = lab
    register_command(pf.ctx.root, "/usr/local/bin/lab-pipe", _boom)
    try:
        send(net, pf, "robot@example.com")
        (line,) = _tries(pf, "robot@example.com")
        assert "relay=labpipe" in line and line.endswith(
            'dsn=4.3.0, status=deferred (Command died with signal 6: "/usr/local/bin/lab-pipe". '
            'Command output: starting )'), line
        pid = line.split("postfix/pipe[", 1)[1].split("]", 1)[0]
        assert any(f"postfix/pipe[{pid}]: warning: /usr/local/bin/lab-pipe: uncaught exception: "
                   "RuntimeError: kaboom" in ln for ln in pf.ctx.log.lines)
        assert not any("malformed response" in ln for ln in pf.ctx.log.lines)
    finally:
        unregister_command(pf.ctx.root, "/usr/local/bin/lab-pipe")
