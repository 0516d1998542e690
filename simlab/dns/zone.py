"""NAME
    zone - the DNS data of a virtual network (A, MX, CNAME, PTR, TXT)

SUMMARY
    net.dns.a("mail.example.com", "10.0.0.25")
    net.dns.mx("example.com", "mail.example.com", pref=10)
    net.dns.break_zone("example.com")      # SERVFAIL from now on

DESCRIPTION
    Records live in zones keyed by owner name (lower case, no trailing dot).
    A zone is the registered domain of a name (its last two labels); a broken
    zone answers every query for names inside it with SERVFAIL, which is how
    the course stages "DNS is down". PTR records are made from A records.

    Answers are computed by ``answer()``; the resolver (simlab.dns.resolver)
    adds the trace event and the virtual-time cost. ``server`` is the
    network's DNS server node (simlab.dns.server) once one is started:
    resolvers then ask it over the network; ``caches`` holds each host's
    resolver cache.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..sim.network import Network


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record: owner name, type, TTL and data (``pref`` for MX)."""

    name: str
    rtype: str
    data: str
    pref: int = 0
    ttl: int = 3600

    def __str__(self) -> str:
        if self.rtype == "MX":
            return f"{self.name}. {self.ttl} IN MX {self.pref} {self.data}."
        return f"{self.name}. {self.ttl} IN {self.rtype} {self.data}"


class DNSError(Exception):
    """A failed lookup; ``rcode`` is what a resolver library would report."""

    rcode = "SERVFAIL"
    transient = True


class NXDomain(DNSError):
    rcode = "NXDOMAIN"
    transient = False


class NoData(DNSError):
    rcode = "NOERROR"  # the name exists but has no record of that type
    transient = False


class ServFail(DNSError):
    rcode = "SERVFAIL"
    transient = True


@functools.lru_cache(maxsize=4096)
def canon(name: str) -> str:
    return name.strip().rstrip(".").lower()


@functools.lru_cache(maxsize=4096)
def zone_of(name: str) -> str:
    labels = canon(name).split(".")
    return ".".join(labels[-2:])


@functools.lru_cache(maxsize=4096)
def reverse_name(ip: str) -> str:
    if ":" in ip:
        import ipaddress
        return ipaddress.ip_address(ip).reverse_pointer
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


class Zones:
    """All DNS records of a network, with faults that a lesson can switch on."""

    def __init__(self, net: "Network | None" = None) -> None:
        self.net = net
        self.records: list[Record] = []
        self.broken: set[str] = set()
        self.server: Any = None      # the DnsServer every resolver asks, when one runs
        self.caches: dict[str, Any] = {}   # host name -> its resolver's cache

    def add(self, rec: Record) -> Record:
        if rec not in self.records:
            self.records.append(rec)
        return rec

    def a(self, name: str, ip: str, ttl: int = 3600, ptr: bool = True) -> Record:
        rec = self.add(Record(canon(name), "AAAA" if ":" in ip else "A", ip, ttl=ttl))
        if ptr:
            self.add(Record(reverse_name(ip), "PTR", canon(name), ttl=ttl))
        return rec

    def mx(self, domain: str, exchange: str, pref: int = 10, ttl: int = 3600) -> Record:
        return self.add(Record(canon(domain), "MX", canon(exchange), pref=pref, ttl=ttl))

    def cname(self, name: str, target: str, ttl: int = 3600) -> Record:
        return self.add(Record(canon(name), "CNAME", canon(target), ttl=ttl))

    def txt(self, name: str, text: str, ttl: int = 3600) -> Record:
        return self.add(Record(canon(name), "TXT", text, ttl=ttl))

    def remove(self, name: str, rtype: str | None = None) -> int:
        """Delete records of ``name`` (of one type, or all); returns how many."""
        n = canon(name)
        keep = [r for r in self.records if not (r.name == n and (rtype is None or r.rtype == rtype))]
        gone = len(self.records) - len(keep)
        self.records = keep
        return gone

    def break_zone(self, zone: str) -> None:
        self.broken.add(canon(zone))

    def repair_zone(self, zone: str) -> None:
        self.broken.discard(canon(zone))

    def answer(self, name: str, rtype: str) -> list[Record]:
        """The answer section for (name, type), following CNAMEs; raises DNSError."""
        n = canon(name)
        for _ in range(8):
            if zone_of(n) in self.broken or n in self.broken:
                raise ServFail(f"Host or domain name lookup failed: {n}: SERVFAIL")
            owned = [r for r in self.records if r.name == n]
            if not owned:
                raise NXDomain(f"Host or domain name not found. Name service error for name={n} type={rtype}: Host not found")
            hits = [r for r in owned if r.rtype == rtype]
            if hits:
                if rtype == "MX":
                    hits.sort(key=lambda r: r.pref)
                return hits
            alias = next((r for r in owned if r.rtype == "CNAME"), None)
            if alias is None or rtype == "CNAME":
                raise NoData(f"Host or domain name not found. Name service error for name={n} type={rtype}: No address associated with hostname")
            n = alias.data
        raise ServFail(f"CNAME loop at {name}")
