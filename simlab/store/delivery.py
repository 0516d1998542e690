"""NAME
    delivery - Dovecot's mail_deliver for a host: userdb lookups, quota, saving, the delivery log

SUMMARY
    d = MailDeliverer(store, DeliverSettings(hostname="store.example.com"), log, quota)
    d.lookup("erin@example.com")          # "erin", or None: User doesn't exist
    d.over_quota("erin")                  # "Quota exceeded (...)" or None
    d.save("erin", "INBOX", message, sender, session_id, pid, service="lda")   # DeliveryResult
    d.deliver(job)                        # the LMTP backend entry (simlab.proto.lmtp_delivery)

DESCRIPTION
    What the LMTP server and the LDA (deliver) share, as Dovecot's
    lib-lda does: the userdb lookup of a recipient, the quota check, saving
    the message into the user's mailbox and the delivery log line

        lmtp(erin)<1001><5Mp1AAAAAAAAMnoK/AAAAA>: Info: msgid=<1@pc.example.com>: saved mail to INBOX
        lda(erin)<1002><...>: Info: msgid=<2@pc.example.com>: save failed to INBOX:
            Quota exceeded (mailbox for user is full)

    Users: the name is the address's local part, lower-cased (the lab's
    auth_username_format = %Ln for lmtp); it exists when the store's
    passwd-file (etc/dovecot/users) has it, or /etc/passwd has it with a
    uid of at least first_valid_uid (userdb passwd).

    mail_location is "mbox:~/mail:INBOX=/var/mail/%u" (the lab's: INBOX is
    the mbox file local(8) also writes, folders are mbox files under
    ~/mail, all through the store's indexes so that POP3 and IMAP sessions
    see the new mail at once) or "maildir:~/Maildir" (INBOX is the Maildir,
    a folder X is ~/Maildir/.X, Maildir++). A folder that does not exist is
    created only with lda_mailbox_autocreate; a message that cannot be
    saved to the wanted folder goes to INBOX instead.

PARAMETERS
    mail_location, first_valid_uid, lda_mailbox_autocreate,
    quota_full_tempfail, deliver_log_format (msgid=%m: %$),
    mail_log_prefix (%s(%u)<%{pid}><%{session}>: ).

SEE ALSO
    Dovecot LDA, mail-deliver.c, simlab.store.quota, simlab.store.lmtpd, simlab.store.lda
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..proto.lmtp_delivery import Delivery, DeliveryResult
from ..proto.mailbox import StorageError
from ..sim.rootfs import read_passwd
from .maildir import Maildir
from .mailstore import MailStore
from .message import MailboxError
from .quota import QUOTA_EXCEEDED, Quota

Log = Callable[[str, str], None]
_MSGID = re.compile(rb"(?im)^message-id:[ \t]*((?:.*)(?:\n[ \t].*)*)")


@dataclass(frozen=True)
class DeliverSettings:
    hostname: str
    mail_location: str = "mbox:~/mail:INBOX=/var/mail/%u"
    first_valid_uid: int = 1000
    lda_mailbox_autocreate: bool = False
    quota_full_tempfail: bool = False


def message_id(message: bytes) -> str:
    """The Message-ID as Dovecot's %m logs it ("unspecified" when there is none)."""
    head = message.split(b"\n\n", 1)[0]
    m = _MSGID.search(head)
    if m is None:
        return "unspecified"
    return " ".join(m.group(1).decode("utf-8", "replace").split())[:200] or "unspecified"


