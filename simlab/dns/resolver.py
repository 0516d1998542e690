"""NAME
    resolver - DNS lookups of one host, in virtual time, all in the trace

SUMMARY
    r = Resolver(net, host)
    await r.mx_hosts("example.com")   # [(10, "mail.example.com"), ...] or A fallback
    await r.addresses("mail.example.com")

DESCRIPTION
    A stub resolver: each query costs one round trip to the network's DNS and
    is recorded as a ``dns`` trace event with the answer or the error code.
    ``mx_hosts`` returns MX exchanges sorted by preference with equal
    preferences shuffled by the network's seeded RNG (as Postfix's smtp client
    does), or the domain itself as an implicit MX when it has an A record but
    no MX (RFC 5321 section 5.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .zone import DNSError, NoData, Record

if TYPE_CHECKING:
    from ..sim.network import Host, Network


class Resolver:
    """The DNS client of one host."""

    def __init__(self, net: "Network", host: "Host", component: str = "resolver", rtt: float = 0.002) -> None:
        self.net = net
        self.host = host
        self.component = component
        self.rtt = rtt

    def lookup(self, name: str, rtype: str, component: str | None = None) -> list[Record]:
        """Answer immediately (no virtual-time cost) but still record the query."""
        comp = component or self.component
        try:
            recs = self.net.dns.answer(name, rtype)
        except DNSError as e:
            self.net.trace.record(self.net.now, self.host.name, comp, "dns", query=name, qtype=rtype,
                                  rcode=e.rcode, answer=[])
            raise
        self.net.trace.record(self.net.now, self.host.name, comp, "dns", query=name, qtype=rtype,
                              rcode="NOERROR", answer=[str(r) for r in recs])
        return recs

    async def query(self, name: str, rtype: str, component: str | None = None) -> list[Record]:
        await self.net.loop.sleep(self.rtt)
        return self.lookup(name, rtype, component)

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
