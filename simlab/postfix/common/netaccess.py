"""NAME
    netaccess - the network of one Postfix instance: simulated, or loopback-only real sockets

SUMMARY
    ctx = PostfixContext.create(root, ..., net=VirtualNetAccess(host))     # simulated host
    ctx = PostfixContext.create(root, ..., net=RealNetAccess(root))        # simlab serve
    reader, writer = await ctx.net.connect(addr, port, component="smtp")
    await ctx.net.resolver.mx_hosts(domain); ctx.net.resolver.reverse(ip)

DESCRIPTION
    A context's ``net`` is how its programs open connections and resolve
    names (NetAccess: ``connect`` and a ``resolver``). VirtualNetAccess is
    one host of the simulated network, with its DNS. RealNetAccess, for
    ``simlab serve``, opens real sockets but only to loopback addresses,
    and its RealResolver answers only from ``localhost``, address literals
    and the host root's /etc/hosts, so neither the lab nor a mistake in
    main.cf sends a packet off the machine. Kept apart from the context,
    which only holds whichever of them the instance was given.

SEE ALSO
    context (the PostfixContext that carries it), smtp(8)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ...sim.network import Host


class NetAccess(Protocol):
    resolver: Any

    async def connect(self, addr: str, port: int,
                      component: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


class VirtualNetAccess:
    """Connections and DNS of one simulated host."""

    def __init__(self, host: "Host") -> None:
        from ...dns.resolver import Resolver
        self.host = host
        self.resolver = Resolver(host.net, host)

    async def connect(self, addr: str, port: int,
                      component: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.host.open_connection(addr, port, component=component)


class RealResolver:
    """Name service for ``simlab serve``: loopback only, never a query off the machine.

    The lab must not send a packet anywhere but 127.0.0.1/::1 (and neither may
    a student's mistake in main.cf), so names resolve only from ``localhost``,
    address literals and the host root's /etc/hosts; anything else is "host not
    found", which Postfix turns into a bounce or a deferral as it would for a
    real DNS failure.
    """

    LOCAL_NAMES = {"127.0.0.1": "localhost", "::1": "localhost"}

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def _hosts(self) -> dict[str, list[str]]:
        table: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}
        if self.root is not None:
            try:
                text = (self.root / "etc/hosts").read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            for line in text.splitlines():
                fields = line.split("#", 1)[0].split()
                for name in fields[1:]:
                    if is_loopback(fields[0]):
                        table.setdefault(name.lower(), []).append(fields[0])
        return table

    async def addresses(self, name: str, component: str | None = None) -> list[str]:
        from ...dns.zone import NXDomain
        n = name.rstrip(".").lower()
        if is_loopback(n):
            return [n]
        found = self._hosts().get(n)
        if not found:
            raise NXDomain(f"Host or domain name not found. Name service error for name={n} type=A: Host not found")
        return found

    async def mx_hosts(self, domain: str, component: str | None = None) -> list[tuple[int, str]]:
        await self.addresses(domain)
        return [(0, domain.rstrip(".").lower())]

    def reverse(self, ip: str) -> str | None:
        return self.LOCAL_NAMES.get(ip)


def is_loopback(addr: str) -> bool:
    import ipaddress
    try:
        return ipaddress.ip_address(addr.strip("[]")).is_loopback
    except ValueError:
        return False


class RealNetAccess:
    """Real sockets for ``simlab serve``, to loopback addresses only."""

    def __init__(self, root: Path | None = None) -> None:
        self.resolver = RealResolver(root)

    async def connect(self, addr: str, port: int,
                      component: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        import errno
        if not is_loopback(addr):
            raise OSError(errno.ENETUNREACH, "Network is unreachable")
        return await asyncio.open_connection(addr, port)
