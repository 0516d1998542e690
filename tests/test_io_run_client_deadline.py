"""run_client's reads share one timer: the same time-outs as one read_within per read."""

from __future__ import annotations

import asyncio

from simlab.io.stream import run_client
from simlab.sim.network import Network


class Core:
    """Sends one line per step, expects one reply line each; records when things happened."""

    def __init__(self, loop, lines, limits):
        self.loop, self.lines, self.limits = loop, list(lines), list(limits)
        self.done = False
        self.got: list[tuple[float, bytes]] = []
        self.timeouts: list[float] = []
        self._out = self.lines.pop(0)

    def data_to_send(self) -> bytes:
        out, self._out = self._out, b""
        return out

    def limit(self) -> float:
        return self.limits.pop(0) if self.limits else 300.0

    def receive_data(self, data: bytes) -> None:
        self.got.append((self.loop.time(), data))
        if self.lines:
            self._out = self.lines.pop(0)
        else:
            self.done = True

    def receive_eof(self) -> None:
        self.done = True

    def receive_timeout(self) -> None:
        self.timeouts.append(self.loop.time())
        self.done = True


def _pair(delays: dict[bytes, float]):
    net = Network(seed=1, latency=0.5)
    srv = net.host("srv.example", ip="10.0.0.2")
    cli = net.host("cli.example", ip="10.0.0.3")

    async def server(reader, writer):
        while line := await reader.readline():
            await asyncio.sleep(delays.get(line.strip(), 0.0))
            writer.write(b"ok " + line)
        writer.close()

    srv.listen_streams(7, server, component="srv")
    return net, cli


def test_reads_with_growing_and_shrinking_limits_then_a_timeout() -> None:
    # connect takes 1 s (one round trip), each reply one more round trip plus the server's delay
    net, cli = _pair({b"b": 5.0, b"c": 20.0})
    loop = net.loop

    async def main():
        reader, writer = await cli.open_connection("10.0.0.2", 7, component="cli")
        core = Core(loop, [b"a\n", b"b\n", b"c\n"], [30.0, 10.0, 8.0])
        await run_client(core, reader, writer, timeout=lambda c: c.limit())
        return core

    core = net.run_sync(main())
    assert [t for t, _ in core.got] == [2.0, 8.0]
    assert core.timeouts == [16.0]          # the third read: 8 s from 8.0, though the server needs 21
    net.run()                               # the server answers "c" to a closed connection
    assert loop.time() == 8.5 + 20.0 + 0.5 and loop._live == 0


def test_the_timer_is_disarmed_when_the_session_ends() -> None:
    net, cli = _pair({})
    loop = net.loop

    async def main():
        reader, writer = await cli.open_connection("10.0.0.2", 7, component="cli")
        core = Core(loop, [b"a\n", b"b\n", b"c\n"], [])
        armed = []
        real_call_later = loop.call_later
        loop.call_later = lambda *a, **k: armed.append(a[1]) or real_call_later(*a, **k)
        try:
            await run_client(core, reader, writer, timeout=300.0)
        finally:
            del loop.call_later
        assert len([cb for cb in armed if getattr(cb, "__name__", "") == "expire"]) == 1   # moved, not re-armed
        return core

    core = net.run_sync(main())
    assert [d for _, d in core.got] == [b"ok a\n", b"ok b\n", b"ok c\n"] and not core.timeouts
    end = net.run()
    assert end < 10.0                       # no 300 s timer left to keep the loop going
    assert loop._live == 0


def test_drain_is_skipped_only_when_it_would_return_at_once() -> None:
    from simlab.io.stream import _drain_waits

    net, cli = _pair({})

    async def main():
        reader, writer = await cli.open_connection("10.0.0.2", 7, component="cli")
        seen = [_drain_waits(writer)]
        writer._protocol.pause_writing()          # a full socket buffer: drain must wait
        seen.append(_drain_waits(writer))
        writer._protocol.resume_writing()
        reader.set_exception(ConnectionResetError())   # drain must raise it
        seen.append(_drain_waits(writer))
        reader._exception = None
        writer.close()                            # drain yields to the loop first
        seen.append(_drain_waits(writer))
        return seen

    assert net.run_sync(main()) == [False, True, True, True]
    net.run()
