"""NAME
    server - a DNS server node on the virtual network (the lab's named)

SUMMARY
    dns = DnsServer(net.host("ns.example.net", ip="10.0.0.53")).start()   # every resolver uses it
    dns.stop()                     # resolvers go back to reading the zones directly
    DnsServer(host).start(default=False)    # listening, but only Resolver(server=...) asks it

DESCRIPTION
    A host that answers DNS questions over the virtual network, on port 53,
    from the network's zones (``net.dns``: A, MX, CNAME, PTR, TXT). Each
    question is a real request and answer on a connection (simlab.dns.wire),
    so the trace, the sequence diagrams and the replay show them. A
    connection may carry several questions; the server answers each in turn
    and closes when the client does.

    Answers: NOERROR with the records (CNAMEs followed), NOERROR with none
    ("no data": the name exists without that type), NXDOMAIN (no such
    name) and SERVFAIL for a name in a broken zone (``net.dns.break_zone``,
    the course's "DNS failure"). When the server's host is down or cut off,
    clients get no answer at all and their resolver times out
    (simlab.dns.resolver), which Postfix logs as "Host not found, try again".

    ``start()`` makes this server the network's: from then on every
    ``Resolver`` of every host asks it over the network (and caches the
    answers for their TTL) instead of reading the zones directly, which
    stays the default without a server.

SEE ALSO
    named(8), RFC 1034, RFC 1035, simlab.dns.wire, simlab.dns.resolver, simlab.dns.zone
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .wire import parse_query, reply_lines
from .zone import DNSError, NoData, Record, Zones

if TYPE_CHECKING:
    from ..sim.network import Host

PORT = 53


class DnsServer:
    """The DNS server of a simulated host (see the module documentation)."""

    def __init__(self, host: "Host", zones: Zones | None = None, *, port: int = PORT,
                 component: str = "dns") -> None:
        self.host = host
        self.net = host.net
        self.zones = zones if zones is not None else host.net.dns
        self.port = port
        self.component = component
        self.running = False
        self.queries: list[tuple[float, str, str, str]] = []   # (time, name, type, rcode)

    def __repr__(self) -> str:
        return f"<DnsServer {self.host.name}:{self.port}>"

    @property
    def ip(self) -> str:
        return self.host.ip

    # -- life cycle -------------------------------------------------------------------------
    def start(self, default: bool = True) -> "DnsServer":
        """Listen on port 53; with ``default`` every resolver of the network uses this server."""
        if not self.running:
            self.host.listen_streams(self.port, self._serve, component=self.component)
            if "DNS" not in self.host.roles:
                self.host.roles.append("DNS")
            self.host.services["dns"] = self
            self.running = True
        if default:
            self.zones.server = self
        return self

    def stop(self) -> None:
        if self.running:
            self.host.unlisten(self.port)
            self.running = False
        if self.zones.server is self:
            self.zones.server = None

    def reachable_from(self, host: "Host") -> bool:
        """Would a query from ``host`` get an answer now? (up, connected, listening)."""
        return (self.running and self.net.path_up(host.name, self.host.name)
                and any(lst.port == self.port for lst in self.host.listening()))

    # -- answering ------------------------------------------------------------------------
    def answer(self, name: str, rtype: str) -> tuple[str, list[Record]]:
        """(rcode, records) for one question."""
        try:
            records = self.zones.answer(name, rtype)
        except NoData:
            rcode, records = "NOERROR", []
        except DNSError as e:
            rcode, records = e.rcode, []
        else:
            rcode = "NOERROR"
        self.queries.append((self.net.now, name, rtype, rcode))
        return rcode, records

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    qid, name, rtype = parse_query(line.decode("utf-8", "replace").strip())
                except ValueError:
                    writer.write(reply_lines(0, "FORMERR", []))
                    continue
                rcode, records = self.answer(name, rtype)
                writer.write(reply_lines(qid, rcode, records))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()      # no await here: a coroutine being discarded must not wait


def dns_server(host: "Host", **options: Any) -> DnsServer:
    """Start a DNS server on ``host`` and make it the network's (``net.dns_server(host)``)."""
    existing = host.services.get("dns")
    if isinstance(existing, DnsServer):
        return existing.start()
    return DnsServer(host, **options).start()
