"""NAME
    network - simulated hosts joined by links, with DNS, in virtual time

SUMMARY
    net = Network(seed=1)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    mx.listen(25, protocol_factory, component="smtpd")
    reader, writer = await pc.open_connection("10.0.0.25", 25, component="smtp")
    net.run()

DESCRIPTION
    The network owns the virtual-time loop, the trace, the seeded RNG and the
    DNS data. Every pair of hosts is joined by a link with a latency (the
    default, or what ``link()`` set); links and hosts can be taken down and
    brought back, which is how the course stages its faults.

    Connecting costs one round trip. Nothing listening gives
    ``ConnectionRefusedError``; an unreachable host (down, or link down)
    gives ``TimeoutError`` after the connect timeout, in virtual time.
    127.0.0.1, ::1 and ``localhost`` always mean the connecting host itself.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

from ..dns.zone import Zones
from .loop import VirtualLoop
from .trace import Trace
from .transport import Connection, VirtualTransport

T = TypeVar("T")
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
ProtocolFactory = Callable[[], asyncio.BaseProtocol]
StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Listener:
    host: "Host"
    addr: str  # an IP address, or "*" for every address of the host
    port: int
    factory: ProtocolFactory
    component: str


class Network:
    """A virtual network: hosts, links, DNS, a clock and a trace."""

    def __init__(self, seed: int = 0, latency: float = 0.001, workdir: str | Path | None = None,
                 connect_timeout: float = 30.0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.loop = VirtualLoop()
        self.trace = Trace()
        self.dns = Zones(self)
        self._default_latency = latency
        self.connect_timeout = connect_timeout
        self.hosts: dict[str, Host] = {}
        self._by_ip: dict[str, Host] = {}
        self._latency: dict[frozenset[str], float] = {}
        self._links_down: set[frozenset[str]] = set()
        self._listeners: dict[tuple[str, str, int], Listener] = {}
        self._conns: dict[str, Connection] = {}
        self._conn_seq = 0
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="simlab-"))

    # -- building ------------------------------------------------------------------
    def host(self, name: str, ip: str | None = None, *, root: str | Path | None = None,
             dns: bool = True, users: list[str] | tuple[str, ...] | None = None,
             mta: bool = False) -> "Host":
        """Add a host (or return the existing one of that name).

        With ``users`` the host's root is laid out as a Unix machine with those
        accounts (``simlab init``); with ``mta=True`` its Postfix is started.
        """
        if name in self.hosts:
            return self.hosts[name]
        if ip is None:
            ip = f"10.0.0.{len(self.hosts) + 10}"
        ipaddress.ip_address(ip)
        if ip in self._by_ip:
            raise ValueError(f"{ip} already belongs to {self._by_ip[ip].name}")
        h = Host(self, name, ip, Path(root) if root else self.workdir / name)
        self.hosts[name] = h
        self._by_ip[ip] = h
        if dns:
            self.dns.a(name, ip)
        if users is not None or mta:
            from .rootfs import init_root
            init_root(h.root, name, users=list(users or ()))
            h.roles.append("MTA" if mta else "host")
        if mta:
            h.start_postfix()
        return h

    def __getitem__(self, name: str) -> "Host":
        return self.hosts[name]

    @property
    def default_latency(self) -> float:
        """The one-way latency of a pair of hosts ``link()`` did not set."""
        return self._default_latency

    @default_latency.setter
    def default_latency(self, latency: float) -> None:
        self._default_latency = latency
        self._relink()

    def link(self, a: "Host | str", b: "Host | str", latency: float) -> None:
        """Set the one-way latency between two hosts."""
        self._latency[frozenset((_name(a), _name(b)))] = latency
        self._relink()

    def _relink(self) -> None:
        """A latency changed: the open connections send their next chunks with the new one."""
        for conn in self._conns.values():
            conn.relink()

    def link_down(self, a: "Host | str", b: "Host | str") -> None:
        self._links_down.add(frozenset((_name(a), _name(b))))
        self.trace.record(self.loop.time(), _name(a), "network", "link", peer=_name(b), state="down")

    def link_up(self, a: "Host | str", b: "Host | str") -> None:
        self._links_down.discard(frozenset((_name(a), _name(b))))
        self.trace.record(self.loop.time(), _name(a), "network", "link", peer=_name(b), state="up")
        self._wake_all()

    def links_down(self) -> list[tuple[str, str]]:
        """The host pairs whose link is down (``link_down``), each pair sorted, in name order."""
        pairs = [sorted(pair) for pair in self._links_down]
        return sorted((names[0], names[-1]) for names in pairs)

    def latency(self, a: str, b: str) -> float:
        if a == b or not self._latency:     # no pair key to build when no link was set
            return 0.0 if a == b else self._default_latency
        return self._latency.get(frozenset((a, b)), self._default_latency)

    def path_up(self, a: str, b: str) -> bool:
        if not (self.hosts[a].up and self.hosts[b].up):
            return False
        return a == b or not self._links_down or frozenset((a, b)) not in self._links_down

    @property
    def faults(self) -> Any:
        """One call per fault for what-if labs: ``net.faults.host_down(mx)`` (see simlab.sim.faults)."""
        from .faults import faults
        return faults(self)

    def dns_server(self, host: "Host | str", **kw: Any) -> Any:
        """Make ``host`` the network's DNS server: from now on every lookup is a query to it."""
        from ..dns.server import dns_server
        return dns_server(self.hosts[_name(host)], **kw)

    def _wake_all(self) -> None:
        for conn in list(self._conns.values()):
            conn.wake()

    # -- lookups ---------------------------------------------------------------------
    def host_by_ip(self, ip: str) -> "Host | None":
        return self._by_ip.get(ip)

    # -- running ---------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.loop.time()

    def run(self, until: float | None = None) -> float:
        """Run the simulation until it is quiet, or until virtual time ``until``."""
        _recheck_logs()
        return self.loop.run(until)

    def run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one coroutine to completion in virtual time and return its result."""
        _recheck_logs()
        return self.loop.run_until_complete(coro)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Start a coroutine as a task on the virtual loop (it runs on the next ``run``)."""
        return self.loop.create_task(coro, name=name)

    def close(self) -> None:
        """Stop every host's Postfix, then remove the temporary folder if the network made it."""
        for h in self.hosts.values():
            pf = h.services.get("postfix")
            if pf is not None and pf.running:
                self.run_sync(pf.stop())
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- connections (used by Host) ----------------------------------------------------
    def _listener(self, host: "Host", addr: str, port: int) -> Listener | None:
        return self._listeners.get((host.name, addr, port)) or self._listeners.get((host.name, "*", port))

    def _forget(self, conn: Connection) -> None:
        self._conns.pop(conn.id, None)

    async def _connect(self, src: "Host", dest: str, port: int, component: str,
                       factory: ProtocolFactory) -> tuple[VirtualTransport, asyncio.BaseProtocol]:
        loop = self.loop
        if dest in LOOPBACK:
            target, addr = src, ("127.0.0.1" if dest != "::1" else "::1")
        else:
            target = self._by_ip.get(dest) or self.hosts.get(dest)
            addr = target.ip if target is not None else dest
        now = loop._time
        if target is None or not self.path_up(src.name, target.name):
            self.trace.record(now, src.name, component, "timeout", dest=addr, port=port)
            await loop.sleep(self.connect_timeout)
            raise TimeoutError(errno.ETIMEDOUT, "Connection timed out")
        rtt = 2 * self.latency(src.name, target.name)
        listener = self._listener(target, addr, port)
        if listener is None or not target.up:
            await loop.sleep(rtt)
            self.trace.record(loop.time(), src.name, component, "refused", dest=addr, port=port)
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        await loop.sleep(rtt)
        if self._listener(target, addr, port) is not listener or not self.path_up(src.name, target.name):
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        self._conn_seq += 1
        cid = f"c{self._conn_seq}"
        # a host talking to itself uses the address it dialled as its source, as a kernel does
        src_addr = addr if target is src and addr in LOOPBACK else src.ip
        cport = 40000 + self._conn_seq % 20000
        conn = Connection(self, cid, src.name, target.name)
        client = VirtualTransport(conn, "C", src.name, component, (src_addr, cport), (addr, port))
        server = VirtualTransport(conn, "S", target.name, listener.component, (addr, port), (src_addr, cport))
        conn.join(client, server)
        self._conns[cid] = conn
        self.trace.record(loop._time, src.name, component, "connect", conn=cid, client=src.name,
                          server=target.name, client_ip=src_addr, server_ip=addr, port=port,
                          server_component=listener.component)
        server.protocol = sproto = listener.factory()
        client.protocol = cproto = factory()
        sproto.connection_made(server)
        cproto.connection_made(client)
        return client, cproto


