"""A finished virtual connection is freed by reference counting, not left to the cycle collector."""

from __future__ import annotations

import asyncio
import gc

from simlab.sim.network import Network
from simlab.sim.transport import Connection, VirtualTransport, _Pipe

from test_sim_network import echo_pair


def _alive() -> int:
    return sum(1 for o in gc.get_objects() if type(o) in (Connection, VirtualTransport, _Pipe))


def test_closed_connections_leave_no_reference_cycles() -> None:
    net, _srv, cli = echo_pair()

    async def one() -> bytes:
        reader, writer = await cli.open_connection("10.0.0.2", 7, component="cli")
        writer.write(b"hi\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return line

    assert net.run_sync(one()) == b"echo hi\n"   # warm up
    net.run()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = _alive()
        for _ in range(5):
            assert net.run_sync(one()) == b"echo hi\n"
        net.run()
        assert _alive() == before
        assert not net._conns
    finally:
        if was_enabled:
            gc.enable()


def test_a_lost_transport_forgets_its_protocol_as_asyncio_does() -> None:
    net = Network(seed=3, latency=0.01)
    srv = net.host("srv.example", ip="10.0.0.2")
    cli = net.host("cli.example", ip="10.0.0.3")
    srv.listen(7, asyncio.Protocol, component="null")

    async def one() -> VirtualTransport:
        transport, protocol = await cli.connect("10.0.0.2", 7, asyncio.Protocol, component="cli")
        assert transport.get_protocol() is protocol
        transport.close()
        await asyncio.sleep(1)
        return transport

    t = net.run_sync(one())
    assert t.get_protocol() is None and t.is_closing()
    t.write(b"ignored")          # a write after close is still a no-op
    t.abort()
    t.close()
