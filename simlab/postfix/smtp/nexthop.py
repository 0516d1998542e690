"""NAME
    nexthop - where smtp(8) and lmtp(8) connect: next-hop syntax, MX and A lookups

SUMMARY
    dest = parse_nexthop("[127.0.0.1]:2526", lmtp=False)     # no MX lookup, port 2526
    dest = parse_nexthop("inet:[127.0.0.1]:2524", lmtp=True)
    targets = await find_targets(ctx, cfg, dest, lmtp=False)  # [Target(host, ip, port, pref, best)]

DESCRIPTION
    A next hop is ``domain`` (MX lookup, then the A records of each
    exchanger, or the domain's own A record when it has no MX),
    ``domain:port``, ``[host]`` or ``[host]:port`` (no MX lookup: the A
    records of host, or host itself when it is an IP address). LMTP never
    looks up MX records, takes an optional ``inet:`` prefix and uses port 24
    by default; ``unix:path`` names a UNIX-domain socket. A port may be a
    number or a service name.

    When an exchanger's address is one of this host's own, the MX list is
    cut at its preference (those hosts are no better than we are); when
    nothing is left, mail "loops back to myself" (5.4.6) or, if better MX
    hosts existed but had no address, Postfix is "unable to find primary
    relay" (4.4.4). At most smtp_mx_address_limit addresses are returned.

    Lookup failures raise NextHopError with the DSN status and text Postfix
    logs ("Host or domain name not found. Name service error for
    name=nosuch.example type=MX: Host not found").

PARAMETERS
    smtp_mx_address_limit, lmtp_mx_address_limit, disable_dns_lookups,
    smtp_host_lookup, inet_interfaces, proxy_interfaces.

SEE ALSO
    smtp(8), smtp_addr.c in Postfix, RFC 5321 section 5
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import Any

from ...dns.zone import DNSError

_LOOKUP_ERRORS = (DNSError, OSError)

SERVICES = {"smtp": 25, "lmtp": 24, "submission": 587, "smtps": 465, "submissions": 465}


class NextHopError(Exception):
    """No address to try; ``dsn`` says whether to bounce (5.x.x) or defer (4.x.x)."""

    def __init__(self, dsn: str, text: str) -> None:
        super().__init__(text)
        self.dsn = dsn
        self.text = text


@dataclass(frozen=True)
class Destination:
    host: str              # domain, host name or IP address (no brackets); a path for unix
    port: int
    mx: bool               # look up MX records first
    unix: bool = False
    spec: str = ""         # the next hop as written


@dataclass(frozen=True)
class Target:
    """One address to try."""

    host: str
    ip: str
    port: int
    pref: int = 0
    best: bool = True      # among the most preferred exchangers
    unix: bool = False

    @property
    def namaddr(self) -> str:
        return f"{self.host}[{self.ip}]"

    @property
    def namaddrport(self) -> str:
        return self.namaddr if self.unix else f"{self.host}[{self.ip}]:{self.port}"


def _port(text: str, default: int) -> int:
    if not text:
        return default
    if text.isascii() and text.isdigit():
        return int(text)
    if text in SERVICES:
        return SERVICES[text]
    raise NextHopError("4.3.5", f"unknown service: {text}/tcp")


@functools.lru_cache(maxsize=1024)
def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.removeprefix("ipv6:").removeprefix("IPv6:"))
    except ValueError:
        return False
    return True


def parse_nexthop(spec: str, lmtp: bool = False, dns: bool = True) -> Destination:
    """Postfix's next-hop syntax -> where to connect and whether to look up MX."""
    text = spec.strip()
    default = 24 if lmtp else 25
    if lmtp or text.startswith(("inet:", "unix:")):
        if text.startswith("unix:"):
            return Destination(text[5:], 0, mx=False, unix=True, spec=spec)
        text = text.removeprefix("inet:")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise NextHopError("4.3.5", f"malformed next-hop destination: {spec}")
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise NextHopError("4.3.5", f"malformed next-hop destination: {spec}")
        return Destination(host.removeprefix("ipv6:").removeprefix("IPv6:"),
                           _port(rest[1:], default), mx=False, spec=spec)
    host, colon, port = text.rpartition(":")
    if not colon or ":" in host:          # no port, or a bare IPv6 address
        host, port = text, ""
    return Destination(host.rstrip(".").lower() if not is_ip(host) else host,
                       _port(port, default), mx=dns and not lmtp and not is_ip(host), spec=spec)