class MailDeliverer:
    """mail_deliver for the accounts of one MailStore (see the module documentation)."""

    def __init__(self, store: MailStore, settings: DeliverSettings, log: Log,
                 quota: Quota | None = None) -> None:
        self.store = store
        self.settings = settings
        self.log = log
        self.quota = quota if quota is not None else Quota(store.passdb.path)
        if self.quota.usage is None:
            self.quota.usage = self.usage
        self._inode = itertools.count(1)

    # -- userdb --------------------------------------------------------------------------
    def lookup(self, username: str) -> str | None:
        """The account for a recipient name or address, None when the user does not exist."""
        name = username.rpartition("@")[0] if "@" in username else username
        name = name.lower()
        if not name:
            return None
        if self.store.passdb.lookup(name) is not None:
            return name
        entry = read_passwd(self.store.root / "etc" / "passwd").get(name)
        if entry is not None and entry.uid >= self.settings.first_valid_uid:
            return name
        return None

    # -- mail location -------------------------------------------------------------------
    @property
    def maildir(self) -> bool:
        return self.settings.mail_location.startswith("maildir:")

    def maildir_path(self, user: str, mailbox: str = "INBOX") -> Path:
        spec = self.settings.mail_location.split(":", 1)[1].split(":", 1)[0]
        base = self._expand(spec, user)
        return base if mailbox.upper() == "INBOX" else base / ("." + mailbox.replace("/", "."))

    def _expand(self, spec: str, user: str) -> Path:
        text = spec.replace("%u", user).replace("%n", user)
        if text.startswith("~"):
            return self.store.home(user) / text[1:].lstrip("/")
        return self.store.root / text.lstrip("/")

    def mail_files(self, user: str) -> list[Path]:
        """Every file that holds this user's mail (for the quota usage)."""
        if self.maildir:
            root = self.maildir_path(user)
            return [p for p in root.rglob("*") if p.is_file() and p.parent.name in ("new", "cur")]
        out = [self.store.inbox_path(user)]
        folders = self.store.home(user) / "mail"
        if folders.is_dir():
            out += [p for p in folders.rglob("*") if p.is_file() and not p.name.startswith(".")]
        return out

    def usage(self, user: str) -> int:
        total = 0
        for path in self.mail_files(user):
            try:
                total += path.stat().st_size
            except OSError:
                pass
        return total

    # -- quota ---------------------------------------------------------------------------
    def over_quota(self, account: str) -> str | None:
        return QUOTA_EXCEEDED if self.quota.over(account) else None

    # -- saving --------------------------------------------------------------------------
    def _save_one(self, user: str, mailbox: str, message: bytes, sender: str, pid: int) -> None:
        """Raise StorageError/MailboxError/OSError when the message could not be saved."""
        when = self.store.clock()
        if self.maildir:
            path = self.maildir_path(user, mailbox)
            if mailbox.upper() != "INBOX" and not path.is_dir():
                if not self.settings.lda_mailbox_autocreate:
                    raise StorageError(f"Mailbox doesn't exist: {mailbox}", "NOTFOUND")
            box = Maildir(path, self.store.host, counter=lambda: next(self._inode))
            box.append(message, sender, when, pid=pid)
            return
        folders = self.store.mailboxes(user)
        if mailbox.upper() != "INBOX" and not folders.path(mailbox).is_file() \
                and self.settings.lda_mailbox_autocreate:
            folders.create(mailbox)
        folders.save("INBOX" if mailbox.upper() == "INBOX" else mailbox,
                     [(message, (), when, sender)])

    def save(self, user: str, mailbox: str, message: bytes, sender: str, session_id: str,
             pid: int, service: str = "lmtp") -> DeliveryResult:
        """Save to MAILBOX (INBOX when that fails), logging each attempt as Dovecot does."""
        prefix = f"{service}({user})<{pid}><{session_id}>"
        msgid = message_id(message)
        result = DeliveryResult("tempfail", "Temporary internal error")
        for name in dict.fromkeys([mailbox, "INBOX"]):
            error = self.quota.check(user, len(message))
            if error is not None:
                self.log(prefix, f"Info: msgid={msgid}: save failed to {name}: {error}")
                result = DeliveryResult("quota", error)
                continue
            try:
                self._save_one(user, name, message, sender, pid)
            except StorageError as exc:
                self.log(prefix, f"Info: msgid={msgid}: save failed to {name}: {exc.text}")
                result = DeliveryResult("tempfail", exc.text)
                continue
            except (MailboxError, OSError) as exc:
                text = getattr(exc, "strerror", None) or str(exc)
                self.log(prefix, f"Error: Mailbox {name}: {text}")
                self.log(prefix, f"Info: msgid={msgid}: save failed to {name}: "
                                 "Internal error occurred. Refer to server log for more information.")
                result = DeliveryResult("tempfail", "Internal error occurred. "
                                                    "Refer to server log for more information.")
                continue
            self.log(prefix, f"Info: msgid={msgid}: saved mail to {name}")
            return DeliveryResult("saved")
        return result

    def deliver(self, job: Delivery) -> DeliveryResult:
        """The LMTP backend entry: one recipient's copy (into INBOX, or its +detail folder)."""
        return self.save(job.account, job.mailbox, job.message, job.sender, job.session_id, job.pid,
                         job.service)


def ensure_users(root: Path, users: list[str] | tuple[str, ...]) -> None:
    """Add missing accounts to ROOT's /etc/passwd, /etc/group and Dovecot's users file."""
    from ..sim.rootfs import init_root
    if not (root / "etc" / "passwd").exists():
        init_root(root, root.name, users=list(users))
        return
    passwd = root / "etc" / "passwd"
    known_accounts = read_passwd(passwd)
    names = set(known_accounts)
    uids = [e.uid for e in known_accounts.values()]
    next_uid = max([u for u in uids if 1000 <= u < 60000] + [999]) + 1
    users_file = root / "etc" / "dovecot" / "users"
    users_file.parent.mkdir(parents=True, exist_ok=True)
    known = {ln.split(":", 1)[0].lower() for ln in (users_file.read_text().splitlines()
                                                     if users_file.exists() else [])}
    for user in users:
        if user not in names:
            with open(passwd, "a") as fh:
                fh.write(f"{user}:x:{next_uid}:{next_uid}:{user.capitalize()},,,:/home/{user}:/bin/bash\n")
            with open(root / "etc" / "group", "a") as fh:
                fh.write(f"{user}:x:{next_uid}:\n")
            next_uid += 1
        if user.lower() not in known:
            with open(users_file, "a") as fh:
                fh.write(f"{user}:{{PLAIN}}{user}-pw\n")
        os.makedirs(root / "home" / user, exist_ok=True)
    (root / "var" / "mail").mkdir(parents=True, exist_ok=True)
