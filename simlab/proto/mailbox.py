"""NAME
    mailbox - what the POP3 and IMAP cores need from a message store

SUMMARY
    class MyStore(StoreBackend): ...      # authenticate, a user's mailboxes
    box = store.mailboxes("erin").open("INBOX", readonly=False)
    box.sync() -> [MessageInfo(uid, flags, size, internaldate, recent)]

DESCRIPTION
    The protocol cores are written against these typing Protocols, not
    against simlab.store, so that any store (mbox, Maildir, a test double)
    can serve them.

    ``StoreBackend`` is Dovecot's auth service plus its mail storage:
    ``auth_request(rip)`` starts an authentication and says how long anvil
    wants it held, ``auth_verify`` checks the password (after that hold),
    ``auth_verify_apop`` checks an APOP digest (MD5 of the greeting's
    challenge and the password), ``auth_failure_delay`` is how long a failure waits before it is
    answered, ``new_pid()`` numbers the mail process (the log's mpid).

    ``UserMailboxes`` is one user's mailbox list; ``OpenMailbox`` one opened
    mailbox. A session sees the messages it got from ``sync()``; flag
    changes are kept by the store until a full write (``checkpoint``,
    ``expunge``, ``close``), as Dovecot does with mbox_lazy_writes.

    Flags are IMAP's: the five system flags, \\Recent and keywords.

    Errors are ``StorageError(text, kind)``; kind is one of NOTFOUND,
    EXISTS, NOTPOSSIBLE, PARAMS, PERM, INUSE, TEMP, EXPUNGED or NONE (a
    reply without a response code), and the cores turn it
    into the reply Dovecot sends ("NO [NONEXISTENT] Mailbox doesn't exist:
    Foo", "NO [TRYCREATE] ...").

SEE ALSO
    simlab.store.mailstore (the implementation), Dovecot lib-storage
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Iterable, Protocol

ANSWERED = "\\Answered"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"
SEEN = "\\Seen"
DRAFT = "\\Draft"
RECENT = "\\Recent"
SYSTEM_FLAGS = (ANSWERED, FLAGGED, DELETED, SEEN, DRAFT)
_CANONICAL = {f.lower(): f for f in (*SYSTEM_FLAGS, RECENT)}


def canonical_flag(flag: str) -> str:
    """``\\SEEN`` -> ``\\Seen``; keywords are returned unchanged."""
    return _CANONICAL.get(flag.lower(), flag)


def order_flags(flags: Iterable[str]) -> list[str]:
    """System flags in Dovecot's order (\\Answered \\Flagged \\Deleted \\Seen \\Draft
    \\Recent), then keywords sorted."""
    given = set(flags)
    system = [f for f in (*SYSTEM_FLAGS, RECENT) if f in given]
    return system + sorted(given - set(system))


@dataclass(frozen=True)
class MessageInfo:
    uid: int
    flags: frozenset[str]
    size: int
    internaldate: float
    recent: bool = False


@dataclass(frozen=True)
class MailboxListing:
    name: str
    noselect: bool = False
    noinferiors: bool = False
    children: bool = False
    marked: bool | None = None


@dataclass(frozen=True)
class MailboxStatus:
    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int
    size: int


class StorageError(Exception):
    def __init__(self, text: str, kind: str = "TEMP") -> None:
        super().__init__(text)
        self.text = text
        self.kind = kind


class AuthTicket(Protocol):
    @property
    def delay(self) -> float: ...


class OpenMailbox(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def uidvalidity(self) -> int: ...
    @property
    def uidnext(self) -> int: ...

    def sync(self) -> list[MessageInfo]: ...
    def data(self, uid: int) -> bytes: ...
    def keywords(self) -> list[str]: ...
    def register_keywords(self, names: Iterable[str]) -> None: ...
    def store(self, uids: Iterable[int], add: Collection[str] = (),
              remove: Collection[str] = (), replace: Collection[str] | None = None) -> None: ...
    def expunge(self, uids: Collection[int] | None = None) -> list[int]: ...
    def copy(self, uids: Collection[int], dest: str) -> tuple[int, list[int], list[int]]: ...
    def checkpoint(self, check: bool = False) -> None: ...
    def close(self) -> None: ...


class UserMailboxes(Protocol):
    @property
    def user(self) -> str: ...

    def listing(self) -> list[MailboxListing]: ...
    def subscriptions(self) -> list[str]: ...
    def subscribe(self, name: str) -> None: ...
    def unsubscribe(self, name: str) -> None: ...
    def create(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def rename(self, old: str, new: str) -> None: ...
    def status(self, name: str) -> MailboxStatus: ...
    def open(self, name: str, readonly: bool) -> OpenMailbox: ...
    def append(self, name: str, data: bytes, flags: Collection[str],
               internaldate: float | None) -> tuple[int, int]: ...


class StoreBackend(Protocol):
    @property
    def auth_failure_delay(self) -> float: ...

    def auth_request(self, rip: str) -> AuthTicket: ...
    def auth_verify(self, ticket: Any, user: str, password: str,
                    authzid: str = "") -> str | None: ...
    def auth_verify_apop(self, ticket: Any, user: str, challenge: str,
                         digest: str) -> str | None: ...
    def new_pid(self) -> int: ...
    def mailboxes(self, user: str) -> UserMailboxes: ...
