"""NAME
    restrictions - smtpd(8) access restrictions (smtpd_check)

SUMMARY
    checks = SmtpdChecks(session)
    reply = await checks.rcpt("user@other.example")   # None = accepted
    checks.size(10240001)                           # 552 5.3.4 ... fixed limit

DESCRIPTION
    The restriction lists are evaluated as Postfix does: each list in order,
    the first restriction that decides ends the list (``permit_*`` -> the
    next list, ``reject_*`` -> the reply). With smtpd_delay_reject = yes
    (the default) the client, HELO and sender lists run at RCPT time, once
    per recipient, so that the log shows who was refused and what.

    At RCPT time the lists are smtpd_relay_restrictions, then
    smtpd_recipient_restrictions; when neither rejected,
    smtpd_reject_unlisted_recipient checks the address against the tables
    of its address class (recipients.py) -- which is also where an
    ``error:`` transport refuses the recipient.

    A rejection is logged as
    ``NOQUEUE: reject: RCPT from name[addr]: 550 5.1.1 <...>: ...;
    from=<...> to=<...> proto=ESMTP helo=<...>`` (the queue id instead of
    NOQUEUE once the transaction has one). soft_bounce turns 5xx into 4xx;
    warn_if_reject turns the next rejection into a ``reject_warning`` log.

PARAMETERS
    smtpd_client_restrictions, smtpd_helo_restrictions,
    smtpd_sender_restrictions, smtpd_relay_restrictions,
    smtpd_recipient_restrictions, smtpd_data_restrictions,
    smtpd_end_of_data_restrictions, smtpd_etrn_restrictions,
    smtpd_restriction_classes, smtpd_delay_reject, mynetworks,
    message_size_limit, soft_bounce, reject_code, defer_code, relay_domains_reject_code,
    access_map_reject_code, access_map_defer_code,
    non_fqdn_reject_code, invalid_hostname_reject_code,
    unknown_address_reject_code, unknown_client_reject_code,
    unknown_hostname_reject_code, smtpd_null_access_lookup_key.

SEE ALSO
    smtpd(8), access(5), postconf(5), SMTPD_ACCESS_README
"""

from __future__ import annotations

import re
from typing import Any

from .access import AccessMixin
from .lists import get, interface_addresses, match_namadr, parent_matches, split_list
from .recipients import check_rcpt_maps, resolve
from .replies import SIZE_FIXED_LIMIT, Reply
from .tokens import valid_hostaddr, valid_hostname

OK, DUNNO, REJECT = "ok", "dunno", "reject"

CLIENT, HELO, SENDER, RECIPIENT = "Client host", "Helo command", "Sender address", "Recipient address"
DATA, EOD, ETRN = "Data command", "End-of-data", "Etrn command"


