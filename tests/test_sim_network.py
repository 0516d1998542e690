"""The virtual network: virtual time, ordering, faults, DNS, aiosmtpd over a virtual link."""

from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP

from simlab.dns.resolver import Resolver
from simlab.dns.zone import NoData, NXDomain, ServFail
from simlab.sim.loop import VirtualLoop
from simlab.sim.network import Network


def echo_pair(latency: float = 0.01) -> tuple[Network, object, object]:
    net = Network(seed=3, latency=latency)
    srv = net.host("srv.example", ip="10.0.0.2")
    cli = net.host("cli.example", ip="10.0.0.3")

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(b"echo " + line)
        writer.close()

    srv.listen_streams(7, echo, component="echo")
    return net, srv, cli


def test_loop_sleep_takes_no_wall_time_and_moves_the_clock() -> None:
    loop = VirtualLoop()

    async def nap() -> float:
        await asyncio.sleep(5 * 86400)
        return loop.time()

    assert loop.run_until_complete(nap()) == 5 * 86400


def test_loop_equal_deadlines_run_in_arming_order() -> None:
    loop = VirtualLoop()
    seen: list[int] = []
    for i in range(50):
        loop.call_at(1.0, seen.append, i)
    loop.run()
    assert seen == list(range(50))


def test_loop_runs_inside_a_running_asyncio_loop_like_a_notebook_cell() -> None:
    inner = VirtualLoop()

    async def work() -> float:
        await asyncio.sleep(60)
        return inner.time()

    async def cell() -> tuple[float, bool]:
        outer_task = asyncio.current_task()
        result = inner.run_until_complete(work())
        # the outer loop and its task are restored afterwards
        return result, asyncio.current_task() is outer_task

    assert asyncio.run(cell()) == (60.0, True)


def test_loop_daemon_timers_do_not_keep_run_busy() -> None:
    loop = VirtualLoop()
    ticks: list[float] = []

    async def scanner() -> None:
        while True:
            await loop.sleep(300, daemon=True)
            ticks.append(loop.time())

    loop.create_task(scanner())
    loop.run()
    assert ticks == []
    loop.run(until=1000)
    assert ticks == [300, 600, 900] and loop.time() == 1000


def test_connection_latency_and_order() -> None:
    net, srv, cli = echo_pair(latency=0.05)

    async def talk() -> tuple[list[bytes], float]:
        r, w = await cli.open_connection("10.0.0.2", 7, component="client")
        t0 = net.now
        for i in range(20):
            w.write(b"line %d\n" % i)
        got = [await r.readline() for _ in range(20)]
        w.close()
        return got, net.now - t0

    got, took = net.run_sync(talk())
    assert got == [b"echo line %d\n" % i for i in range(20)]
    assert took == pytest.approx(0.1)  # one round trip


def test_connection_refused_when_nothing_listens() -> None:
    net, srv, cli = echo_pair()

    async def talk() -> None:
        await cli.open_connection("10.0.0.2", 25, component="smtp")

    with pytest.raises(ConnectionRefusedError):
        net.run_sync(talk())
    assert net.trace.events("refused")[0].details["port"] == 25


def test_link_down_times_out_then_heals() -> None:
    net, srv, cli = echo_pair()
    net.link_down(srv, cli)

    async def talk() -> bytes:
        r, w = await cli.open_connection("10.0.0.2", 7, component="client")
        w.write(b"hi\n")
        return await r.readline()

    with pytest.raises(TimeoutError):
        net.run_sync(talk())
    assert net.now == pytest.approx(30.0)
    net.link_up(srv, cli)
    assert net.run_sync(talk()) == b"echo hi\n"


def test_links_down_lists_the_cut_links() -> None:
    net, srv, cli = echo_pair()
    other = net.host("a.example", ip="10.0.0.4")
    assert net.links_down() == []
    net.link_down(srv, cli)
    net.link_down("a.example", srv)
    assert net.links_down() == [("a.example", "srv.example"), ("cli.example", "srv.example")]
    net.link_up(cli, srv)
    assert net.links_down() == [(other.name, "srv.example")]


def test_link_down_holds_data_until_repair() -> None:
    net, srv, cli = echo_pair(latency=0.01)

    async def talk() -> tuple[bytes, float]:
        r, w = await cli.open_connection("10.0.0.2", 7, component="client")
        net.link_down(srv, cli)
        w.write(b"held\n")
        net.loop.call_later(100, net.link_up, srv, cli)
        line = await r.readline()
        return line, net.now

    line, when = net.run_sync(talk())
    assert line == b"echo held\n" and when > 100


def test_host_crash_resets_peer() -> None:
    net, srv, cli = echo_pair()

    async def talk() -> bytes:
        r, w = await cli.open_connection("10.0.0.2", 7, component="client")
        srv.crash()  # the peer learns of it once the host is back and answers with RST
        net.loop.call_later(60, srv.restart)
        return await r.read()

    with pytest.raises(ConnectionResetError):
        net.run_sync(talk())


