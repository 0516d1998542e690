"""NAME
    mailstore - a host's message store as Dovecot sees it: accounts and mbox folders

SUMMARY
    store = MailStore(root, root / "etc/dovecot/users", "mail.example.com", clock=clock)
    ticket = store.auth_request("127.0.0.1"); store.auth_verify(ticket, "erin", "erin-pw")
    boxes = store.mailboxes("erin")
    boxes.listing(); boxes.create("Archive"); boxes.status("INBOX")
    inbox = boxes.open("INBOX", readonly=False); inbox.sync(); inbox.data(uid)

DESCRIPTION
    The lab's Dovecot configuration is mail_location =
    mbox:~/mail:INBOX=/var/mail/%u: a user's INBOX is the mbox file
    ROOT/var/mail/USER that local(8) delivers to, other folders are mbox
    files under ~/mail (hierarchy separator "/", a folder with children
    is a directory), and ~/mail/.subscriptions lists subscribed names, one
    per line. The home directory comes from ROOT/etc/passwd (userdb
    driver = passwd), /home/USER when the user is not there. Accounts and
    passwords come from the passwd-file given (passdb scheme=PLAIN).

    Each mbox file has an in-memory index (see mboxindex) shared by every
    session, so that \\Recent, lazily written flags and UIDs agree between
    a POP3 session, an IMAP session and the next delivery. UIDVALIDITY
    values come from the clock given, never from the wall clock: INBOX
    gets the time of its first sync (IMAP LIST and CREATE sync it too),
    other folders Dovecot's counter (the time at first, then one more
    each).

    Full writes happen at POP3 QUIT, IMAP CHECK, EXPUNGE, CLOSE, LOGOUT
    and when a session ends; APPEND and COPY write at once.

PARAMETERS
    mail_location, passdb (passwd-file, scheme=PLAIN), userdb (passwd),
    auth_failure_delay, first_valid_uid (not checked).

SEE ALSO
    simlab.store.mbox, simlab.store.auth, simlab.proto.mailbox, Dovecot MailLocation/mbox
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Collection, Iterable, Sequence

from ..proto.mailbox import MailboxListing, MailboxStatus, MessageInfo, StorageError
from .auth import AuthRequest, AuthService
from .mbox import Mbox, MboxContents, MboxMessage
from .mboxformat import saved_record
from .mboxindex import MboxIndex, storage_errors
from .message import RECENT, SEEN, canonical_flag, rfc822_size
from .users import PasswdFile

SUBSCRIPTIONS = ".subscriptions"


def _info(index: MboxIndex, msg: MboxMessage, recent: bool) -> MessageInfo:
    return MessageInfo(msg.uid, index.flags(msg), rfc822_size(msg.visible()),
                       msg.internaldate, recent)


class MboxMailbox:
    """One opened mbox folder, as a session (SELECT, EXAMINE, POP3) holds it."""

    def __init__(self, owner: "UserStore", index: MboxIndex, name: str, readonly: bool) -> None:
        self.owner, self.index, self.name, self.readonly = owner, index, name, readonly
        self.recent: set[int] = set()
        self.closed = False
        self.known = index.known_uids()
        if not readonly and index.unsettled:
            # measured: recent messages taken without a write since make the next
            # read-write open rewrite the first message (it holds X-IMAPbase)
            index.write(touch_first=True)
        self.sync()

    @property
    def uidvalidity(self) -> int:
        assert self.index.uidvalidity is not None
        return self.index.uidvalidity

    @property
    def uidnext(self) -> int:
        return self.index.next_uid

    def _contents(self) -> MboxContents:
        return self.index.refresh(self.recent)

    def sync(self) -> list[MessageInfo]:
        contents = self._contents()
        if not self.readonly:
            taken = self.index.take_recent(contents)
            if taken & self.known:
                # measured: recent messages an earlier look already saw get O when this
                # session writes (Dovecot's dirty flags), untouched ones included
                self.index.owes_old = True
            self.recent |= taken
        live = {m.uid for m in contents.messages}
        self.recent &= live
        return [_info(self.index, m, m.uid in self.recent if not self.readonly
                      else self.index.is_recent(m.uid)) for m in contents.messages]

    def _message(self, uid: int) -> MboxMessage:
        for msg in self._contents().messages:
            if msg.uid == uid:
                return msg
        raise StorageError("Message was expunged", "EXPUNGED")

    def data(self, uid: int) -> bytes:
        return self._message(uid).visible()

    def keywords(self) -> list[str]:
        contents = self._contents()
        names = list(contents.keywords)
        names += [k for k in self.index.keywords if k not in names]
        for msg in contents.messages:
            for flag in sorted(self.index.flags(msg)):
                if not flag.startswith("\\") and flag not in names:
                    names.append(flag)
        return names

    def register_keywords(self, names: Iterable[str]) -> None:
        """Dovecot keeps a keyword once named (STORE, SEARCH KEYWORD) until the file is rewritten."""
        known = self.keywords()
        self.index.keywords += [k for k in names if k not in known and not k.startswith("\\")]

    def store(self, uids: Iterable[int], add: Collection[str] = (),
              remove: Collection[str] = (), replace: Collection[str] | None = None) -> None:
        if self.readonly:
            raise StorageError("Mailbox is read-only.", "PERM")
        self.register_keywords([*add, *(replace or ())])
        by_uid = {m.uid: m for m in self._contents().messages}
        add_f = {canonical_flag(f) for f in add} - {RECENT}
        remove_f = {canonical_flag(f) for f in remove}
        for uid in uids:
            msg = by_uid.get(uid)
            if msg is None:
                continue
            if replace is not None:
                flags = {canonical_flag(f) for f in replace} - {RECENT}
            else:
                flags = (set(self.index.flags(msg)) | add_f) - remove_f
            if frozenset(flags) != msg.flags or uid in self.index.pending:
                self.index.pending[uid] = frozenset(flags)

    def expunge(self, uids: Collection[int] | None = None) -> list[int]:
        if self.readonly:
            raise StorageError("Mailbox is read-only.", "PERM")
        contents = self._contents()
        if uids is None:
            gone = [m.uid for m in contents.messages if "\\Deleted" in self.index.flags(m)]
        else:
            wanted = set(uids)
            gone = [m.uid for m in contents.messages if m.uid in wanted]
        if gone or self.index.pending:
            self.index.write(recent=self.recent, expunge=gone)
        return gone

    def copy(self, uids: Collection[int], dest: str) -> tuple[int, list[int], list[int]]:
        wanted = set(uids)
        msgs = [m for m in self._contents().messages if m.uid in wanted]
        items = [(m.visible(), self.index.flags(m) - {RECENT}, m.internaldate, m.sender)
                 for m in msgs]
        validity, new_uids = self.owner.save(dest, items)
        return validity, [m.uid for m in msgs], new_uids

    def checkpoint(self, check: bool = False) -> None:
        if not self.readonly:
            self.index.refresh(self.recent)
            self.index.write(recent=self.recent, touch_first=check)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.readonly and (self.index.pending or self.index.owes_old):
            self.index.write(recent=self.recent)


class UserStore:
    """One user's folders (see the module documentation)."""

    def __init__(self, store: "MailStore", user: str) -> None:
        self.store = store
        self.user = user
        self.mail_root = store.home(user) / "mail"

    # -- names and paths -----------------------------------------------------------
    def path(self, name: str) -> Path:
        if name.upper() == "INBOX":
            return self.store.inbox_path(self.user)
        parts = name.split("/")
        if (not name or name.startswith("~") or any(c in name for c in "\0\r\n")
                or any(p in ("", ".", "..") or p.startswith(".") for p in parts)
                or parts[0].upper() == "INBOX"):
            raise StorageError("Invalid mailbox name", "PARAMS")
        return self.mail_root.joinpath(*parts)

    def _existing(self, name: str) -> Path:
        path = self.path(name)
        if name.upper() == "INBOX":
            return path
        if not path.is_file():
            raise StorageError(f"Mailbox doesn't exist: {name}", "NOTFOUND")
        return path

    # -- folder list ---------------------------------------------------------------
    def _marked(self, path: Path) -> bool:
        if not path.is_file() or path.stat().st_size == 0:
            return False
        index = self.store.indexes.get(path)
        if index is not None:
            return any(index.is_recent(m.uid) for m in index.refresh().messages)
        return any(not m.old for m in Mbox(path).read().messages)

    def listing(self) -> list[MailboxListing]:
        out = [MailboxListing("INBOX")]

        def walk(folder: Path) -> None:
            for entry in sorted(folder.iterdir()):
                if entry.name.startswith(".") or entry.name.endswith(".lock"):
                    continue
                rel = entry.relative_to(self.mail_root).as_posix()
                if entry.is_dir():
                    children = any(not c.name.startswith(".") for c in entry.iterdir())
                    out.append(MailboxListing(rel, noselect=True, children=children))
                    walk(entry)
                elif entry.is_file():
                    out.append(MailboxListing(rel, noinferiors=True, marked=self._marked(entry)))

        if self.mail_root.is_dir():
            walk(self.mail_root)
        return out

    def subscriptions(self) -> list[str]:
        path = self.mail_root / SUBSCRIPTIONS
        if not path.is_file():
            return []
        return [ln for ln in path.read_text("utf-8").splitlines() if ln and not ln.startswith("V\t")]

    def _write_subscriptions(self, names: list[str]) -> None:
        self.mail_root.mkdir(parents=True, exist_ok=True)
        (self.mail_root / SUBSCRIPTIONS).write_text("".join(n + "\n" for n in names), "utf-8")

    def subscribe(self, name: str) -> None:
        self.path(name)
        names = self.subscriptions()
        if name not in names:
            self._write_subscriptions([*names, name])

    def unsubscribe(self, name: str) -> None:
        names = self.subscriptions()
        if name not in names:
            raise StorageError(f"Mailbox doesn't exist: {name}", "NOTFOUND")
        self._write_subscriptions([n for n in names if n != name])

    def create(self, name: str) -> None:
        directory = name.endswith("/")
        path = self.path(name.rstrip("/")) if name.rstrip("/") else self.path(name)
        if name.upper() == "INBOX" or path.exists():
            raise StorageError("Mailbox already exists", "EXISTS")
        if path.parent != self.mail_root and path.parent.is_file():
            raise StorageError("Mailbox doesn't allow inferior mailboxes", "NOTPOSSIBLE")
        path.parent.mkdir(parents=True, exist_ok=True)
        if directory:
            path.mkdir()
        else:
            path.touch(mode=0o600)

    def delete(self, name: str) -> None:
        if name.upper() == "INBOX":
            raise StorageError("INBOX can't be deleted.", "NONE")
        path = self.path(name)
        if path.is_dir():
            if any(path.iterdir()):
                raise StorageError("Mailbox has children, delete them first", "NOTPOSSIBLE")
            path.rmdir()
        elif path.is_file():
            path.unlink()
            self.store.indexes.pop(path, None)
        else:
            raise StorageError(f"Mailbox doesn't exist: {name}", "NOTFOUND")

    def rename(self, old: str, new: str) -> None:
        src, dst = self.path(old), self.path(new)
        if not src.exists():
            raise StorageError(f"Mailbox doesn't exist: {old}", "NOTFOUND")
        if new.upper() == "INBOX" or dst.exists():
            raise StorageError("Target mailbox already exists", "EXISTS")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if old.upper() == "INBOX":
            shutil.copyfile(src, dst)
            src.write_bytes(b"")
            self.store.indexes.pop(src, None)
            return
        os.rename(src, dst)
        self.store.indexes.pop(src, None)

    # -- messages --------------------------------------------------------------------
    def status(self, name: str) -> MailboxStatus:
        index = self.store.index(self._existing(name))
        contents = index.refresh()
        msgs = contents.messages
        return MailboxStatus(
            messages=len(msgs), recent=sum(index.is_recent(m.uid) for m in msgs),
            uidnext=index.next_uid, uidvalidity=index.uidvalidity or 0,
            unseen=sum(SEEN not in index.flags(m) for m in msgs),
            size=sum(rfc822_size(m.visible()) for m in msgs))

    def open(self, name: str, readonly: bool) -> MboxMailbox:
        return MboxMailbox(self, self.store.index(self._existing(name)), name, readonly)

    def save(self, name: str, items: Sequence[tuple[bytes, Collection[str], float, str]]
             ) -> tuple[int, list[int]]:
        """Append messages with their flags; (UIDVALIDITY, new UIDs)."""
        try:
            path = self._existing(name)
        except StorageError as exc:
            if exc.kind == "PARAMS":
                raise StorageError(f"Mailbox doesn't exist: {name}", "NOTFOUND") from None
            raise
        index = self.store.index(path)
        before = index.refresh()
        assert index.uidvalidity is not None
        uid, empty = index.next_uid, not before.messages and not before.pseudo
        with storage_errors():
            for data, flags, when, sender in items:
                base = f"{index.uidvalidity} {uid:010d}".encode() if empty else None
                wanted = frozenset(canonical_flag(f) for f in flags) - {RECENT}
                Mbox(path).append_record(saved_record(
                    data, uid=uid, flags=wanted, sender=sender or f"{self.user}@{self.store.host}",
                    when=when, imapbase=base), when)
                uid, empty = uid + 1, False
        contents = index.refresh()
        added = contents.messages[len(contents.messages) - len(items):] if items else []
        if items:
            index.write()
        assert index.uidvalidity is not None
        return index.uidvalidity, [m.uid for m in added]

    def append(self, name: str, data: bytes, flags: Collection[str],
               internaldate: float | None) -> tuple[int, int]:
        when = self.store.clock() if internaldate is None else internaldate
        validity, uids = self.save(name, [(data, flags, when, "")])
        return validity, uids[0]