class _Reject(Exception):
    """Raised by a restriction that has decided: the reply to send."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class SmtpdChecks(AccessMixin):
    """The access checks of one SMTP session."""

    def __init__(self, session: Any) -> None:
        self.s = session
        self.warn_if_reject = False
        self.depth = 0

    # -- configuration helpers -------------------------------------------------------
    @property
    def cfg(self) -> Any:
        return self.s.cfg

    def _int(self, name: str, default: int) -> int:
        try:
            return self.cfg.get_int(name)
        except (KeyError, ValueError):
            return default

    def _bool(self, name: str) -> bool:
        try:
            return self.cfg.get_bool(name)
        except (KeyError, ValueError):
            return False

    def _list(self, name: str) -> list[str]:
        return split_list(get(self.cfg, name))

    # -- entry points ----------------------------------------------------------------
    def size(self, size: int) -> Reply | None:
        """smtpd_check_size(): the SIZE= parameter against message_size_limit."""
        limit = self._int("message_size_limit", 10240000)
        if limit > 0 and size > limit:
            return self.reject(Reply(552, "5.3.4", SIZE_FIXED_LIMIT.text))
        return None

    async def client(self) -> Reply | None:
        return await self._run_lists([("smtpd_client_restrictions", self.s.namaddr, CLIENT)])

    async def helo(self) -> Reply | None:
        if not self.s.helo_name:
            return None
        return await self._run_lists([("smtpd_helo_restrictions", self.s.helo_name, HELO)])

    async def mail(self) -> Reply | None:
        if self.s.sender is None:
            return None
        return await self._run_lists([("smtpd_sender_restrictions", self.s.sender, SENDER)])

    async def rcpt(self, recipient: str) -> Reply | None:
        """smtpd_check_rcpt(): every list that applies to a recipient."""
        self.warn_if_reject = False
        if self._bool("smtpd_delay_reject"):
            for fn in (self.client, self.helo, self.mail):
                err = await fn()
                if err is not None:
                    return err
        lists = [("smtpd_relay_restrictions", recipient, RECIPIENT),
                 ("smtpd_recipient_restrictions", recipient, RECIPIENT)]
        err = await self._run_lists(lists)
        if err is not None:
            return err
        if self._bool("smtpd_reject_unlisted_recipient"):
            try:
                check_rcpt_maps(self, recipient, RECIPIENT)
            except _Reject as rej:
                return rej.reply
        return None

    async def data(self) -> Reply | None:
        return await self._run_lists([("smtpd_data_restrictions", "DATA", DATA)])

    async def eod(self) -> Reply | None:
        return await self._run_lists([("smtpd_end_of_data_restrictions", "END-OF-MESSAGE", EOD)])

    async def etrn(self, domain: str) -> Reply | None:
        return await self._run_lists([("smtpd_etrn_restrictions", domain, ETRN)])

    async def _run_lists(self, lists: list[tuple[str, str, str]]) -> Reply | None:
        for param, name, cls in lists:
            self.warn_if_reject = False
            try:
                await self.generic(self._list(param), name, cls)
            except _Reject as rej:
                return rej.reply
        return None

    # -- rejection ---------------------------------------------------------------------
    def reject(self, reply: Reply, log: bool = True) -> Reply:
        """smtpd_check_reject(): soft_bounce, logging; returns the reply."""
        if self._bool("soft_bounce"):
            reply = reply.soft()
        if log:
            self.s.log_whatsup("reject", str(reply))
        return reply

    def fail(self, code: int, dsn: str, text: str) -> None:
        """Reject (or, after warn_if_reject, only log) with '<code> <dsn> <text>'."""
        reply = Reply(code, dsn, text)
        if self.warn_if_reject:
            if self._bool("soft_bounce"):
                reply = reply.soft()
            self.s.log_whatsup("reject_warning", str(reply))
            self.warn_if_reject = False
            return
        raise _Reject(self.reject(reply))

    # -- list evaluation ----------------------------------------------------------------
    async def generic(self, restrictions: list[str], name: str, cls: str) -> str:
        """generic_checks(): OK (permit), DUNNO (no decision); raises _Reject."""
        i = 0
        while i < len(restrictions):
            word = restrictions[i]
            i += 1
            lower = word.lower()
            if lower.startswith("check_") and lower.endswith("_access"):
                if i >= len(restrictions):
                    self._config_error(f'restriction {word} requires maptype:mapname')
                table = restrictions[i]
                i += 1
                status = await self._check_access(lower, table, name, cls)
            else:
                status = await self._restriction(word, name, cls)
            if status == OK:
                return OK
            if lower == "warn_if_reject":
                continue
            self.warn_if_reject = False
        return DUNNO

    def _config_error(self, warning: str) -> None:
        self.s.log_warning(warning)
        raise _Reject(self.reject(Reply(451, "4.3.5", "Server configuration error")))

    async def _restriction(self, word: str, name: str, cls: str) -> str:
        s = self.s
        w = word.lower()
        reply_name = name
        if w == "permit":
            return OK
        if w == "reject":
            self.fail(self._int("reject_code", 554), "5.7.1", f"<{reply_name}>: {cls} rejected: Access denied")
            return DUNNO
        if w == "defer":
            self.fail(self._int("defer_code", 450), "4.7.1", f"<{reply_name}>: {cls} rejected: Access denied")
            return DUNNO
        if w == "warn_if_reject":
            self.warn_if_reject = True
            return DUNNO
        if w in ("defer_if_permit", "defer_if_reject", "reject_unauth_pipelining", "sleep",
                 "permit_mx_backup"):
            return DUNNO
        if w == "permit_mynetworks":
            return OK if self.in_mynetworks() else DUNNO
        if w == "permit_inet_interfaces":
            return OK if s.client_addr in interface_addresses(s.ctx, self.cfg) else DUNNO
        if w == "permit_sasl_authenticated":
            return OK if s.sasl_username else DUNNO
        if w == "reject_unknown_client_hostname" or w == "reject_unknown_reverse_client_hostname":
            if s.client_name == "unknown":
                what = "reverse hostname" if "reverse" in w else "hostname"
                self.fail(self._int("unknown_client_reject_code", 450), "4.7.25",
                          f"Client host rejected: cannot find your {what}, [{s.client_addr}]")
            return DUNNO
        if w.endswith("helo_hostname") or w in ("reject_invalid_hostname", "reject_non_fqdn_hostname",
                                                "reject_unknown_hostname"):
            return self._helo_restriction(w, word)
        if w in ("reject_non_fqdn_sender", "reject_unknown_sender_domain", "reject_unlisted_sender",
                 "reject_sender_login_mismatch", "reject_authenticated_sender_login_mismatch",
                 "reject_unauthenticated_sender_login_mismatch"):
            return self._sender_restriction(w)
        if w in ("reject_non_fqdn_recipient", "reject_unknown_recipient_domain",
                 "reject_unlisted_recipient", "reject_unauth_destination", "defer_unauth_destination",
                 "permit_auth_destination", "reject_unverified_recipient"):
            return self._recipient_restriction(w, cls)
        classes = self._list("smtpd_restriction_classes")
        if word in classes:
            if self.depth > 20:
                self._config_error(f"restriction class `{word}' nesting too deep")
            self.depth += 1
            try:
                return await self.generic(self._list(word), name, cls)
            finally:
                self.depth -= 1
        if w.startswith(("reject_rbl", "reject_rhsbl", "permit_dnswl", "permit_rhswl", "check_policy_service",
                         "reject_multi_recipient_bounce", "reject_plaintext_session", "permit_tls")):
            return DUNNO
        self._config_error(f'unknown smtpd restriction: "{word}"')
        return DUNNO

    def in_mynetworks(self) -> bool:
        s = self.s
        return match_namadr(s.ctx, get(self.cfg, "mynetworks"), s.client_name, s.client_addr,
                            parent=parent_matches(self.cfg, "mynetworks"))

    # -- HELO --------------------------------------------------------------------------
    def _helo_restriction(self, w: str, word: str) -> str:
        helo = self.s.helo_name or ""
        if not helo:
            return DUNNO
        if w == "reject_invalid_helo_hostname" or w == "reject_invalid_hostname":
            if not (valid_hostname(helo) or valid_hostaddr(helo)):
                self.fail(self._int("invalid_hostname_reject_code", 501), "5.5.2",
                          f"<{helo}>: Helo command rejected: Invalid name")
            return DUNNO
        if w in ("reject_non_fqdn_helo_hostname", "reject_non_fqdn_hostname"):
            if not valid_hostaddr(helo) and ("." not in helo.rstrip(".") or not valid_hostname(helo)):
                self.fail(self._int("non_fqdn_reject_code", 504), "5.5.2",
                          f"<{helo}>: Helo command rejected: need fully-qualified hostname")
            return DUNNO
        if w in ("reject_unknown_helo_hostname", "reject_unknown_hostname"):
            if not valid_hostaddr(helo) and self.s.host_lookup(helo) is None:
                self.fail(self._int("unknown_hostname_reject_code", 450), "4.7.1",
                          f"<{helo}>: Helo command rejected: Host not found")
            return DUNNO
        self._config_error(f'unknown smtpd restriction: "{word}"')
        return DUNNO

    # -- senders and recipients ---------------------------------------------------------
    def _non_fqdn(self, addr: str, cls: str) -> None:
        if not addr or addr.startswith("@") and ":" not in addr:
            return
        at = addr.rfind("@")
        domain = addr[at + 1:] if at >= 0 else ""
        if at < 0 or (not valid_hostaddr(domain) and "." not in domain.rstrip(".")):
            self.fail(self._int("non_fqdn_reject_code", 504), "5.5.2",
                      f"<{addr}>: {cls} rejected: need fully-qualified address")

    def _unknown_domain(self, addr: str, cls: str, dsn: str) -> None:
        at = addr.rfind("@")
        if at < 0:
            return
        domain = addr[at + 1:].rstrip(".")
        if not domain or domain.startswith("[") or valid_hostaddr(domain):
            return
        res = resolve(self.s.ctx, addr, self.s.sender or "", self.s.resolved)
        if res is not None and res.cls in ("local", "virtual_alias", "virtual_mailbox", "relay"):
            return
        if self.s.host_lookup(domain) is None:
            self.fail(self._int("unknown_address_reject_code", 450), dsn,
                      f"<{addr}>: {cls} rejected: Domain not found")

    def _sender_restriction(self, w: str) -> str:
        sender = self.s.sender
        if not sender:
            return DUNNO
        if w == "reject_non_fqdn_sender":
            self._non_fqdn(sender, SENDER)
        elif w == "reject_unknown_sender_domain":
            self._unknown_domain(sender, SENDER, "4.1.8")
        elif w == "reject_unlisted_sender":
            check_rcpt_maps(self, sender, SENDER)
        elif w.endswith("sender_login_mismatch"):
            self._login_mismatch(w, sender)
        return DUNNO

    def _login_mismatch(self, w: str, sender: str) -> None:
        from ..maps.address import lookup_address
        user = self.s.sasl_username
        if (w.startswith("reject_authenticated") and not user) or \
                (w.startswith("reject_unauthenticated") and user):
            return
        maps = [self.s.ctx.map(spec) for spec in self._list("smtpd_sender_login_maps")]
        found = lookup_address(maps, sender.lower(), get(self.cfg, "recipient_delimiter"), kind="access")
        owners = [o.strip() for o in re.split(r"[\s,]+", found[0]) if o.strip()] if found else []
        if user and user not in owners:
            self.fail(553, "5.7.1", f"<{sender}>: Sender address rejected: not owned by user {user}")
        if not user and owners:
            self.fail(553, "5.7.1", f"<{sender}>: Sender address rejected: not logged in")

    def _recipient_restriction(self, w: str, cls: str) -> str:
        rcpt = self.s.recipient
        if rcpt is None:
            return DUNNO
        if w == "reject_non_fqdn_recipient":
            self._non_fqdn(rcpt, RECIPIENT)
        elif w == "reject_unknown_recipient_domain":
            self._unknown_domain(rcpt, RECIPIENT, "4.1.2")
        elif w == "reject_unlisted_recipient":
            check_rcpt_maps(self, rcpt, RECIPIENT)
        elif w == "permit_auth_destination":
            return OK if self.auth_destination(rcpt) else DUNNO
        elif w in ("reject_unauth_destination", "defer_unauth_destination"):
            if not self.auth_destination(rcpt):
                if w.startswith("defer"):
                    code, dsn = 454, "4.7.1"
                else:
                    code, dsn = self._int("relay_domains_reject_code", 554), "5.7.1"
                self.fail(code, dsn, f"<{rcpt}>: Relay access denied")
        return DUNNO

    def auth_destination(self, rcpt: str) -> bool:
        """permit_auth_destination(): final or relay destination, and not source-routed."""
        res = resolve(self.s.ctx, rcpt, self.s.sender or "", self.s.resolved)
        if res is None or "@" not in res.address:
            return True
        if "routed" in res.flags and not self._bool("allow_untrusted_routing"):
            return False
        return res.cls in ("local", "virtual_alias", "virtual_mailbox", "relay")
