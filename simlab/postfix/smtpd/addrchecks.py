"""NAME
    addrchecks - smtpd(8) restrictions on the syntax and the destination of names and addresses

SUMMARY
    reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
    reject_non_fqdn_sender, reject_non_fqdn_recipient, reject_unlisted_sender,
    reject_unlisted_recipient, reject_*sender_login_mismatch,
    permit_auth_destination, reject_unauth_destination, defer_unauth_destination

DESCRIPTION
    HELO names are checked as smtpd_check.c does: one trailing dot is
    ignored, an address literal [1.2.3.4] must be a valid address
    ("invalid ip address"), a name must be a valid host name ("Invalid
    name", invalid_hostname_reject_code) and, for the non_fqdn checks,
    contain a dot ("need fully-qualified hostname", non_fqdn_reject_code).
    An address needs a fully-qualified domain ("need fully-qualified
    address"). A recipient is an authorized destination when it resolves
    to a local, virtual or relay domain and is not source-routed (unless
    allow_untrusted_routing); otherwise "Relay access denied" with
    relay_domains_reject_code (defer_unauth_destination: 100 less, 4.7.1).
    When the address resolver fails (a table it needs cannot be read), the
    recipient is refused for now: "451 4.3.0 <addr>: Temporary lookup failure".
    The sender login checks compare the SASL login with the owners that
    smtpd_sender_login_maps lists for the sender address.

PARAMETERS
    invalid_hostname_reject_code, non_fqdn_reject_code,
    relay_domains_reject_code, allow_untrusted_routing,
    smtpd_sender_login_maps, recipient_delimiter. See postconf(5).

SEE ALSO
    smtpd(8), postconf(5), restrictions.py
"""

from __future__ import annotations

import re
from typing import Any

from .lists import get
from .recipients import check_rcpt_maps, resolve, temporary_lookup_failure
from .tokens import valid_hostaddr, valid_hostname

OK, DUNNO = "ok", "dunno"
CLIENT, HELO, SENDER, RECIPIENT = "Client host", "Helo command", "Sender address", "Recipient address"
REV_CLIENT = "Unverified Client host"


class AddressChecksMixin:
    """Name and address restrictions for SmtpdChecks (which provides fail() and the settings)."""

    s: Any
    cfg: Any
    fail: Any
    _int: Any
    _bool: Any
    _list: Any

    # -- HELO syntax ----------------------------------------------------------------------
    def _helo_syntax(self, w: str) -> None:
        helo = self.s.helo_name
        if helo is None:
            return
        if helo.startswith("["):
            self.reject_invalid_hostaddr(helo, HELO)
            return
        test = helo[:-1] if len(helo) > 1 and helo.endswith(".") and not helo.endswith("..") else helo
        if "invalid" in w:
            if not (valid_hostname(test) or valid_hostaddr(test)):
                self.fail(self._int("invalid_hostname_reject_code", 501), "5.5.2",
                          f"<{helo}>: Helo command rejected: Invalid name")
        elif not valid_hostname(test) or "." not in test:
            self.fail(self._int("non_fqdn_reject_code", 504), "5.5.2",
                      f"<{helo}>: Helo command rejected: need fully-qualified hostname")

    def reject_invalid_hostaddr(self, addr: str, cls: str) -> None:
        bare = addr[1:-1] if addr.startswith("[") and addr.endswith("]") and len(addr) > 2 else addr
        if not valid_hostaddr(bare):
            self.fail(self._int("invalid_hostname_reject_code", 501), "5.5.2",
                      f"<{addr}>: {cls} rejected: invalid ip address")

    # -- senders and recipients ---------------------------------------------------------
    def _non_fqdn(self, addr: str, cls: str) -> None:
        domain = addr[addr.rfind("@") + 1:] if "@" in addr else ""
        if domain.startswith("[") and domain.endswith("]"):
            return
        test = domain[:-1] if len(domain) > 1 and domain.endswith(".") and not domain.endswith("..") else domain
        if not test or not valid_hostname(test) or "." not in test:
            self.fail(self._int("non_fqdn_reject_code", 504), "5.5.2",
                      f"<{addr}>: {cls} rejected: need fully-qualified address")

    def _sender_restriction(self, w: str) -> None:
        sender = self.s.sender
        if not sender:
            return
        if w == "reject_non_fqdn_sender":
            self._non_fqdn(sender, SENDER)
        elif w == "reject_unlisted_sender":
            check_rcpt_maps(self, sender, SENDER)
        else:
            self._login_mismatch(w, sender)

    def _login_mismatch(self, w: str, sender: str) -> None:
        from ..maps.address import lookup_address
        user = self.s.sasl_username
        if (w.startswith("reject_authenticated") and not user) or \
                (w.startswith("reject_unauthenticated") and user):
            return
        maps = [self.s.ctx.map(spec) for spec in self._list("smtpd_sender_login_maps")]
        found = lookup_address(maps, sender.lower(), get(self.cfg, "recipient_delimiter"), kind="access")
        owners = [o.strip() for o in re.split(r"[\s,]+", found[0]) if o.strip()] if found else []
        if user and w == "reject_known_sender_login_mismatch" and not owners:
            return
        if user and user.lower() not in [o.lower() for o in owners]:
            self.fail(553, "5.7.1", f"<{sender}>: Sender address rejected: not owned by user {user}")
        if not user and owners:
            self.fail(553, "5.7.1", f"<{sender}>: Sender address rejected: not logged in")

    def _recipient_restriction(self, w: str) -> str:
        rcpt = self.s.recipient
        if rcpt is None:
            return DUNNO
        if w == "reject_non_fqdn_recipient":
            self._non_fqdn(rcpt, RECIPIENT)
        elif w in ("reject_unlisted_recipient", "check_recipient_maps"):
            if rcpt:
                check_rcpt_maps(self, rcpt, RECIPIENT)
        elif w == "permit_auth_destination":
            return OK if self.auth_destination(rcpt) else DUNNO
        elif w in ("reject_unauth_destination", "defer_unauth_destination"):
            if not self.auth_destination(rcpt):
                code = self._int("relay_domains_reject_code", 554)
                if w.startswith("defer"):
                    self.fail(code - 100, "4.7.1", f"<{rcpt}>: Relay access denied")
                else:
                    self.fail(code, "5.7.1", f"<{rcpt}>: Relay access denied")
        return DUNNO

    def auth_destination(self, rcpt: str) -> bool:
        """permit_auth_destination(): final or relay destination, and not source-routed."""
        res = resolve(self.s.ctx, rcpt, self.s.sender or "", self.s.resolved)
        if res is not None and "fail" in res.flags:
            temporary_lookup_failure(self, rcpt)
        if res is None or "@" not in res.address:
            return True
        if "routed" in res.flags and not self._bool("allow_untrusted_routing"):
            return False
        return res.cls in ("local", "virtual_alias", "virtual_mailbox", "relay")
