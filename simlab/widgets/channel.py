"""NAME
    channel - a line connection for the consoles: a simulated host, or 127.0.0.1

SUMMARY
    ch = VirtualChannel(net, pc, "10.0.0.25", 25); ch.open()
    ch = RealChannel(2525); ch.open()                  # 127.0.0.1:2525 (simlab serve)
    ch.send(b"EHLO me\\r\\n"); ch.read_line(30.0) -> "250-mail.example.com" | None (timeout) | "" (closed)

DESCRIPTION
    ``VirtualChannel`` opens ``host.open_connection`` on the virtual network
    and waits for replies with ``net.run_sync``: waiting costs virtual time,
    not wall time, and the rest of the simulation (qmgr, deliveries) moves on
    while the console waits. ``RealChannel`` talks to a real loopback socket,
    for ``simlab serve``; it refuses any other address.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class VirtualChannel:
    """A connection from ``host`` to ``dest:port`` on the virtual network."""

    def __init__(self, net: Any, host: Any, dest: str, port: int, component: str = "console") -> None:
        self.net = net
        self.host = net.hosts[host] if isinstance(host, str) else host
        self.dest = dest
        self.port = int(port)
        self.component = component
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.eof = False

    @property
    def where(self) -> str:
        return f"{self.dest} port {self.port}"

    def open(self) -> None:
        self.reader, self.writer = self.net.run_sync(
            self.host.open_connection(self.dest, self.port, component=self.component))

    def send(self, data: bytes) -> None:
        if self.writer is None or self.eof or self.writer.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.writer.write(data)

    def read_line(self, timeout: float) -> str | None:
        """The next line without CRLF; None when nothing came within ``timeout``; "" at the end."""
        reader = self.reader
        assert reader is not None

        async def read() -> bytes | None:
            try:
                return await asyncio.wait_for(reader.readline(), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                return None

        raw = self.net.run_sync(read())
        if raw is None:
            return None
        if not raw:
            self.eof = True
            return ""
        return raw.decode("utf-8", "replace").rstrip("\r\n")

    def close(self) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.close()

            async def settle() -> None:
                await asyncio.sleep(0)

            self.net.run_sync(settle())
        self.eof = True


class RealChannel:
    """A TCP connection to this machine (127.0.0.1 or ::1), e.g. to ``simlab serve``."""

    def __init__(self, port: int, addr: str = "127.0.0.1", connect_timeout: float = 5.0) -> None:
        if addr not in LOOPBACK:
            raise ValueError(f"The console only connects to this machine (127.0.0.1 or ::1), not to {addr}.")
        self.addr = "127.0.0.1" if addr == "localhost" else addr
        self.port = int(port)
        self.connect_timeout = connect_timeout
        self.sock: socket.socket | None = None
        self.buf = b""
        self.eof = False

    @property
    def where(self) -> str:
        return f"{self.addr} port {self.port}"

    def open(self) -> None:
        self.sock = socket.create_connection((self.addr, self.port), timeout=self.connect_timeout)

    def send(self, data: bytes) -> None:
        if self.sock is None or self.eof:
            raise ConnectionResetError("the connection is closed")
        self.sock.sendall(data)

    def read_line(self, timeout: float) -> str | None:
        assert self.sock is not None
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                rest, self.buf = self.buf, b""
                return rest.decode("utf-8", "replace").rstrip("\r\n") if rest else ""
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode("utf-8", "replace").rstrip("\r")

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
        self.eof = True