class MailStore:
    """Accounts, auth and mailboxes of one host (see the module documentation)."""

    def __init__(self, root: str | Path, users_file: str | Path, host: str, *,
                 clock: Callable[[], float], default_scheme: str = "PLAIN",
                 first_pid: int = 1000) -> None:
        self.root = Path(root)
        self.host = host
        self.clock = clock
        self.passdb = PasswdFile(users_file, default_scheme)
        self.auth = AuthService(self.passdb, clock)
        self.indexes: dict[Path, MboxIndex] = {}
        self._pid = first_pid - 1
        self._last_uidvalidity = 0
        self._users: dict[str, UserStore] = {}

    # -- auth (StoreBackend) ---------------------------------------------------------
    @property
    def auth_failure_delay(self) -> float:
        return self.auth.failure_delay

    def auth_request(self, rip: str) -> AuthRequest:
        return self.auth.request(rip)

    def auth_verify(self, ticket: AuthRequest, user: str, password: str,
                    authzid: str = "") -> str | None:
        return self.auth.verify(ticket, user, password, authzid)

    def auth_verify_apop(self, ticket: AuthRequest, user: str, challenge: str,
                         digest: str) -> str | None:
        return self.auth.verify_apop(ticket, user, challenge, digest)

    def new_pid(self) -> int:
        self._pid += 1
        return self._pid

    # -- users and files ---------------------------------------------------------------
    def home(self, user: str) -> Path:
        passwd = self.root / "etc" / "passwd"
        if passwd.is_file():
            for line in passwd.read_text("utf-8", "replace").splitlines():
                fields = line.split(":")
                if len(fields) >= 6 and fields[0] == user and fields[5].startswith("/"):
                    return self.root / fields[5].lstrip("/")
        return self.root / "home" / user

    def inbox_path(self, user: str) -> Path:
        return self.root / "var" / "mail" / user

    def new_uidvalidity(self) -> int:
        """A folder's: Dovecot's dovecot-uidvalidity counter, the time first, then +1 each."""
        self._last_uidvalidity = (self._last_uidvalidity + 1 if self._last_uidvalidity
                                  else int(self.clock()))
        return self._last_uidvalidity

    def index(self, path: Path) -> MboxIndex:
        if path not in self.indexes:
            # an INBOX in /var/mail gets the time of its first sync, outside the counter
            inbox = path.parent == self.root / "var" / "mail"
            source = (lambda: int(self.clock())) if inbox else self.new_uidvalidity
            self.indexes[path] = MboxIndex(path, source, self.clock, self.host)
        return self.indexes[path]

    def mailboxes(self, user: str) -> UserStore:
        if user not in self._users:
            self._users[user] = UserStore(self, user)
        return self._users[user]
