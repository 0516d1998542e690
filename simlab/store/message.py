"""NAME
    message - what a mailbox holds: stored messages, IMAP flags, sizes

SUMMARY
    StoredMessage(key, data, flags, internaldate, size, uid)
    rfc822_size(data); to_crlf(data); order_flags(flags)

DESCRIPTION
    Both mailbox formats (mbox(5) and Maildir) hand their messages out as
    ``StoredMessage`` records: ``data`` is the message as a POP3 or IMAP
    client sees it (LF line ends, the store's private headers removed),
    ``size`` its RFC 822 size (every line end counted as CRLF, the number
    POP3 LIST and IMAP RFC822.SIZE report), ``flags`` the IMAP system flags
    and keywords, ``internaldate`` the delivery time in epoch seconds.

    The system flags are written the way Dovecot lists them:
    \\Answered \\Flagged \\Deleted \\Seen \\Draft, then keywords.

SEE ALSO
    mbox(5), maildir(5), RFC 3501 section 2.3.2
"""

from __future__ import annotations

from dataclasses import dataclass

from ..proto.mailbox import (  # noqa: F401  (the flag names live with the store interface)
    ANSWERED,
    DELETED,
    DRAFT,
    FLAGGED,
    RECENT,
    SEEN,
    SYSTEM_FLAGS,
    canonical_flag,
    order_flags,
)


class MailboxError(Exception):
    """A mailbox could not be read or changed; ``str(exc)`` is the reason."""


class MailboxLockedError(MailboxError):
    """Another process holds the mailbox lock (a temporary condition)."""


@dataclass(frozen=True)
class StoredMessage:
    key: str
    data: bytes
    flags: frozenset[str]
    internaldate: float
    size: int
    uid: int = 0


def to_crlf(data: bytes) -> bytes:
    """Every bare LF becomes CRLF; existing CRLF pairs are kept."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def rfc822_size(data: bytes) -> int:
    """Length of ``data`` once each line end is a CRLF pair."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")
