"""NAME
    trivial_rewrite - address rewriting and resolving (Postfix's trivial-rewrite(8))

SUMMARY
    from simlab.postfix.trivial_rewrite import rewrite, resolve, Resolution
    rewrite(ctx, "alice")                  -> "alice@example.com"
    resolve(ctx, "alice@example.com")      -> Resolution(address, cls, transport, nexthop, why, flags)

DESCRIPTION
    cleanup(8) asks trivial-rewrite to *rewrite* every address to canonical
    user@domain form; smtpd(8) (relay and unknown-user checks), qmgr(8)
    and local(8) ask it to *resolve* an address to a delivery transport, a
    nexthop and the final recipient, by the address class of its domain
    (local, virtual alias, virtual mailbox, relay, default) and
    transport_maps. In Postfix these are two requests to one daemon; here
    they are two functions that read the host's main.cf through ``ctx``.

SEE ALSO
    trivial-rewrite(8), ADDRESS_CLASS_README, ADDRESS_REWRITING_README,
    transport(5)
"""

from __future__ import annotations

from ..maps.tok822 import quote_822_local, unquote_822_local
from .domains import is_local_domain, local_domain_reason, match_domain, own_addresses
from .resolve import CLASSES, FINAL_CLASSES, Resolution, resolve
from .rewrite import REWRITE_CONTEXTS, rewrite
from .transport import TransportEntry, find_transport

__all__ = [
    "CLASSES", "FINAL_CLASSES", "REWRITE_CONTEXTS", "Resolution", "TransportEntry",
    "find_transport", "is_local_domain", "local_domain_reason", "match_domain",
    "own_addresses", "quote_822_local", "resolve", "rewrite", "unquote_822_local",
]
