"""NAME
    resolver - DNS lookups of one host, in virtual time, all in the trace

SUMMARY
    r = Resolver(net, host)
    await r.mx_hosts("example.com")   # [(10, "mail.example.com"), ...] or A fallback
    await r.addresses("mail.example.com")
    r.lookup("example.com", "MX")     # at once, no time spent (smtpd's restrictions)

DESCRIPTION
    A stub resolver. Every answer is recorded as a ``dns`` trace event with
    the records or the error code. ``mx_hosts`` returns MX exchanges sorted
    by preference with equal preferences shuffled by the network's seeded
    RNG (as Postfix's smtp client does), or the domain itself as an implicit
    MX when it has an A record but no MX (RFC 5321 section 5.1).

    Without a DNS server node (the default) a query costs ``rtt`` and reads
    the network's zones directly.

    Once a DNS server runs (simlab.dns.server; ``net.dns.server``, or
    ``server=`` for this resolver only) each query is a request and answer
    on a connection to it, port 53, and the answer is kept in the host's
    cache until its TTL runs out in virtual time (the smallest TTL of the
    records; ``negative_ttl`` for NXDOMAIN and "no data"; SERVFAIL is not
    kept). A cached answer costs no time and its trace event says
    ``cache="hit"`` with the seconds it has left. A question that gets no
    answer within ``timeout`` seconds is asked again, ``attempts`` times in
    all (resolv.conf's timeout:5 attempts:2); then the lookup fails as a
    temporary error (SERVFAIL), which Postfix logs as "Host or domain name
    not found. Name service error for name=... type=...: Host not found,
    try again".

    ``lookup`` and ``reverse`` answer at once (no virtual time passes):
    from the cache, else from the server when it can be reached, else with
    SERVFAIL.

SEE ALSO
    resolv.conf(5), RFC 2308 (negative caching), simlab.dns.server, simlab.dns.wire
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .wire import ReplyReader, dns_error, query_line
from .zone import DNSError, NoData, Record, ServFail, canon

if TYPE_CHECKING:
    from ..sim.network import Host, Network


@dataclass
class CacheEntry:
    expires: float
    rcode: str
    records: tuple[Record, ...]


class Cache:
    """One host's answers, until their TTL expires: (name, type) -> CacheEntry."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], CacheEntry] = {}

    def get(self, name: str, rtype: str, now: float) -> CacheEntry | None:
        key = (canon(name), rtype)
        entry = self.entries.get(key)
        if entry is not None and entry.expires <= now:
            del self.entries[key]
            return None
        return entry

    def put(self, name: str, rtype: str, entry: CacheEntry) -> None:
        self.entries[(canon(name), rtype)] = entry

    def clear(self) -> None:
        self.entries.clear()


