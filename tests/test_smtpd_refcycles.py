"""An smtpd session that has ended is freed by reference counting, not by the cycle collector."""

from __future__ import annotations

import asyncio
import gc
import weakref

from postfix_lab import make_root
from simlab.postfix.common.context import PostfixContext, RealClock, RealNetAccess
from simlab.postfix.config import read_master_cf
from simlab.postfix.smtpd import make_smtpd_protocol


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
