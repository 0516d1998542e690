"""NAME
    lists - Postfix's host/address and domain pattern lists

SUMMARY
    match_namadr(ctx, cfg["mynetworks"], "localhost", "127.0.0.1", parent=True)
    match_domain(ctx, cfg["fast_flush_domains"], "relay.example", parent=True)
    interface_addresses(ctx, cfg) -> ["127.0.0.1"]

DESCRIPTION
    match_list(3) as smtpd uses it. A list holds patterns separated by
    commas or white space; the first pattern that matches decides, and
    ``!pattern`` makes a match a non-match. Patterns:

      1.2.3.4, 1.2.0.0/16, [::1], [fe80::]/10   client address (CIDR)
      example.com                               that name and, when the
                                                parameter is listed in
                                                parent_domain_matches_subdomains,
                                                its subdomains
      .example.com                              subdomains of example.com
      /file/name                                the patterns in that file
      type:table                                a lookup of the name, then
                                                the address (any answer but
                                                DUNNO-like absence matches)

PARAMETERS
    parent_domain_matches_subdomains, inet_interfaces, proxy_interfaces,
    inet_protocols.

SEE ALSO
    postconf(5), match_list(3)
"""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

from ..config.fallback import param_str as get


def split_list(value: str) -> list[str]:
    """Split a list value at commas/white space, keeping {...} and type:{...} whole."""
    if "{" not in value:
        return value.replace(",", " ").split()
    return list(_split_braced(value))


@functools.lru_cache(maxsize=256)
def _split_braced(value: str) -> tuple[str, ...]:
    out: list[str] = []
    buf = ""
    depth = 0
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if depth == 0 and (ch.isspace() or ch == ","):
            if buf:
                out.append(buf)
            buf = ""
            continue
        buf += ch
    if buf:
        out.append(buf)
    return tuple(out)


def parent_matches(cfg: Any, param: str) -> bool:
    return param in split_list(get(cfg, "parent_domain_matches_subdomains", param))


def _file_patterns(ctx: Any, path: str) -> list[str]:
    try:
        text = ctx.path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        out.extend(split_list(line))
    return out


_TABLE = re.compile(r"^[a-z][a-z0-9_]*:")


def _is_table(pattern: str) -> bool:
    return bool(_TABLE.match(pattern)) and not pattern.startswith("[")


def _addr_match(pattern: str, addr: str) -> bool | None:
    """True/False when pattern is an address or network, None when it is a name."""
    net = _network(pattern)
    if net is None:
        return None
    ip = _address(addr.strip("[]"))
    if ip is None:
        return False
    return ip.version == net.version and ip in net


@functools.lru_cache(maxsize=1024)
def _network(pattern: str) -> Any:
    """The network a list pattern names (None: the pattern is a name)."""
    p = pattern
    if p.startswith("["):
        m = re.match(r"^\[([^\]]+)\](/\d+)?$", p)
        if not m:
            return None
        p = m.group(1) + (m.group(2) or "")
    try:
        return ipaddress.ip_network(p, strict=False)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _address(text: str) -> Any:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _name_match(pattern: str, name: str, parent: bool) -> bool:
    pattern = pattern.lower().rstrip(".")
    name = name.lower().rstrip(".")
    if not name:
        return False
    if pattern.startswith("."):
        return name.endswith(pattern)
    if name == pattern:
        return True
    return parent and name.endswith("." + pattern)


def match_namadr(ctx: Any, value: str, name: str, addr: str, *, parent: bool = True) -> bool:
    """namadr_list_match(): does client name[addr] match the list?"""
    return _match(ctx, _compiled(value), name, addr, parent, depth=0)


def match_domain(ctx: Any, value: str, domain: str, *, parent: bool = True) -> bool:
    """domain_list_match(): does domain match the list?"""
    return _match(ctx, _compiled(value), domain, "", parent, depth=0)


FILE, TABLE, NET, NAME = "file", "table", "net", "name"


@functools.lru_cache(maxsize=256)
def _compiled(value: str) -> tuple[tuple[bool, str, str], ...]:
    """The list's patterns as (negate, kind, pattern), kinds decided once per list text."""
    return _compile(split_list(value))


def _compile(patterns: list[str]) -> tuple[tuple[bool, str, str], ...]:
    out = []
    for pattern in patterns:
        negate = False
        while pattern.startswith("!"):
            negate = not negate
            pattern = pattern[1:]
        if not pattern:
            continue
        if pattern.startswith("/"):
            kind = FILE
        elif _is_table(pattern):
            kind = TABLE
        elif _network(pattern) is not None:
            kind = NET
        else:
            kind = NAME
        out.append((negate, kind, pattern))
    return tuple(out)


def _match(ctx: Any, patterns: tuple[tuple[bool, str, str], ...], name: str, addr: str, parent: bool,
           depth: int) -> bool:
    for negate, kind, pattern in patterns:
        if kind == FILE and depth < 10:
            hit = _match(ctx, _compile(_file_patterns(ctx, pattern)), name, addr, parent, depth + 1)
        elif kind == TABLE:
            hit = _table_match(ctx, pattern, name, addr)
        elif kind == NET:
            hit = bool(addr) and _addr_in(pattern, addr)
        else:
            hit = _name_match(pattern, name, parent)
        if hit:
            return not negate
    return False


@functools.lru_cache(maxsize=1024)
def _addr_in(pattern: str, addr: str) -> bool:
    return bool(_addr_match(pattern, addr))


def _table_match(ctx: Any, spec: str, name: str, addr: str) -> bool:
    try:
        table = ctx.map(spec)
    except Exception:
        return False
    keys = [k for k in (name.lower(), addr) if k]
    if name and "." in name:
        parts = name.lower().split(".")
        keys[1:1] = [".".join(parts[i:]) for i in range(1, len(parts))]
    for key in keys:
        try:
            if table.lookup(key) is not None:
                return True
        except Exception:
            return False
    return False


def interface_addresses(ctx: Any, cfg: Any, param: str = "inet_interfaces") -> list[str]:
    """The addresses named by inet_interfaces (or proxy_interfaces) on this machine."""
    facts = getattr(ctx, "facts", None)
    return list(_interface_addresses(get(cfg, param), get(cfg, "inet_protocols", "all"),
                                     tuple(getattr(facts, "interfaces", ("127.0.0.1/8", "::1/128"))), param))


@functools.lru_cache(maxsize=64)
def _interface_addresses(value: str, inet_protocols: str, interfaces: tuple[str, ...],
                         param: str) -> tuple[str, ...]:
    words = [w.lower() for w in split_list(value)]
    protocols = {p.lower() for p in split_list(inet_protocols)}
    want4 = bool(protocols & {"all", "ipv4"})
    want6 = bool(protocols & {"all", "ipv6"})
    ifaces = [ipaddress.ip_interface(t) for t in interfaces]
    if param == "proxy_interfaces":
        chosen = [ipaddress.ip_address(w.strip("[]")) for w in words if _is_ip(w.strip("[]"))]
    elif not words or "all" in words:
        chosen = [i.ip for i in ifaces]
    elif "loopback-only" in words:
        chosen = [i.ip for i in ifaces if i.ip.is_loopback]
    else:
        chosen = [ipaddress.ip_address(w.strip("[]")) for w in words if _is_ip(w.strip("[]"))]
    return tuple(str(ip) for ip in chosen if (ip.version == 4 and want4) or (ip.version == 6 and want6))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