class Resolver:
    """The DNS client of one host."""

    def __init__(self, net: "Network", host: "Host", component: str = "resolver", rtt: float = 0.002,
                 *, server: Any = None, timeout: float = 5.0, attempts: int = 2,
                 negative_ttl: float = 300.0) -> None:
        self.net = net
        self.host = host
        self.component = component
        self.rtt = rtt
        self._server = server
        self.timeout = timeout
        self.attempts = attempts
        self.negative_ttl = negative_ttl
        self._qid = 0

    @property
    def server(self) -> Any:
        """The DNS server asked over the network, or None (read the zones directly)."""
        return self._server if self._server is not None else getattr(self.net.dns, "server", None)

    @property
    def cache(self) -> Cache:
        caches = getattr(self.net.dns, "caches", None)
        if caches is None:
            caches = self.net.dns.caches = {}
        cache = caches.get(self.host.name)
        if cache is None:
            cache = caches[self.host.name] = Cache()
        return cache

    # -- trace -----------------------------------------------------------------------------
    def _record(self, comp: str, name: str, rtype: str, rcode: str,
                records: tuple[Record, ...] | list[Record], **extra: Any) -> None:
        self.net.trace.record(self.net.now, self.host.name, comp, "dns", query=name, qtype=rtype,
                              rcode=rcode, answer=[str(r) for r in records], **extra)

    def _result(self, comp: str, name: str, rtype: str, entry: CacheEntry, **extra: Any) -> list[Record]:
        self._record(comp, name, rtype, entry.rcode, entry.records, **extra)
        if entry.rcode != "NOERROR" or not entry.records:
            raise dns_error(entry.rcode, name, rtype)
        return list(entry.records)

    def _cached(self, comp: str, name: str, rtype: str) -> list[Record] | None:
        entry = self.cache.get(name, rtype, self.net.now)
        if entry is None:
            return None
        return self._result(comp, name, rtype, entry, cache="hit",
                            ttl=int(entry.expires - self.net.now))

    def _store(self, name: str, rtype: str, rcode: str, records: tuple[Record, ...]) -> CacheEntry:
        if rcode == "NOERROR" and records:
            ttl: float = min(r.ttl for r in records)
        elif rcode in ("NOERROR", "NXDOMAIN"):
            ttl = self.negative_ttl
        else:
            ttl = 0
        entry = CacheEntry(self.net.now + ttl, rcode, records)
        if ttl > 0:
            self.cache.put(name, rtype, entry)
        return entry

    # -- lookups -----------------------------------------------------------------------------
    def lookup(self, name: str, rtype: str, component: str | None = None) -> list[Record]:
        """Answer immediately (no virtual-time cost) but still record the query."""
        comp = component or self.component
        srv = self.server
        if srv is None:
            try:
                recs = self.net.dns.answer(name, rtype)
            except DNSError as e:
                self._record(comp, name, rtype, e.rcode, [])
                raise
            self._record(comp, name, rtype, "NOERROR", recs)
            return recs
        hit = self._cached(comp, name, rtype)
        if hit is not None:
            return hit
        if not srv.reachable_from(self.host):
            self._record(comp, name, rtype, "SERVFAIL", [], server=srv.ip, timeout=True)
            raise ServFail(f"Host or domain name lookup failed: {canon(name)}: timed out")
        rcode, recs = srv.answer(name, rtype)
        return self._result(comp, name, rtype, self._store(name, rtype, rcode, tuple(recs)),
                            server=srv.ip)

    async def _ask(self, srv: Any, name: str, rtype: str) -> tuple[str, tuple[Record, ...]]:
        self._qid += 1
        qid = self._qid
        reader, writer = await self.host.open_connection(srv.ip, srv.port, component=self.component)
        try:
            writer.write(query_line(qid, name, rtype))
            parser = ReplyReader()
            while True:
                data = await reader.read(4096)
                if not data:
                    raise ConnectionResetError("DNS server closed the connection")
                for reply in parser.feed(data):
                    if reply.qid == qid:
                        return reply.rcode, reply.records
        finally:
            writer.close()      # no await here: a cancelled or discarded query must not wait

    async def query(self, name: str, rtype: str, component: str | None = None) -> list[Record]:
        srv = self.server
        if srv is None:
            await self.net.loop.sleep(self.rtt)
            return self.lookup(name, rtype, component)
        comp = component or self.component
        hit = self._cached(comp, name, rtype)
        if hit is not None:
            return hit
        for _ in range(max(1, self.attempts)):
            try:
                rcode, recs = await asyncio.wait_for(self._ask(srv, name, rtype), self.timeout)
            except (asyncio.TimeoutError, OSError, ValueError):
                continue
            return self._result(comp, name, rtype, self._store(name, rtype, rcode, recs),
                                server=srv.ip)
        self._record(comp, name, rtype, "SERVFAIL", [], server=srv.ip, timeout=True)
        raise ServFail(f"Host or domain name lookup failed: {canon(name)}: timed out")

    async def addresses(self, name: str, component: str | None = None) -> list[str]:
        return [r.data for r in await self.query(name, "A", component)]

    async def mx_hosts(self, domain: str, component: str | None = None) -> list[tuple[int, str]]:
        """MX exchanges by preference (ties shuffled with the seeded RNG); A fallback."""
        try:
            recs = await self.query(domain, "MX", component)
        except NoData:
            await self.query(domain, "A", component)  # raises when there is no address either
            return [(0, domain.rstrip(".").lower())]
        by_pref: dict[int, list[str]] = {}
        for r in recs:
            if r.rtype == "MX":
                by_pref.setdefault(r.pref, []).append(r.data)
        out: list[tuple[int, str]] = []
        for pref in sorted(by_pref):
            group = by_pref[pref]
            self.net.rng.shuffle(group)
            out.extend((pref, h) for h in group)
        return out

    def reverse(self, ip: str) -> str | None:
        """The PTR name of ``ip``, or None (no cost in time: smtpd's connect path)."""
        from .zone import reverse_name
        try:
            return self.lookup(reverse_name(ip), "PTR")[0].data
        except DNSError:
            return None
