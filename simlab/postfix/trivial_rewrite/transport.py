"""NAME
    transport - transport_maps lookups (transport(5))

SUMMARY
    find_transport(ctx, "robot+x@example.com", "example.com") -> TransportEntry | None
    apply_entry(entry, "local", "example.com", "example.com") -> ("labpipe", "example.com")

DESCRIPTION
    The keys tried, in order: the full address (user+ext@domain), the
    address without its extension (user@domain; the recipient_delimiter
    extension is ignored, so a key robot@example.com also matches
    robot+ext@example.com), the domain, its parent domains (".example.com",
    ".com"; "example.com", "com" when transport_maps is listed in
    parent_domain_matches_subdomains) and the wild-card "*". Pattern tables
    (regexp:, pcre:) see only the full address.

    A result is "transport:nexthop":

    - ``transport:nexthop`` replaces both;
    - ``transport:`` or ``transport`` changes the transport and resets the
      nexthop to the recipient domain ("Address is undeliverable" for the
      error transport);
    - ``:nexthop`` keeps the transport and changes the nexthop;
    - ``:`` changes nothing.

    Only the first ":" splits: "lmtp:inet:[127.0.0.1]:24" is transport lmtp
    with nexthop inet:[127.0.0.1]:24.

PARAMETERS
    transport_maps, recipient_delimiter, parent_domain_matches_subdomains.

SEE ALSO
    transport(5), trivial-rewrite(8)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..maps import MapError
from ..maps.address import lookup_address
from .domains import parent_style

ERROR_TRANSPORT = "error"


class TransportLookupError(Exception):
    """transport_maps could not be searched (the address resolver fails, mail is deferred)."""


@dataclass(frozen=True)
class TransportEntry:
    key: str          # the lookup key that matched
    value: str        # the table's right-hand side, as found

    @property
    def transport(self) -> str:
        return self.value.split(":", 1)[0].strip()

    @property
    def nexthop(self) -> str:
        return self.value.split(":", 1)[1].strip() if ":" in self.value else ""


def find_transport(ctx: Any, address: str, delimiter: str | None = None) -> TransportEntry | None:
    """Search transport_maps for a resolved recipient address."""
    cfg = ctx.config
    if not cfg["transport_maps"].strip() or not address or "@" not in address:
        return None
    delim = cfg["recipient_delimiter"] if delimiter is None else delimiter
    try:
        maps = ctx.maps("transport_maps")
        hit = lookup_address(maps, address.lower(), delim, kind="transport",
                             parent_matches_subdomains=parent_style(ctx, "transport_maps"))
    except MapError as exc:
        raise TransportLookupError(str(exc)) from exc
    if hit is None:
        return None
    return TransportEntry(key=hit[1], value=hit[0])


def apply_entry(entry: TransportEntry, transport: str, nexthop: str,
                rcpt_domain: str) -> tuple[str, str]:
    """(transport, nexthop) after a table entry (transport.c update_entry)."""
    new_transport, new_nexthop = entry.transport, entry.nexthop
    if not new_transport:
        return transport, new_nexthop or nexthop
    if new_nexthop:
        return new_transport, new_nexthop
    if new_transport != ERROR_TRANSPORT:
        return new_transport, rcpt_domain
    return new_transport, "Address is undeliverable"
