"""NAME
    smtp - Postfix's SMTP and LMTP client delivery agents, smtp(8) and lmtp(8)

SUMMARY
    from simlab.postfix.smtp import deliver
    statuses = await deliver(ctx, service, request)

DESCRIPTION
    One program in two modes, as in Postfix: master.cf command ``smtp``
    speaks SMTP to the MX hosts of the next hop (or to ``[host]:port``
    without MX lookup); command ``lmtp`` speaks LMTP to ``inet:host:port``
    (port 24 by default) or ``unix:path``.

        nexthop   next-hop syntax, MX/A lookups, own-address loop check
        session   one connection: connect, the client core, per-recipient verdicts
        agent     the delivery request: addresses in order, logging, statuses

    See smtp(8), lmtp(8), postconf(5).
"""

from __future__ import annotations

from .agent import SmtpAgent, deliver, deliver_lmtp, deliver_smtp
from .nexthop import Destination, NextHopError, Target, find_targets, parse_nexthop

__all__ = ["Destination", "NextHopError", "SmtpAgent", "Target", "deliver", "deliver_lmtp",
           "deliver_smtp", "find_targets", "parse_nexthop"]
