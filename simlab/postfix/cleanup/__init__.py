"""NAME
    cleanup - canonicalize and enqueue Postfix message

SUMMARY
    cs = open_cleanup(ctx, service_config, ClientInfo(name, addr, port, helo, protocol, rewrite_context))
    result = await cs.finish(sender, recipients, content, attrs)   # CleanupResult(ok, qid, reply)

DESCRIPTION
    cleanup(8) receives each new message from smtpd (and pickup, and the
    bounce daemon), rewrites and maps its addresses, expands virtual
    aliases, inspects and completes its headers, and writes the queue file
    into the incoming queue before it answers -- so that a 250 reply means
    the mail is on disk. Then it wakes qmgr.

      session.py   the message: envelope, headers, body, queue file
      rewrite.py   canonical forms, canonical maps, virtual aliases, masquerading
      checks.py    header_checks and body_checks
      headers.py   header model, missing headers, the Received: lines

SEE ALSO
    cleanup(8), smtpd(8), pickup(8), qmgr(8)
"""

from __future__ import annotations

from typing import Any

from .headers import mail_date, received_bounce, received_local, received_smtpd
from .session import CleanupResult, CleanupSession, ClientInfo

__all__ = ["CleanupResult", "CleanupSession", "ClientInfo", "mail_date", "open_cleanup",
           "received_bounce", "received_local", "received_smtpd"]


def open_cleanup(ctx: Any, service_config: Any, client: ClientInfo, *,
                 content_filter: str = "") -> CleanupSession:
    """Start a cleanup session (a queue id is allocated now, as when smtpd connects to cleanup).

    ``content_filter`` is the receiving program's (smtpd, pickup) content_filter setting.
    """
    return CleanupSession(ctx, service_config, client, content_filter=content_filter)
