"""An smtpd session that has ended is freed by reference counting, not by the cycle collector."""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref

from postfix_lab import make_root
from simlab.postfix.common.context import PostfixContext, RealClock
from simlab.postfix.common.netaccess import RealNetAccess
from simlab.postfix.config import read_master_cf
from simlab.postfix.smtpd import SmtpdSession, make_smtpd_protocol
from simlab.postfix.smtpd.restrictions import SmtpdChecks


def _sessions_alive(tmp_path, client_quits: bool) -> list[bool]:
    root = make_root(tmp_path)
    ctx = PostfixContext.create(root, hostname="mail.example.com", clock=RealClock(), net=RealNetAccess())
    svc = next(s for s in read_master_cf(root / "etc/postfix") if s.name == "smtp")
    refs: list[weakref.ref] = []
    alive: list[bool] = []
    inner = make_smtpd_protocol(ctx, svc)

    def factory():
        proto = inner()
        refs.append(weakref.ref(proto))
        return proto

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        cmds = ["EHLO client.example", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>", "DATA",
                "Subject: x\r\n\r\nbody\r\n."] + (["QUIT"] if client_quits else [])
        for cmd in cmds:
            writer.write(cmd.encode() + b"\r\n")
            while (line := await asyncio.wait_for(reader.readline(), 10))[3:4] == b"-":
                pass
        writer.close()
        await asyncio.wait_for(reader.read(), 10)
        for _ in range(20):       # let both ends see connection_lost
            await asyncio.sleep(0.01)
        alive.extend(r() is not None for r in refs)
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    return alive


def test_ended_session_has_no_reference_cycles(tmp_path):
    gc.collect()
    gc.disable()
    try:
        for quits in (True, False):     # the server closes first / the client closes first
            assert _sessions_alive(tmp_path / str(quits), quits) == [False]
    finally:
        gc.enable()


def test_master_served_session_leaves_no_cycles_of_its_own(tmp_path):
    # On the virtual network the transport still refers to its protocol; what the
    # session itself held (master's connection_lost wrapper, aiosmtpd's callback and
    # StreamWriter, the checks) must not be cyclic garbage.
    from postfix_lab import smtp_session
    from simlab.sim.network import Network
    from simlab.sim.rootfs import init_root

    net = Network(seed=1, workdir=tmp_path)
    init_root(tmp_path / "mail.example.com", "mail.example.com", users=["alice"])
    mx = net.host("mail.example.com", ip="10.0.0.25", mta=True)
    lines = ["EHLO pc.example.com", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@mail.example.com>"]
    net.run_sync(smtp_session(mx, lines))       # the first session: daemons start, tables open
    net.run()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        replies = net.run_sync(smtp_session(mx, lines))
        net.run()
        gc.collect()
        sessions = [o for o in gc.garbage if isinstance(o, SmtpdSession)]
        held = [o for o in gc.garbage
                if (isinstance(o, asyncio.StreamWriter) and isinstance(o._protocol, SmtpdSession))
                or (inspect.ismethod(o) and isinstance(o.__self__, SmtpdSession))
                or (inspect.isfunction(o) and o.__name__ == "connection_lost")
                or isinstance(o, SmtpdChecks) and o.s is not None]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert replies[-1] == "250 2.1.5 Ok"
    assert len(sessions) <= 1        # at most through its virtual transport's own cycle
    assert held == []
