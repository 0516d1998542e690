"""master(8): process table, on-demand start, idle exit in virtual time, services off, reload."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from _queue_lab import install_lab
from simlab import Network
from simlab.postfix.common.queue import QueueFile, QueueStore, Recipient
from simlab.postfix.master import current_process, services, use_service
from simlab.postfix.master.binder import send_trigger
from simlab.postfix.system import PostfixSystem


class Banner(asyncio.Protocol):
    """A stand-in for smtpd: greets with the pid of the process master gave it."""

    def __init__(self) -> None:
        proc = current_process()
        self.pid = proc.pid if proc else 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(f"220 pid {self.pid}\r\n".encode())

    def data_received(self, data: bytes) -> None:
        if b"QUIT" in data:
            self.transport.write(b"221 Bye\r\n")
            self.transport.close()


class Daemon:
    """A stand-in for qmgr/pickup: remembers its wake-up requests."""

    def __init__(self, ctx: Any, svc: Any) -> None:
        self.ctx, self.svc, self.requests = ctx, svc, []
        self.pid = current_process().pid
        self.woken = asyncio.Event()

    async def run(self) -> None:
        wake = asyncio.Event()
        self.ctx.events.subscribe(self.svc.name, lambda r="": (self.requests.append(r), wake.set(),
                                                                self.woken.set()))
        while True:
            await wake.wait()
            wake.clear()


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Network, Any, PostfixSystem]:
    monkeypatch.setitem(services.LISTENERS, "smtpd", lambda ctx, svc: Banner)
    monkeypatch.setitem(services.DAEMONS, "qmgr", Daemon)
    monkeypatch.setitem(services.DAEMONS, "pickup", Daemon)
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    net.host("client.example", ip="10.0.0.30")
    install_lab(host.root)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    yield net, host, pf
    net.run_sync(pf.stop())


async def greet(src: Any, dest: str, port: int) -> str:
    reader, writer = await src.open_connection(dest, port, component="test")
    line = (await reader.readline()).decode().strip()
    writer.write(b"QUIT\r\n")
    await reader.read()
    return line


def test_master_starts_daemons_and_logs_its_banner(lab: Any) -> None:
    net, host, pf = lab
    assert [p.command for p in pf.processes()] == ["pickup", "qmgr"]
    log = net.trace.maillog("mail.example.com")
    assert log[0].endswith("postfix/postfix-script[30200]: starting the Postfix mail system")
    assert log[1] == "Nov 24 13:36:50 mail postfix/master[30201]: daemon started -- version 3.7.11, " \
        "configuration /etc/postfix"
    assert "/usr/lib/postfix/sbin/master -w" in pf.ps() and "qmgr -l -t unix -u" in pf.ps()


def test_smtpd_starts_on_demand_and_exits_when_idle(lab: Any) -> None:
    net, host, pf = lab
    assert net.run_sync(greet(host, "127.0.0.1", 25)) == "220 pid 30204"
    smtpd = [p for p in pf.processes() if p.command == "smtpd"]
    assert len(smtpd) == 1 and smtpd[0].state == "idle" and smtpd[0].clients == 1
    assert net.run_sync(greet(host, "127.0.0.1", 25)) == "220 pid 30204"      # reused while idle
    t0 = net.now
    net.run(until=t0 + 99)
    assert any(p.command == "smtpd" for p in pf.processes())
    net.run(until=t0 + 101)                                                   # max_idle = 100s
    assert not any(p.command == "smtpd" for p in pf.processes())
    exits = net.trace.events(kind="process", event="exit", pid=30204)
    assert exits and exits[0].details["reason"] == "max_idle" and 100 <= exits[0].time - t0 < 101
    assert net.run_sync(greet(host, "127.0.0.1", 25)) == "220 pid 30205"      # a fresh process


def test_loopback_only_listener_refuses_other_hosts(lab: Any) -> None:
    net, host, pf = lab
    with pytest.raises(ConnectionRefusedError):
        net.run_sync(greet(net["client.example"], "10.0.0.25", 25))


def test_a_service_commented_out_is_off(lab: Any) -> None:
    net, host, pf = lab
    assert net.run_sync(greet(host, "127.0.0.1", 2525)).startswith("220")
    mcf = host.root / "etc/postfix/master.cf"
    mcf.write_text(mcf.read_text().replace("127.0.0.1:2525 inet", "#127.0.0.1:2525 inet"))
    net.run_sync(pf.reload())
    with pytest.raises(ConnectionRefusedError):
        net.run_sync(greet(host, "127.0.0.1", 2525))
    assert net.run_sync(greet(host, "127.0.0.1", 25)).startswith("220")
    assert net.trace.maillog()[-1].endswith(
        "postfix/master[30201]: reload -- version 3.7.11, configuration /etc/postfix")


def test_reload_keeps_sessions_and_queued_mail(lab: Any) -> None:
    net, host, pf = lab
    store = QueueStore(pf.ctx)
    store.write("deferred", QueueFile("C086916052C", 1795527573.5, "bob@example.com",
                                      [Recipient("user1@deferred.example")], b"Subject: x\n\nbody\n"))
    old_qmgr = [p.pid for p in pf.processes() if p.command == "qmgr"]

    async def session_across_reload() -> str:
        reader, writer = await host.open_connection("127.0.0.1", 25, component="test")
        await reader.readline()
        await pf.reload()
        writer.write(b"QUIT\r\n")
        return (await reader.readline()).decode().strip()

    assert net.run_sync(session_across_reload()) == "221 Bye"
    assert store.find("C086916052C") == "deferred"
    new_qmgr = [p.pid for p in pf.processes() if p.command == "qmgr"]
    assert new_qmgr and new_qmgr != old_qmgr


def test_process_limit(lab: Any) -> None:
    net, host, pf = lab
    mcf = host.root / "etc/postfix/master.cf"
    mcf.write_text(mcf.read_text().replace("smtp      inet  n       -       n       -       -       smtpd",
                                           "smtp      inet  n       -       n       -       1       smtpd"))
    net.run_sync(pf.reload())

    async def two_at_once() -> list[str]:
        r1, w1 = await host.open_connection("127.0.0.1", 25, component="test")
        r2, w2 = await host.open_connection("127.0.0.1", 25, component="test")
        return [(await r1.readline()).decode().strip(), (await r2.readline()).decode().strip()]

    a, b = net.run_sync(two_at_once())
    assert a == b
    assert any('has reached its process limit "1"' in line for line in net.trace.maillog())


def test_max_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(services.LISTENERS, "smtpd", lambda ctx, svc: Banner)
    monkeypatch.setitem(services.DAEMONS, "qmgr", Daemon)
    monkeypatch.setitem(services.DAEMONS, "pickup", Daemon)
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    install_lab(host.root, max_use="2")
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    pids = [net.run_sync(greet(host, "127.0.0.1", 25)) for _ in range(3)]
    assert pids[0] == pids[1] != pids[2]
    net.run_sync(pf.stop())


def test_triggers_and_status(lab: Any) -> None:
    net, host, pf = lab
    assert pf.command("postqueue", "-f").rc == 0
    qmgr = [p.daemon for p in pf.processes() if p.command == "qmgr"][0]
    net.run(until=net.now + 1)
    assert qmgr.requests[:1] == ["FADI"]
    net.run(until=net.now + 300)
    assert "W" in qmgr.requests                          # master's wakeup every 300s
    res = pf.command("postfix", "status")
    assert res.rc == 0 and res.stderr == "postfix/postfix-script: the Postfix mail system is running: PID: 30201\n"
    with use_service(pf.ctx, "cleanup") as proc:
        assert proc.command == "cleanup" and proc.state == "busy"
    assert any(p.command == "cleanup" and p.state == "idle" for p in pf.processes())


def test_postfix_stop_and_start_from_the_command(lab: Any) -> None:
    net, host, pf = lab
    res = pf.command("postfix", "stop")
    assert res.rc == 0
    net.run(until=net.now + 1)
    assert not pf.running
    with pytest.raises(ConnectionRefusedError):
        net.run_sync(greet(host, "127.0.0.1", 25))
    res = pf.command("postfix", "status")
    assert res.rc == 1 and "is not running" in res.stderr
    assert pf.command("postfix", "start").rc == 0
    net.run(until=net.now + 1)
    assert pf.running and net.run_sync(greet(host, "127.0.0.1", 25)).startswith("220")


def test_postqueue_i_and_s_requeue_deferred_mail(lab: Any) -> None:
    net, host, pf = lab
    store = QueueStore(pf.ctx)
    for qid, rcpt in (("C086916052C", "user1@deferred.example"), ("C11D516053D", "x@other.example")):
        store.write("deferred", QueueFile(qid, 1795527573.5, "bob@example.com", [Recipient(rcpt)], b"x\n"))
    res = pf.command("postqueue", "-s", "other.example")
    assert res.rc == 69 and res.stderr == \
        'postqueue: fatal: Flush service is not configured for destination "other.example"\n'
    assert pf.command("postqueue", "-s", "deferred.example").rc == 0
    assert store.find("C086916052C") == "incoming" and store.find("C11D516053D") == "deferred"
    assert pf.command("postqueue", "-i", "C11D516053D").rc == 0
    assert store.find("C11D516053D") == "incoming"
    net.run(until=net.now + 1)
    qmgr = [p.daemon for p in pf.processes() if p.command == "qmgr"][0]
    assert qmgr.requests == ["I", "I"]
    moves = [(e.details["qid"], e.details["src"], e.details["dst"]) for e in net.trace.events(kind="queue")
             if e.details["action"] == "move"]
    assert moves == [("C086916052C", "deferred", "incoming"), ("C11D516053D", "deferred", "incoming")]


def test_master_on_real_sockets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(services.LISTENERS, "smtpd", lambda ctx, svc: Banner)
    monkeypatch.setitem(services.DAEMONS, "qmgr", Daemon)
    monkeypatch.setitem(services.DAEMONS, "pickup", Daemon)
    root = install_lab(tmp_path / "mail")
    mcf = root / "etc/postfix/master.cf"
    mcf.write_text("\n".join(line for line in mcf.read_text().splitlines()
                             if "inet" not in line or line.startswith("127.0.0.1:2525")))
    pf = PostfixSystem.for_root(root, remap={2525: ("127.0.0.1", 0)})

    async def scenario() -> tuple[str, str]:
        await pf.start()
        port = pf.binder.bound[0][1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        greeting = (await reader.readline()).decode().strip()
        writer.write(b"QUIT\r\n")
        await reader.read()
        writer.close()
        status = pf.command("postfix", "status").stderr
        public = root / "var/spool/postfix/public/qmgr"
        if len(str(public)) <= 100:            # a separate command process reaches qmgr this way
            qmgr = [p.daemon for p in pf.processes() if p.command == "qmgr"][0]
            assert send_trigger(public, b"I")     # completes at once: the kernel buffers it
            await asyncio.wait_for(qmgr.woken.wait(), 5)
            assert qmgr.requests == ["I"]
        await pf.stop()
        return greeting, status

    greeting, status = asyncio.run(scenario())
    assert greeting.startswith("220 pid ")
    assert status.startswith("postfix/postfix-script: the Postfix mail system is running: PID: ")
    assert not (root / "var/spool/postfix/pid/master.pid").exists()