def own_addresses(ctx: Any, cfg: Any) -> set[str]:
    """The addresses that are this machine: loopback, the host's own, and the interfaces."""
    own = {"127.0.0.1", "::1"}
    host = getattr(ctx.net, "host", None)
    if host is not None and getattr(host, "ip", None):
        own.add(host.ip)
    for param in ("inet_interfaces", "proxy_interfaces"):
        try:
            own.update(a.strip("[]") for a in cfg.get_list(param) if is_ip(a.strip("[]")))
        except (KeyError, ValueError):
            pass
    return own


def _dns_error(e: Exception, name: str, qtype: str) -> NextHopError:
    if getattr(e, "transient", True):
        return NextHopError("4.4.3", f"Host or domain name not found. Name service error for "
                                     f"name={name} type={qtype}: Host not found, try again")
    text = str(e) or f"Host or domain name not found. Name service error for name={name} " \
                     f"type={qtype}: Host not found"
    return NextHopError("5.4.4", text)


async def _addresses(resolver: Any, host: str, component: str) -> list[str]:
    if is_ip(host):
        return [host]
    return list(await resolver.addresses(host, component))


async def find_targets(ctx: Any, cfg: Any, dest: Destination, lmtp: bool = False,
                       component: str = "smtp") -> list[Target]:
    """The addresses to try for ``dest``, best first; raises NextHopError."""
    if dest.unix:
        return [Target(_myhostname(cfg, ctx), dest.host, 0, unix=True)]
    resolver = ctx.net.resolver
    limit = _int(cfg, ("lmtp" if lmtp else "smtp") + "_mx_address_limit", 5)
    if not dest.mx:
        try:
            ips = await _addresses(resolver, dest.host, component)
        except _LOOKUP_ERRORS as e:
            raise _dns_error(e, dest.host, "A") from None
        targets = [Target(dest.host, ip, dest.port) for ip in ips]
        return targets[:limit] if limit > 0 else targets
    try:
        mxs = await resolver.mx_hosts(dest.host, component)
    except _LOOKUP_ERRORS as e:
        raise _dns_error(e, dest.host, "MX") from None
    own = own_addresses(ctx, cfg)
    found: list[Target] = []
    self_pref: int | None = None
    best_pref = mxs[0][0] if mxs else 0
    for pref, name in mxs:
        try:
            ips = await _addresses(resolver, name, component)
        except _LOOKUP_ERRORS:
            ips = []
        for ip in ips:
            if ip in own and (self_pref is None or pref < self_pref):
                self_pref = pref
            found.append(Target(name, ip, dest.port, pref))
    if self_pref is not None:
        found = [t for t in found if t.pref < self_pref]
        if not found:
            if self_pref == best_pref:
                raise NextHopError("5.4.6", f"mail for {dest.host} loops back to myself")
            raise NextHopError("4.4.4", f"unable to find primary relay for {dest.host}")
    if not found:
        raise NextHopError("4.4.3", f"Host or domain name not found. Name service error for "
                                    f"name={dest.host} type=A: Host not found, try again")
    top = min(t.pref for t in found)
    found = [Target(t.host, t.ip, t.port, t.pref, t.pref == top) for t in found]
    return found[:limit] if limit > 0 else found


def _int(cfg: Any, name: str, default: int) -> int:
    try:
        return cfg.get_int(name)
    except Exception:       # KeyError, ValueError or the configuration's ConfigError
        return default


def _myhostname(cfg: Any, ctx: Any) -> str:
    try:
        return cfg["myhostname"] or ctx.hostname
    except KeyError:
        return ctx.hostname
