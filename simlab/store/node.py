"""NAME
    node - a Dovecot-like store node: LMTP, POP3, IMAP and deliver on one simulated host

SUMMARY
    store = StoreNode(net.host("store.example.com", ip="10.0.0.30"), users=["erin", "frank"])
    # on the MTA:  mailbox_transport = lmtp:inet:store.example.com:24
    store.messages("erin"); store.set_quota("erin", "10k"); store.configure(quota_full_tempfail=True)
    store.log_lines()            # Dovecot's log (ROOT/var/log/dovecot.log)

DESCRIPTION
    Starts on a Host what the lab's Dovecot runs: lmtp on port 24
    (simlab.store.lmtpd), pop3 on 110 and imap on 143 (simlab.store.pop3d,
    simlab.store.imapd), all on one MailStore so that a message delivered
    over LMTP is at once in a POP3 or IMAP session's view, and installs
    the LDA as /usr/lib/dovecot/deliver and /usr/lib/dovecot/dovecot-lda
    for a Postfix on the same host (mailbox_command). ``users`` are added to
    the host's /etc/passwd and etc/dovecot/users (password USER-pw).

    Settings a lesson may change, at creation or with ``configure``:
    mail_location ("mbox:~/mail:INBOX=/var/mail/%u" or "maildir:~/Maildir"),
    quota (user -> limit, see simlab.store.quota) and quota_rule (the
    default for everyone), quota_full_tempfail (452/EX_TEMPFAIL instead of
    552/rejection for a full mailbox), lmtp_rcpt_check_quota (refuse a full
    mailbox at RCPT), lmtp_save_to_detail_mailbox (user+folder@domain goes to
    that folder), recipient_delimiter, lda_mailbox_autocreate.

    The log lines go to ROOT/var/log/dovecot.log and to the trace.

PARAMETERS
    mail_location, quota_rule, quota_full_tempfail, lmtp_rcpt_check_quota,
    recipient_delimiter, login_greeting, first_valid_uid.

SEE ALSO
    simlab.store.lmtpd, simlab.store.lda, simlab.store.delivery, Dovecot 2.3
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
from email.message import EmailMessage
from typing import Any

from ..proto.lmtp_delivery import LmtpSettings
from .delivery import DeliverSettings, MailDeliverer, ensure_users
from .imapd import imap_handler
from .lda import register_lda
from .lmtpd import ProcessPool, lmtp_handler
from .maildir import Maildir
from .mailstore import MailStore
from .mbox import Mbox
from .pop3d import pop3_handler
from .quota import Quota
from .servers import DovecotLog

_DELIVER_KEYS = {f.name for f in dataclasses.fields(DeliverSettings)}
_LMTP_KEYS = {"recipient_delimiter": "recipient_delimiter",
              "lmtp_rcpt_check_quota": "rcpt_check_quota",
              "lmtp_save_to_detail_mailbox": "save_to_detail_mailbox",
              "quota_full_tempfail": "quota_full_tempfail"}


class StoreNode:
    """Dovecot's lmtp, pop3, imap and lda on one simulated host."""

    def __init__(self, host: Any, users: list[str] | tuple[str, ...] | None = None, *,
                 lmtp_port: int | None = 24, pop3_port: int | None = 110,
                 imap_port: int | None = 143, mail_location: str = "mbox:~/mail:INBOX=/var/mail/%u",
                 quota: dict[str, str | int | None] | None = None, quota_rule: str = "",
                 quota_full_tempfail: bool = False, lmtp_rcpt_check_quota: bool = False,
                 recipient_delimiter: str = "+", epoch0: float | None = None,
                 start: bool = True) -> None:
        from ..postfix.common.context import LAB_EPOCH, HostTrace, VirtualClock
        self.host = host
        self.net = host.net
        self.ports = {"lmtp": lmtp_port, "pop3": pop3_port, "imap": imap_port}
        ensure_users(host.root, list(users or ()))
        self.clock = VirtualClock(self.net.loop, LAB_EPOCH if epoch0 is None else epoch0).now
        users_file = host.root / "etc" / "dovecot" / "users"
        self.store = MailStore(host.root, users_file, host.name, clock=self.clock)
        self.log = DovecotLog(host.root, self.clock,
                              HostTrace(self.net.trace, host.name, self.net.loop.time))
        self.quota = Quota(users_file, default=quota_rule, limits=quota)
        self.deliverer = MailDeliverer(
            self.store, DeliverSettings(hostname=host.name, mail_location=mail_location,
                                        quota_full_tempfail=quota_full_tempfail),
            self.log, self.quota)
        self.lmtp_settings = LmtpSettings(hostname=host.name, recipient_delimiter=recipient_delimiter,
                                          rcpt_check_quota=lmtp_rcpt_check_quota,
                                          quota_full_tempfail=quota_full_tempfail)
        self.pids = ProcessPool(self.store.new_pid)
        self.running = False
        if start:
            self.start()

    def __repr__(self) -> str:
        return f"<StoreNode {self.host.name}>"

    # -- life cycle -------------------------------------------------------------------------
    def start(self) -> "StoreNode":
        if self.running:
            return self
        host = self.host
        if self.ports["lmtp"]:
            host.listen_streams(self.ports["lmtp"], lmtp_handler(
                self.deliverer, self.clock, self.log, settings=lambda: self.lmtp_settings,
                pids=self.pids), component="lmtp")
        if self.ports["pop3"]:
            host.listen_streams(self.ports["pop3"], pop3_handler(self.store, self.clock, self.log),
                                component="pop3d")
        if self.ports["imap"]:
            host.listen_streams(self.ports["imap"], imap_handler(self.store, self.clock, self.log),
                                component="imapd")
        register_lda(host, self.deliverer)
        if "store" not in host.roles:
            host.roles.append("store")
        host.services["dovecot"] = self
        host.services["store"] = self.store
        self.running = True
        return self

    def stop(self) -> None:
        for port in self.ports.values():
            if port:
                self.host.unlisten(port)
        self.running = False

    def configure(self, **settings: Any) -> None:
        """Change settings (the module documentation lists them); new connections use them."""
        deliver = {k: v for k, v in settings.items() if k in _DELIVER_KEYS}
        lmtp = {_LMTP_KEYS[k]: v for k, v in settings.items() if k in _LMTP_KEYS}
        unknown = set(settings) - _DELIVER_KEYS - set(_LMTP_KEYS) - {"quota_rule"}
        if unknown:
            raise TypeError(f"unknown store setting: {', '.join(sorted(unknown))}")
        if deliver:
            self.deliverer.settings = dataclasses.replace(self.deliverer.settings, **deliver)
        if lmtp:
            self.lmtp_settings = dataclasses.replace(self.lmtp_settings, **lmtp)
        if "quota_rule" in settings:
            self.quota.default = Quota(default=settings["quota_rule"]).default

    def set_quota(self, user: str, limit: str | int | None) -> int | None:
        """A user's storage limit ("10k", bytes, None = back to the rules); returns the old one."""
        return self.quota.set(user, limit)

    # -- looking at it ------------------------------------------------------------------------
    def messages(self, user: str) -> list[EmailMessage]:
        """The messages in USER's INBOX, parsed."""
        if self.deliverer.maildir:
            raw = [m.data for m in Maildir(self.deliverer.maildir_path(user), self.host.name).messages()]
        else:
            box = Mbox(self.store.inbox_path(user))
            raw = [m.data for m in box.messages()] if box.exists() else []
        return [email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[misc]
                for data in raw]

    def log_lines(self) -> list[str]:
        """Dovecot's log lines so far."""
        return list(self.log.lines)
