"""
NAME
    address - Postfix's table search order for address keys

SUMMARY
    lookup_address(maps, address, delimiter="+", *, kind="virtual",
                   local_domain=None, parent_matches_subdomains=None)
        -> (result, matched_key) | None
    maps_find(maps, key, partial=False) -> str | None
    split_addr(localpart, delimiters) -> (user, extension) | None
    strip_addr(address, delimiters) -> (bare_address, extension) | None

DESCRIPTION
    Postfix never asks a table just for "the address": it tries a sequence
    of keys derived from it and takes the first hit in any of the tables of
    the parameter (maps_find: tables in order, first answer wins). Only the
    first key, the full address, is shown to pattern tables (regexp:,
    pcre:, cidr:); the derived, "partial" keys go to fixed-string tables
    only, so that a regular expression never sees half an address.

    kind="virtual" (virtual(5), canonical(5), relocated(5), aliases of
    virtual_alias_maps; mail_addr_find(3)):
        user+ext@domain, user@domain, user+ext, user, @domain
        The two localpart-only keys are tried only when local_domain(domain)
        is true ($myorigin, $mydestination, $inet_interfaces,
        $proxy_interfaces); the caller supplies that test.
    kind="access" (access(5), smtpd check_*_access for addresses):
        user+ext@domain, user@domain, domain, parent domains, user+ext@, user@
        Parent domains of sub.example.com are example.com and com when
        parent_matches_subdomains (default true: smtpd_access_maps is in
        the default parent_domain_matches_subdomains), else .example.com
        and .com.
    kind="transport" (transport(5)):
        user+ext@domain, user@domain, domain, parent domains, *
        Parent domains are .example.com, .com unless
        parent_matches_subdomains (default false: transport_maps is not in
        the default parent_domain_matches_subdomains).

    The user+ext keys exist only when the local part contains one of the
    recipient_delimiter characters; postmaster, MAILER-DAEMON and
    double-bounce are never split, nor owner-foo and foo-request when "-" is
    a delimiter. The result is (value, key that matched): when the key is
    the address without its extension, the caller may append the extension
    to the result (propagate_unmatched_extensions).

PARAMETERS
    recipient_delimiter, parent_domain_matches_subdomains, myorigin,
    mydestination (via local_domain). See postconf(5).
"""

from __future__ import annotations

from typing import Callable, Iterable

from .base import Map

_NEVER_SPLIT = ("postmaster", "mailer-daemon", "double-bounce")


def maps_find(maps: Iterable[Map], key: str, partial: bool = False) -> str | None:
    if not key:
        return None
    for m in maps:
        if partial and not m.fixed:
            continue
        value = m.lookup(key)
        if value is not None:
            return value
    return None


def split_addr(localpart: str, delimiters: str) -> tuple[str, str] | None:
    """Split user+ext into (user, "+ext"), or None when Postfix would not."""
    if not delimiters:
        return None
    low = localpart.lower()
    if low in _NEVER_SPLIT:
        return None
    if "-" in delimiters and (low.startswith("owner-") or (len(low) > 8 and low.endswith("-request"))):
        return None
    for i, ch in enumerate(localpart):
        if ch in delimiters:
            if i == 0:
                return None
            return localpart[:i], localpart[i:]
    return None


def strip_addr(address: str, delimiters: str) -> tuple[str, str] | None:
    """user+ext@domain -> ("user@domain", "+ext"), or None without extension."""
    at = address.rfind("@")
    local, domain = (address, "") if at < 0 else (address[:at], address[at:])
    got = split_addr(local, delimiters)
    if got is None:
        return None
    return got[0] + domain, got[1]


def _parents(domain: str, parent_style: bool) -> list[str]:
    names = [domain]
    name = domain
    while True:
        dot = name.find(".", 1)
        if dot < 0:
            return names
        name = name[dot + 1:] if parent_style else name[dot:]
        if not name or name == ".":
            return names
        names.append(name)


def lookup_address(maps: list[Map], address: str, delimiter: str = "+", *,
                   kind: str = "virtual", local_domain: Callable[[str], bool] | None = None,
                   parent_matches_subdomains: bool | None = None) -> tuple[str, str] | None:
    """Search maps for address in Postfix's order for this kind of table."""
    if kind not in ("virtual", "access", "transport"):
        raise ValueError(f"unknown table kind: {kind}")
    stripped = strip_addr(address, delimiter)
    at = address.rfind("@")
    domain = address[at + 1:] if at >= 0 else ""
    keys: list[tuple[str, bool]] = [(address, False)]
    if stripped is not None:
        keys.append((stripped[0], True))
    if kind == "virtual":
        if at >= 0 and local_domain is not None and local_domain(domain):
            keys.append((address[:at], True))
            if stripped is not None:
                keys.append((stripped[0][:stripped[0].rfind("@")], True))
        if at >= 0:
            keys.append((address[at:], True))
    else:
        parent = parent_matches_subdomains
        if parent is None:
            parent = kind == "access"
        if domain:
            keys.extend((name, True) for name in _parents(domain, parent))
        if kind == "access" and at >= 0:
            keys.append((address[:at + 1], True))
            if stripped is not None:
                keys.append((stripped[0][:stripped[0].rfind("@") + 1], True))
        if kind == "transport":
            keys.append(("*", False))
    for key, partial in keys:
        value = maps_find(maps, key, partial)
        if value is not None:
            return value, key
    return None
