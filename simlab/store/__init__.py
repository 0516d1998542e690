"""NAME
    store - mailboxes and the Dovecot-like message store

DESCRIPTION
    ``mbox`` and ``maildir`` are the two mailbox formats, shared with the
    MTA's local(8) and virtual(8) delivery agents; ``users`` and ``auth``
    are Dovecot's passwd-file passdb and auth service; ``mailstore`` maps a
    host's users to their mailboxes (mbox:~/mail:INBOX=/var/mail/%u);
    ``pop3d`` and ``imapd`` run the protocol cores of simlab.proto on
    asyncio streams.

SEE ALSO
    simlab.proto, Dovecot 2.3
"""

from __future__ import annotations

from .maildir import Maildir
from .mailstore import MailStore
from .mbox import Mbox
from .message import MailboxError, MailboxLockedError, StoredMessage

__all__ = ["MailStore", "Maildir", "MailboxError", "MailboxLockedError", "Mbox", "StoredMessage"]
