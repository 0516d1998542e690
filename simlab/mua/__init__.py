"""NAME
    mua - the simulated mail client (mail user agent)

SUMMARY
    from simlab.mua import MUA
    alice = MUA(net, "pc.example.com", "alice@example.com", smtp=("10.0.0.25", 587),
                user="alice", password="alice-pw")
    alice.send_sync(to=["bob@example.net"], subject="Hi", body="Hello")
    alice.pop3_fetch_sync(keep=True); alice.imap_list_sync(); alice.read_mbox()

DESCRIPTION
        compose   messages with the standard email package; Bcc only in the envelope
        client    the MUA: SMTP submission, POP3, IMAP, the local mbox, an inbox view
        pop3      a sans-IO POP3 client core
        imap      a sans-IO IMAP client core
        dialog    what the two cores share: output buffer, end of session

    See RFC 5321, RFC 5322, RFC 1939, RFC 3501.
"""

from __future__ import annotations

from .client import MUA, InboxMessage, MailClientError, SendResult
from .compose import compose

__all__ = ["InboxMessage", "MUA", "MailClientError", "SendResult", "compose"]
