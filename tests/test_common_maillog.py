"""PostfixContext basics and the maillog line format."""

from __future__ import annotations

from simlab.postfix.common.context import (EventBus, HostTrace, PidAllocator, PidPool, PostfixContext,
                                           VirtualClock, read_passwd)
from simlab.sim.loop import VirtualLoop
from simlab.sim.trace import Trace


class Cfg(dict):
    def get_list(self, name):
        return self.get(name, "").replace(",", " ").split()


def make(tmp_path, **cfg):
    loop = VirtualLoop()
    trace = Trace()
    base = {"myhostname": "mail.example.com", "syslog_name": "postfix", "maillog_file": "/var/log/postfix.log"}
    base.update(cfg)
    ctx = PostfixContext(root=tmp_path, hostname="mail.example.com", config=Cfg(base),
                         clock=VirtualClock(loop, 1793786150.0), trace=HostTrace(trace, "mail.example.com", loop.time))
    return ctx, trace


def test_common_maillog_line_format_file_and_trace(tmp_path):
    ctx, trace = make(tmp_path)
    line = ctx.log.line("smtpd", 30259, "connect from localhost[127.0.0.1]")
    assert line == "Nov 04 09:55:50 mail postfix/smtpd[30259]: connect from localhost[127.0.0.1]"
    assert ctx.log.warning("postfix/outside/smtpd", 7, "x").endswith(" mail postfix/outside/smtpd[7]: warning: x")
    assert (tmp_path / "var/log/postfix.log").read_text().splitlines() == [line, ctx.log.lines[1]]
    [ev, _] = trace.events("log")
    assert (ev.host, ev.component, ev.details["program"], ev.details["pid"]) == \
        ("mail.example.com", "smtpd", "postfix/smtpd", 30259)
    assert ev.details["text"] == "connect from localhost[127.0.0.1]" and ev.details["line"] == line


def test_common_maillog_without_file(tmp_path):
    ctx, _ = make(tmp_path, maillog_file="", syslog_name="postfix/submission", myhostname="mx1.example.org")
    assert ctx.log.line("smtpd", 1, "hi").endswith(" mx1 postfix/submission/smtpd[1]: hi")
    assert not (tmp_path / "var/log").exists()


def test_common_context_paths_passwd_and_pids(tmp_path):
    ctx, _ = make(tmp_path)
    assert ctx.path("/etc/passwd") == tmp_path / "etc/passwd"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nbad line\n"
                                         "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n")
    users = ctx.passwd()
    assert sorted(users) == ["alice", "root"] and users["alice"].home == "/home/alice"
    assert read_passwd(tmp_path / "nope") == {}
    pids = PidAllocator(100)
    pool = PidPool(pids)
    a, b = pool.take(), pool.take()
    pool.give(a)
    assert (a, b, pool.take(), pool.take()) == (100, 101, 100, 102)
    assert ctx.pid_pool("cleanup") is ctx.pid_pool("cleanup")


def test_common_event_bus_and_virtual_clock(tmp_path):
    bus = EventBus()
    seen = []
    stop = bus.subscribe("qmgr", lambda *a: seen.append(a))
    assert bus.wakeup("qmgr", "I") == 1 and seen == [("I",)]
    stop()
    assert bus.wakeup("qmgr") == 0
    loop = VirtualLoop()
    clock = VirtualClock(loop, 1000.0)
    loop.run_until_complete(clock.sleep(30))
    assert clock.now() == 1030.0


def _later(monkeypatch, seconds: float) -> None:
    """Move maillog's wall clock on by ``seconds`` (its check of the file's name is timed)."""
    import simlab.postfix.common.maillog as maillog
    now = maillog._monotonic() + seconds
    monkeypatch.setattr(maillog, "_monotonic", lambda: now)


def test_common_maillog_removed_file_is_recreated(tmp_path, monkeypatch):
    from simlab.postfix.common.maillog import RECHECK_SECONDS
    ctx, _ = make(tmp_path)
    log = tmp_path / "var/log/postfix.log"
    ctx.log.line("smtpd", 1, "first")
    log.unlink()
    _later(monkeypatch, RECHECK_SECONDS)
    second = ctx.log.line("smtpd", 1, "second")
    assert log.read_text().splitlines() == [second]


def test_common_maillog_rotated_file_gets_a_new_one(tmp_path, monkeypatch):
    from simlab.postfix.common.maillog import RECHECK_SECONDS
    ctx, _ = make(tmp_path)
    log = tmp_path / "var/log/postfix.log"
    first = ctx.log.line("smtpd", 1, "first")
    log.rename(tmp_path / "var/log/postfix.log.1")
    _later(monkeypatch, RECHECK_SECONDS)
    second = ctx.log.line("smtpd", 1, "second")
    assert (tmp_path / "var/log/postfix.log.1").read_text().splitlines() == [first]
    assert log.read_text().splitlines() == [second]


def test_common_maillog_close_and_changed_file_name(tmp_path):
    ctx, _ = make(tmp_path)
    log = tmp_path / "var/log/postfix.log"
    ctx.log.line("smtpd", 1, "first")
    ctx.log.close()             # master stop: the next line opens the file again, whatever time it is
    log.unlink()
    second = ctx.log.line("smtpd", 1, "second")
    assert log.read_text().splitlines() == [second]
    ctx.config = Cfg(dict(ctx.config, maillog_file="/var/log/other.log"))
    third = ctx.log.line("smtpd", 1, "third")
    assert (tmp_path / "var/log/other.log").read_text().splitlines() == [third]


def test_common_maillog_removed_between_two_runs_loses_no_line(tmp_path):
    """A notebook cell removes the log, the next cell runs at once: the new lines are in a new file."""
    from simlab.sim.network import Network
    net = Network(seed=1, workdir=str(tmp_path))
    mx = net.host("mail.example.com", ip="10.0.0.25", mta=True)
    pc = net.host("pc.example.com", ip="10.0.0.5")
    log = mx.path("/var/log/mail.log")

    async def connect_and_quit() -> None:
        r, w = await pc.open_connection("10.0.0.25", 25, component="test")
        await r.readline()
        w.write(b"QUIT\r\n")
        await r.readline()
        w.close()
    net.run_sync(connect_and_quit())
    net.run()
    assert "connect from" in log.read_text()
    log.unlink()                                  # well within the wall-clock recheck interval
    net.run_sync(connect_and_quit())
    net.run()
    assert "connect from pc.example.com" in log.read_text()
    net.close()