class Host:
    """A simulated machine: a name, an address, a root folder laid out like Unix."""

    def __init__(self, net: Network, name: str, ip: str, root: Path) -> None:
        self.net = net
        self.name = name
        self.ip = ip
        self.root = root
        self.up = True
        self.roles: list[str] = []
        self.services: dict[str, Any] = {}
        root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"<Host {self.name} {self.ip}>"

    def path(self, unix_path: str) -> Path:
        """The real file behind a Unix path of this host (``/etc/postfix/main.cf``)."""
        return self.root / unix_path.lstrip("/")

    # -- Postfix and mail -----------------------------------------------------------------
    @property
    def postfix(self) -> Any:
        """This host's Postfix instance (``PostfixSystem``), created on first use."""
        pf = self.services.get("postfix")
        if pf is None:
            from ..postfix.system import PostfixSystem
            pf = PostfixSystem.for_host(self)
        return pf

    def start_postfix(self) -> Any:
        """``postfix start`` on this host (listeners are up when this returns)."""
        pf = self.postfix
        self.net.run_sync(pf.start())
        return pf

    def mailbox(self, user: str) -> list[Any]:
        """The messages in ``/var/mail/USER`` (mbox), as ``email.message.EmailMessage``s."""
        import email
        import email.policy

        from ..store.mbox import Mbox
        box = Mbox(self.path(f"/var/mail/{user}"))
        if not box.exists():
            return []
        return [email.message_from_bytes(m.data, policy=email.policy.default) for m in box.messages()]

    def maillog(self) -> list[str]:
        """This host's maillog lines so far."""
        return self.net.trace.maillog(self.name)

    # -- servers ----------------------------------------------------------------------
    def listen(self, port: int, factory: ProtocolFactory, *, component: str, addr: str = "*") -> Listener:
        """Accept connections on ``addr:port`` with a fresh protocol from ``factory`` each."""
        key = (self.name, addr, port)
        if key in self.net._listeners:
            raise OSError(errno.EADDRINUSE, f"{self.name}: address already in use: {addr}:{port}")
        lst = Listener(self, addr, port, factory, component)
        self.net._listeners[key] = lst
        self.net.trace.record(self.net.now, self.name, component, "listen", addr=addr, port=port)
        return lst

    def listen_streams(self, port: int, handler: StreamHandler, *, component: str, addr: str = "*") -> Listener:
        """Like ``listen`` but calls ``handler(reader, writer)`` as asyncio.start_server does."""
        loop = self.net.loop

        def factory() -> asyncio.BaseProtocol:
            reader = asyncio.StreamReader(loop=loop)
            return asyncio.StreamReaderProtocol(reader, handler, loop=loop)

        return self.listen(port, factory, component=component, addr=addr)

    def unlisten(self, port: int, addr: str = "*") -> None:
        lst = self.net._listeners.pop((self.name, addr, port), None)
        if lst is not None:
            self.net.trace.record(self.net.now, self.name, lst.component, "unlisten", addr=addr, port=port)

    def listening(self) -> list[Listener]:
        return [lst for (h, _, _), lst in self.net._listeners.items() if h == self.name]

    # -- clients ----------------------------------------------------------------------
    async def connect(self, dest: str, port: int, factory: ProtocolFactory, *, component: str):
        """Open a connection with ``factory``'s protocol; returns (transport, protocol)."""
        return await self.net._connect(self, dest, port, component, factory)

    async def open_connection(self, dest: str, port: int, *, component: str,
                              limit: int = 2 ** 16) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """asyncio.open_connection over the virtual network."""
        loop = self.net.loop
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        transport, protocol = await self.connect(
            dest, port, lambda: asyncio.StreamReaderProtocol(reader, loop=loop), component=component)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
        return reader, writer

    # -- faults -----------------------------------------------------------------------
    def crash(self) -> None:
        """The host goes down: its connections reset, its listeners stay registered."""
        self.up = False
        self.net.trace.record(self.net.now, self.name, "host", "host", state="down")
        for conn in list(self.net._conns.values()):
            for end in (conn.client, conn.server):
                if end.host == self.name:
                    end.crash()

    def restart(self) -> None:
        self.up = True
        self.net.trace.record(self.net.now, self.name, "host", "host", state="up")
        self.net._wake_all()


def _name(h: "Host | str") -> str:
    return h if isinstance(h, str) else h.name


def _recheck_logs() -> None:
    """A run starts: the hosts' maillog files are looked at again (removed or rotated meanwhile)."""
    from ..postfix.common.maillog import recheck_files
    recheck_files()
