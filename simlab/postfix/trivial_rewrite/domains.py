"""NAME
    domains - domain lists and local interface addresses (Postfix's domain_list, resolve_local)

SUMMARY
    match_domain(ctx, "mydestination", "example.com")   -> "example.com" | None
    is_local_domain(ctx, "[127.0.0.1]")                  -> True
    own_addresses(ctx)                                    -> {"127.0.0.1", ...}

DESCRIPTION
    A domain list parameter (mydestination, relay_domains,
    virtual_alias_domains, virtual_mailbox_domains) is a list of patterns
    separated by commas or white space:

    - ``name``: matches that domain, case-insensitively; when the parameter
      is listed in parent_domain_matches_subdomains (relay_domains by
      default) it also matches every subdomain;
    - ``.name``: matches every subdomain of name;
    - ``type:table``: the domain (then its parents) is looked up as a key;
    - ``/file/name``: patterns read from that file;
    - ``!pattern``: a match ends the search with "no".

    The first matching pattern decides; ``match_domain`` returns it (the
    text a student reads in a "why" explanation) or None.

    A domain is local when mydestination matches it (one trailing dot is
    ignored) or when it is an address literal ``[a.b.c.d]`` of an interface
    this host receives mail on: inet_interfaces (``all`` = every address of
    the host, ``loopback-only`` = 127.0.0.1 and ::1) and proxy_interfaces.

PARAMETERS
    mydestination, parent_domain_matches_subdomains, inet_interfaces,
    proxy_interfaces, inet_protocols.

SEE ALSO
    trivial-rewrite(8), ADDRESS_CLASS_README, postconf(5)
"""

from __future__ import annotations

import ipaddress
from typing import Any


class TableError(Exception):
    """A lookup table in a domain list could not be searched."""


def parent_style(ctx: Any, param: str) -> bool:
    """True when ``param`` is listed in parent_domain_matches_subdomains."""
    try:
        return param in ctx.config.get_list("parent_domain_matches_subdomains")
    except KeyError:
        return False


def _patterns(ctx: Any, value: str) -> list[str]:
    out: list[str] = []
    for item in value.replace(",", " ").split():
        if item.startswith("/") and ":" not in item:
            try:
                text = ctx.path(item).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    out.extend(_patterns(ctx, line))
        else:
            out.append(item)
    return out


def _is_table(pattern: str) -> bool:
    kind, sep, _ = pattern.partition(":")
    return bool(sep) and kind.isalnum() and not pattern.startswith("[")


def _table_lookup(ctx: Any, spec: str, key: str) -> str | None:
    table = ctx.map(spec)
    try:
        return table.lookup(key)
    except Exception as exc:  # a table that cannot be read is a lookup failure, not a miss
        raise TableError(f"{spec}: {exc}") from exc


def _parents(name: str, parent: bool) -> list[str]:
    """Parent keys to try after ``name``: "b.c", "c" or ".b.c", ".c"."""
    keys = []
    rest = name
    while "." in rest:
        rest = rest.split(".", 1)[1]
        keys.append(rest if parent else "." + rest)
    return keys


def match_pattern(ctx: Any, pattern: str, name: str, parent: bool) -> bool:
    """Does one (non-negated) list pattern match domain ``name``?"""
    if _is_table(pattern):
        if _table_lookup(ctx, pattern, name) is not None:
            return True
        for key in _parents(name, parent):
            if _table_lookup(ctx, pattern, key) is not None:
                return True
        return False
    pat = pattern.lower()
    if pat == name:
        return True
    if pat.startswith("."):
        return name.endswith(pat)
    return parent and name.endswith("." + pat)


def match_domain(ctx: Any, param: str, domain: str) -> str | None:
    """The pattern of list parameter ``param`` that matches ``domain``, or None."""
    value = ctx.config[param]
    if not value.strip():
        return None
    name = domain.lower()
    parent = parent_style(ctx, param)
    for pattern in _patterns(ctx, value):
        negate = pattern.startswith("!")
        body = pattern.lstrip("!")
        if body and match_pattern(ctx, body, name, parent):
            return None if negate else pattern
    return None


def _addr(text: str) -> str | None:
    text = text.strip("[]")
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _host_addresses(ctx: Any) -> set[str]:
    """Every address of the machine: HostFacts interfaces, the simulated host's IP, loopback."""
    out = {"127.0.0.1", "::1"}
    facts = getattr(ctx.config, "facts", None)
    for iface in getattr(facts, "interfaces", ()):
        a = _addr(str(iface).split("/", 1)[0])
        if a is not None:
            out.add(a)
    host = getattr(getattr(ctx, "net", None), "host", None)
    ip = getattr(host, "ip", None)
    if isinstance(ip, str):
        out.add(ip)
    return out


def own_addresses(ctx: Any) -> set[str]:
    """The addresses of inet_interfaces and proxy_interfaces (normalized text form)."""
    cfg = ctx.config
    out: set[str] = set()
    for param in ("inet_interfaces", "proxy_interfaces"):
        for item in cfg.get_list(param):
            low = item.lower()
            if low == "all":
                out |= _host_addresses(ctx)
            elif low == "loopback-only":
                out |= {"127.0.0.1", "::1"}
            else:
                a = _addr(item)
                if a is not None:
                    out.add(a)
                elif low in (ctx.hostname.lower(), cfg["myhostname"].lower()):
                    out |= _host_addresses(ctx) - {"127.0.0.1", "::1"}
                elif low == "localhost":
                    out |= {"127.0.0.1", "::1"}
    protocols = cfg.get_list("inet_protocols")
    if "all" not in protocols:
        if "ipv6" not in protocols:
            out = {a for a in out if ":" not in a}
        if "ipv4" not in protocols:
            out = {a for a in out if ":" in a}
    return out


def local_domain_reason(ctx: Any, domain: str) -> str | None:
    """Why ``domain`` is local ("mydestination contains ...", "... is a local interface"), or None."""
    name = domain
    if name.endswith("."):
        name = name[:-1]
    if not name or name.endswith("."):
        return None
    pattern = match_domain(ctx, "mydestination", name)
    if pattern is not None:
        return f"mydestination contains {pattern}"
    if name.startswith("[") and name.endswith("]"):
        inner = name[1:-1]
        addr = _addr(inner)
        if addr is not None and (":" not in inner or inner.lower().startswith("ipv6:")):
            if addr in own_addresses(ctx):
                return f"[{inner}] is an address of this host (inet_interfaces/proxy_interfaces)"
    return None


def is_local_domain(ctx: Any, domain: str) -> bool:
    return local_domain_reason(ctx, domain) is not None
