"""NAME
    binder - where master(8) opens its listening sockets

SUMMARY
    binder = VirtualBinder(host)                      # the simulated network
    binder = RealBinder(remap={25: ("127.0.0.1", 2525)}) # simlab serve
    handle = await binder.listen(addr, port, factory, component); handle.close()
    handle = await binder.listen_local(path, on_request)   # public/qmgr, public/pickup

DESCRIPTION
    The master is written once; the binder decides what "listen" means.
    On the virtual network it is ``Host.listen`` (addr "*" = every address
    of the host). Under ``simlab serve`` it is ``loop.create_server`` on real
    sockets: "*" becomes the wildcard given to the binder (loopback by
    default), and ``remap`` moves privileged ports (25 -> 2525) as
    ``simlab serve --smtp`` asks; ``offset`` moves every other listener by
    that many ports (``simlab serve --port-offset``: several lab instances,
    or a lab next to one already running, on one machine).

    ``listen_local`` is the public trigger endpoint of a unix/fifo service
    (Postfix's ``public/pickup``, ``public/qmgr``): only real under serve,
    where separate command processes (postqueue -f, sendmail) use it. In a
    simulation those commands find the master in-process.

SEE ALSO
    master(8), simlab.sim.network
"""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path
from typing import Any, Callable

Factory = Callable[[], asyncio.BaseProtocol]
OnRequest = Callable[[bytes], None]


class Handle:
    """A listener that can be closed."""

    def __init__(self, close: Callable[[], None], desc: str) -> None:
        self._close = close
        self.desc = desc
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def __repr__(self) -> str:
        return f"<listener {self.desc}{' closed' if self.closed else ''}>"


class VirtualBinder:
    """Listeners on a simulated Host."""

    real = False

    def __init__(self, host: Any) -> None:
        self.host = host

    async def listen(self, addr: str, port: int, factory: Factory, component: str) -> Handle:
        where = "*" if addr in ("*", "", "0.0.0.0", "::") else addr
        self.host.listen(port, factory, component=component, addr=where)
        return Handle(lambda: self.host.unlisten(port, addr=where), f"{where}:{port}")

    async def listen_local(self, path: Path, on_request: OnRequest) -> Handle | None:
        """No socket here, but its file, as master leaves it in public/ (after a stop too:
        postdrop then finds it and says nothing, where a never-started system has none)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
        except OSError:
            pass
        return None


class _TriggerProtocol(asyncio.Protocol):
    def __init__(self, on_request: OnRequest) -> None:
        self.on_request = on_request
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data

    def eof_received(self) -> bool:
        self.on_request(self.buf)
        return False


class RealBinder:
    """Listeners on real sockets (``simlab serve``)."""

    real = True

    def __init__(self, wildcard: str = "127.0.0.1", remap: dict[int, tuple[str, int]] | None = None,
                 offset: int = 0) -> None:
        self.wildcard = wildcard
        self.remap = dict(remap or {})
        self.offset = offset
        self.bound: list[tuple[str, int]] = []

    async def listen(self, addr: str, port: int, factory: Factory, component: str) -> Handle:
        host = self.wildcard if addr in ("*", "", "0.0.0.0", "::") else addr.strip("[]")
        if port in self.remap:
            host, port = self.remap[port]
        elif self.offset:
            port += self.offset
        loop = asyncio.get_running_loop()
        server = await loop.create_server(factory, host, port, reuse_address=True)
        if server.sockets:
            port = server.sockets[0].getsockname()[1]
        self.bound.append((host, port))
        return Handle(server.close, f"{host}:{port}")

    async def listen_local(self, path: Path, on_request: OnRequest) -> Handle | None:
        if not hasattr(socket, "AF_UNIX") or len(str(path)) > 100:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(lambda: _TriggerProtocol(on_request), str(path))

        def close() -> None:
            server.close()
            try:
                os.unlink(path)
            except OSError:
                pass
        return Handle(close, str(path))


def send_trigger(path: Path, request: bytes) -> bool:
    """Client side of a public trigger socket (a separate command process)."""
    if not hasattr(socket, "AF_UNIX") or not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(path))
            s.sendall(request)
            s.shutdown(socket.SHUT_WR)
        return True
    except OSError:
        return False