def test_loopback_address_means_the_host_itself() -> None:
    net, srv, cli = echo_pair()

    async def talk() -> bytes:
        r, w = await srv.open_connection("127.0.0.1", 7, component="client")
        w.write(b"me\n")
        return await r.readline()

    assert net.run_sync(talk()) == b"echo me\n"


def test_dns_mx_order_ties_and_a_fallback() -> None:
    net = Network(seed=7)
    h = net.host("pc.example", ip="10.0.0.9")
    net.dns.mx("example.com", "mx2.example.com", pref=20)
    net.dns.mx("example.com", "mx1.example.com", pref=10)
    net.dns.mx("example.com", "mx1b.example.com", pref=10)
    net.dns.a("plain.example", "10.0.0.77")
    r = Resolver(net, h)
    mx = net.run_sync(r.mx_hosts("example.com"))
    assert [p for p, _ in mx] == [10, 10, 20] and mx[2][1] == "mx2.example.com"
    assert {mx[0][1], mx[1][1]} == {"mx1.example.com", "mx1b.example.com"}
    assert net.run_sync(r.mx_hosts("plain.example")) == [(0, "plain.example")]
    with pytest.raises(NXDomain):
        net.run_sync(r.mx_hosts("nowhere.example"))
    with pytest.raises(NoData):
        net.run_sync(r.addresses("example.com"))
    net.dns.break_zone("example.com")
    with pytest.raises(ServFail):
        net.run_sync(r.mx_hosts("example.com"))
    queries = [(e.details["query"], e.details["qtype"], e.details["rcode"]) for e in net.trace.events("dns")]
    assert ("nowhere.example", "MX", "NXDOMAIN") in queries and queries[-1][2] == "SERVFAIL"


def test_dns_equal_preferences_are_shuffled_by_the_seed() -> None:
    def order(seed: int) -> list[str]:
        net = Network(seed=seed)
        h = net.host("pc.example", ip="10.0.0.9")
        for i in range(6):
            net.dns.mx("example.com", f"mx{i}.example.com", pref=10)
        return [name for _, name in net.run_sync(Resolver(net, h).mx_hosts("example.com"))]

    assert order(1) == order(1)
    assert len({tuple(order(s)) for s in range(6)}) > 1


def smtp_session(seed: int) -> tuple[Network, list[str]]:
    net = Network(seed=seed)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    pc = net.host("pc.example.com", ip="10.0.0.5")
    mx.listen(25, lambda: SMTP(Sink(), hostname="mail.example.com", loop=net.loop), component="smtpd")

    async def client() -> list[str]:
        r, w = await pc.open_connection("10.0.0.25", 25, component="mua")
        out: list[str] = []

        async def reply() -> None:
            while True:
                line = await r.readline()
                out.append(line.decode().rstrip())
                if line[3:4] != b"-":
                    return

        await reply()
        for cmd in ("EHLO pc.example.com", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"):
            w.write(cmd.encode() + b"\r\n")
            await reply()
        w.write(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
        await reply()
        w.write(b"QUIT\r\n")
        await reply()
        w.close()
        return out

    out = net.run_sync(client())
    net.run()
    return net, out


def test_aiosmtpd_runs_unchanged_over_a_virtual_link() -> None:
    net, out = smtp_session(1)
    assert out[0].startswith("220 mail.example.com")
    assert out[-2:] == ["250 OK", "221 Bye"]
    dialog = net.trace.dialog("c1")
    assert ("C", "MAIL FROM:<a@example.com>") in dialog and ("S", "221 Bye") in dialog
    assert not net.loop.exceptions


def test_same_seed_gives_a_byte_identical_trace() -> None:
    a, _ = smtp_session(5)
    b, _ = smtp_session(5)
    assert a.trace.to_jsonl() == b.trace.to_jsonl()


def test_latency_changes_reach_open_connections() -> None:
    # a connection looks its link's latency up once; link() and default_latency must still reach it
    net, srv, cli = echo_pair(latency=0.01)

    async def rtts() -> list[float]:
        reader, writer = await cli.open_connection("10.0.0.2", 7, component="cli")
        out = []
        for change in (None, lambda: setattr(net, "default_latency", 0.5), lambda: net.link(srv, cli, 0.25),
                       lambda: setattr(net, "default_latency", 2.0)):
            if change is not None:
                change()
            start = net.now
            writer.write(b"hi\n")
            assert await reader.readline() == b"echo hi\n"
            out.append(round(net.now - start, 9))
        writer.close()
        return out

    assert net.run_sync(rtts()) == [0.02, 1.0, 0.5, 0.5]
    net.default_latency = 0.125
    assert net.default_latency == 0.125 and net.latency("srv.example", "other") == 0.125
