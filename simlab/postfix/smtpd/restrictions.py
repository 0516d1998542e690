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

    Temporary trouble changes later decisions instead of deciding at once:
    ``defer_if_permit`` (also DEFER_IF_PERMIT from a table or a policy
    server, and a DNS lookup that failed with reject_tempfail_action =
    defer_if_permit) turns an eventual permit of this stage into a 450 with
    the first such reason; ``defer_if_reject`` turns an eventual 5xx
    rejection into that 4xx. The defer_if_permit flag carries over from the
    client to the HELO, sender and recipient stages, as in smtpd_check.c.

    A rejection is logged as
    ``NOQUEUE: reject: RCPT from name[addr]: 550 5.1.1 <...>: ...;
    from=<...> to=<...> proto=ESMTP helo=<...>`` (the queue id instead of
    NOQUEUE once the transaction has one). soft_bounce turns 5xx into 4xx;
    after warn_if_reject the next restriction (a whole restriction class)
    only logs ``reject_warning``. The enhanced status code always gets the
    class digit of the reply code.

    The restrictions themselves: names and addresses in addrchecks.py,
    DNS-based ones in hostchecks.py and dnsxl.py, access tables in
    access.py, check_policy_service in policy.py.

PARAMETERS
    smtpd_client_restrictions, smtpd_helo_restrictions,
    smtpd_sender_restrictions, smtpd_relay_restrictions,
    smtpd_recipient_restrictions, smtpd_data_restrictions,
    smtpd_end_of_data_restrictions, smtpd_etrn_restrictions,
    smtpd_restriction_classes, smtpd_delay_reject, mynetworks,
    message_size_limit, soft_bounce, reject_code, defer_code, relay_domains_reject_code,
    non_fqdn_reject_code, invalid_hostname_reject_code, plaintext_reject_code,
    multi_recipient_bounce_reject_code. See postconf(5).

SEE ALSO
    smtpd(8), access(5), postconf(5), SMTPD_ACCESS_README
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..config.fallback import ParamGetters
from .access import AccessMixin
from .addrchecks import CLIENT, HELO, RECIPIENT, SENDER, AddressChecksMixin
from .dnsxl import DnsxlMixin
from .hostchecks import HostChecksMixin
from .lists import get, interface_addresses, match_namadr
from .policy import PolicyMixin
from .recipients import check_rcpt_maps
from .replies import SIZE_FIXED_LIMIT, Reply
from .tokens import valid_hostaddr, valid_hostname  # noqa: F401  (commands.py, extensions.py)

OK, DUNNO = "ok", "dunno"

DATA, EOD, ETRN = "Data command", "End-of-data", "Etrn command"
# Errors that warn_if_reject cannot turn into warnings (MAIL_ERROR_SOFTWARE/RESOURCE/DATA).
NOT_WARNABLE = frozenset({"software", "resource", "data"})
# Restrictions that take the next word as their argument.
WITH_ARGUMENT = frozenset({"check_policy_service", "sleep", "reject_rbl_client", "reject_rbl",
                           "permit_dnswl_client", "reject_rhsbl_client", "permit_rhswl_client",
                           "reject_rhsbl_reverse_client", "reject_rhsbl_helo", "reject_rhsbl_sender",
                           "reject_rhsbl_recipient"})


class _Reject(Exception):
    """Raised by a restriction that has decided: the reply to send."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply


@dataclass
class Defer:
    """A postponed decision (SMTPD_DEFER): the first reason is kept."""

    active: bool = False
    code: int = 0
    dsn: str = ""
    reason: str = ""
    error_class: str = "policy"


class SmtpdChecks(ParamGetters, AccessMixin, AddressChecksMixin, HostChecksMixin, DnsxlMixin, PolicyMixin):
    """The access checks of one SMTP session."""

    def __init__(self, session: Any) -> None:
        self.s = session
        # the session's Settings are fixed: its memo is read without going through self.s
        settings = session.settings
        self._list = settings.words  # type: ignore[method-assign]
        self._int = settings.int  # type: ignore[method-assign]
        self._bool = settings.bool  # type: ignore[method-assign]
        self.warn_if_reject = 0          # the list nesting level that said warn_if_reject
        self.recursion = 0
        self.defer_if_permit = Defer()
        self.defer_if_reject = Defer()
        self.dip_client = self.dip_helo = self.dip_sender = False
        self.policy_clients: dict[str, Any] = {}

    # -- configuration helpers -------------------------------------------------------
    @property
    def cfg(self) -> Any:
        return self.s.cfg

    def _list(self, name: str) -> tuple[str, ...]:
        return self.s.settings.words(name)

    def _int(self, name: str, default: int) -> int:
        return self.s.settings.int(name, default)

    def _bool(self, name: str, default: bool = False) -> bool:
        return self.s.settings.bool(name, default)

    # -- entry points ----------------------------------------------------------------
    def size(self, size: int) -> Reply | None:
        """smtpd_check_size(): the SIZE= parameter against message_size_limit."""
        limit = self._int("message_size_limit", 10240000)
        if limit > 0 and size > limit:
            return self.reject(Reply(552, "5.3.4", SIZE_FIXED_LIMIT.text))
        return None

    async def client(self) -> Reply | None:
        self.defer_if_permit.active = False
        err = await self._stage([("smtpd_client_restrictions", self.s.namaddr, CLIENT)])
        self.dip_client = self.defer_if_permit.active
        return err

    async def helo(self) -> Reply | None:
        if self.s.helo_name is None:
            return None
        self.defer_if_permit.active = self.dip_client
        err = await self._stage([("smtpd_helo_restrictions", self.s.helo_name, HELO)])
        self.dip_helo = self.defer_if_permit.active
        return err

    async def mail(self) -> Reply | None:
        if self.s.sender is None:
            return None
        self.defer_if_permit.active = self.dip_client or self.dip_helo
        err = await self._stage([("smtpd_sender_restrictions", self.s.sender, SENDER)])
        self.dip_sender = self.defer_if_permit.active
        return err

    async def rcpt(self, recipient: str) -> Reply | None:
        """smtpd_check_rcpt(): every list that applies to a recipient."""
        if self._bool("smtpd_delay_reject"):
            for fn in (self.client, self.helo, self.mail):
                err = await fn()
                if err is not None:
                    return err
        self.defer_if_permit.active = self.dip_sender
        err = await self._stage([("smtpd_relay_restrictions", recipient, RECIPIENT),
                                 ("smtpd_recipient_restrictions", recipient, RECIPIENT)], final=True)
        if err is None and self._bool("smtpd_reject_unlisted_recipient") and not self.discarding():
            try:
                check_rcpt_maps(self, recipient, RECIPIENT)
            except _Reject as rej:
                return rej.reply
        return err

    async def data(self) -> Reply | None:
        return await self._whole_message("smtpd_data_restrictions", "DATA", DATA)

    async def eod(self) -> Reply | None:
        return await self._whole_message("smtpd_end_of_data_restrictions", "END-OF-MESSAGE", EOD)

    async def _whole_message(self, param: str, name: str, cls: str) -> Reply | None:
        """smtpd_check_data/eod(): with several recipients, none is named in the log."""
        s = self.s
        saved = s.recipient
        if s.rcpt_count > 1:
            s.recipient = None
        try:
            self.defer_if_permit.active = False
            return await self._stage([(param, name, cls)], final=True)
        finally:
            s.recipient = saved

    async def etrn(self, domain: str) -> Reply | None:
        if self._bool("smtpd_delay_reject"):
            for fn in (self.client, self.helo):
                err = await fn()
                if err is not None:
                    return err
        self.defer_if_permit.active = self.dip_client or self.dip_helo
        self.etrn_name = domain
        try:
            return await self._stage([("smtpd_etrn_restrictions", domain, ETRN)], final=True)
        finally:
            self.etrn_name = None

    async def _stage(self, lists: list[tuple[str, str, str]], final: bool = False) -> Reply | None:
        """SMTPD_CHECK_RESET, the lists in order; at a final stage a pending defer_if_permit."""
        self.recursion = self.warn_if_reject = 0
        self.defer_if_reject.active = False
        try:
            for param, name, cls in lists:
                words = self._list(param)
                if words:       # an empty list decides nothing and changes no state
                    await self.generic(words, name, cls)
            if final and self.defer_if_permit.active:
                d = self.defer_if_permit
                self.fail(d.code, d.dsn, d.reason, d.error_class)
        except _Reject as rej:
            return rej.reply
        return None

    def discarding(self) -> bool:
        actions = self.s.saved_actions
        return bool(actions) and any(action == "DISCARD" for action, _ in actions)

    # -- rejection ---------------------------------------------------------------------
    def reject(self, reply: Reply, log: bool = True) -> Reply:
        """soft_bounce and logging of a reply that is not a restriction's; returns it."""
        if self._bool("soft_bounce"):
            reply = reply.soft()
        if log:
            self.s.log_whatsup("reject", str(reply))
        return reply

    def fail(self, code: int, dsn: str, text: str, error_class: str = "policy") -> None:
        """smtpd_check_reject(): raise the reply, or after warn_if_reject only log it."""
        warn = bool(self.warn_if_reject) and error_class not in NOT_WARNABLE
        if not 400 <= code <= 599 or not re.match(r"^[245]\.\d{1,3}\.\d{1,3}$", dsn):
            what = "SMTP reply code" if not 400 <= code <= 599 else "DSN detail code"
            self.s.log_warning(f"{what} configuration error: {code} {dsn} {text}")
            code, dsn, text = 450, "4.7.1", "Service unavailable"
        if not warn and self.defer_if_reject.active and code // 100 == 5:
            d = self.defer_if_reject
            self.warn_if_reject = 0
            d.active = False
            self.fail(d.code, d.dsn, d.reason, d.error_class)
            return
        reply = Reply(code, dsn, text[:510 - len(f"{code} {dsn} ")])
        if self._bool("soft_bounce"):
            reply = reply.soft()
        reply = Reply(reply.code, str(reply.code)[0] + reply.enhanced[1:], reply.text)
        self.s.log_whatsup("reject_warning" if warn else "reject", str(reply))
        if not warn:
            raise _Reject(reply)

    def defer_if(self, which: Defer, code: int, dsn: str, text: str, error_class: str = "policy") -> str:
        """defer_if(): remember the first reason to change our mind later."""
        if not which.active:
            which.active, which.code, which.dsn, which.reason = True, code, dsn, text
            which.error_class = error_class
        return DUNNO

    def defer_if_permit_or_reject(self, tempfail_param: str, code: int, dsn: str, text: str) -> str:
        """DEFER_IF_PERMIT2(): defer_if_permit, unless warn_if_reject or *_tempfail_action=defer."""
        action = get(self.cfg, tempfail_param, "defer_if_permit").strip().lower()
        if not self.warn_if_reject and action != "defer":
            return self.defer_if(self.defer_if_permit, code, dsn, text)
        self.fail(code, dsn, text)
        return DUNNO

    def _config_error(self, warning: str) -> None:
        """reject_server_error(): the warning, then 451 4.3.5 (never only a warning)."""
        self.s.log_warning(warning)
        self.fail(451, "4.3.5", "Server configuration error", "software")

    # -- list evaluation ----------------------------------------------------------------
    async def generic(self, restrictions: Sequence[str], name: str, cls: str) -> str:
        """generic_checks(): OK (permit), DUNNO (no decision); raises _Reject."""
        saved = self.recursion
        self.recursion += 1
        status = DUNNO
        try:
            i = 0
            while i < len(restrictions) and not self.discarding():
                word = restrictions[i]
                lower = word.lower()
                i += 1
                if lower == "warn_if_reject":
                    if not self.warn_if_reject:
                        self.warn_if_reject = self.recursion
                    continue
                arg = None
                if lower in WITH_ARGUMENT or (lower.startswith("check_") and lower.endswith("_access")):
                    arg = restrictions[i] if i < len(restrictions) else None
                    if arg is not None:
                        i += 1
                status = await self._restriction(word, arg, name, cls)
                if self.warn_if_reject >= self.recursion:
                    self.warn_if_reject = 0
                if status == OK or (self.defer_if_permit.active and self.defer_if_reject.active):
                    break
        finally:
            self.recursion = saved
            if self.warn_if_reject >= self.recursion:
                self.warn_if_reject = 0
        return status

    async def _restriction(self, word: str, arg: str | None, name: str, cls: str) -> str:
        s = self.s
        w = word.lower()
        if w.startswith("check_") and w.endswith("_access"):
            if arg is None or ":" not in arg:
                self._config_error(f'restriction {word}: bad argument "{arg or ""}": need maptype:mapname')
            assert arg is not None
            return await self._check_access(w, arg, name, cls)
        if w == "check_policy_service":
            if arg is None or ":" not in arg:
                self._config_error("restriction check_policy_service must be followed by transport:server")
            assert arg is not None
            return await self.check_policy_service(arg, name, cls)
        if w in WITH_ARGUMENT and w != "sleep":
            return self.dnsxl_restriction(w, arg, cls)
        if w == "permit":
            return OK
        if w == "reject":
            self.fail(self._int("reject_code", 554), "5.7.1", f"<{name}>: {cls} rejected: Access denied")
        elif w == "defer":
            self.fail(self._int("defer_code", 450), "4.3.2", f"<{name}>: {cls} rejected: Try again later")
        elif w == "defer_if_permit":
            text = f"<{name}>: {cls} rejected: defer_if_permit requested"
            if self.warn_if_reject:
                self.fail(450, "4.7.0", text)
            else:
                self.defer_if(self.defer_if_permit, 450, "4.7.0", text)
        elif w == "defer_if_reject":
            self.defer_if(self.defer_if_reject, 450, "4.7.0", f"<{name}>: {cls} rejected: defer_if_reject requested")
        elif w == "reject_unauth_pipelining":
            if s.ill_pipelining:
                self.fail(503, "5.5.0", f"<{name}>: {cls} rejected: Improper use of SMTP command pipelining",
                          "protocol")
        elif w == "sleep":
            if arg is None or not (arg.isascii() and arg.isdigit()):
                self._config_error("restriction sleep must be followed by number")
            await s.ctx.sleep(int(arg or 0))
        elif w == "reject_plaintext_session":
            self.fail(self._int("plaintext_reject_code", 450), "4.7.1", "Session encryption is required")
        elif w == "reject_multi_recipient_bounce":
            if s.sender == "" and s.rcpt_count > (s.where != "RCPT"):
                self.fail(self._int("multi_recipient_bounce_reject_code", 550), "5.5.3",
                          f"<{name}>: {cls} rejected: Multi-recipient bounce")
        elif w == "permit_mynetworks":
            return OK if self.in_mynetworks() else DUNNO
        elif w == "permit_inet_interfaces":
            return OK if s.client_addr in interface_addresses(s.ctx, self.cfg) else DUNNO
        elif w == "permit_sasl_authenticated":
            return OK if s.sasl_username else DUNNO
        elif w in ("permit_tls_clientcerts", "permit_tls_all_clientcerts", "reject_unverified_sender",
                   "reject_unverified_recipient"):
            return DUNNO            # no TLS, and no verify(8) address probes in simlab
        elif w in ("reject_invalid_helo_hostname", "reject_invalid_hostname", "reject_non_fqdn_helo_hostname",
                   "reject_non_fqdn_hostname"):
            self._helo_syntax(w)
        elif w in ("reject_non_fqdn_sender", "reject_unlisted_sender", "reject_sender_login_mismatch",
                   "reject_authenticated_sender_login_mismatch", "reject_known_sender_login_mismatch",
                   "reject_unauthenticated_sender_login_mismatch"):
            self._sender_restriction(w)
        elif w in ("reject_non_fqdn_recipient", "reject_unlisted_recipient", "check_recipient_maps",
                   "reject_unauth_destination", "defer_unauth_destination", "permit_auth_destination"):
            return self._recipient_restriction(w)
        elif w == "reject_maps_rbl":
            return self.reject_maps_rbl()
        elif self.is_host_check(w):
            return await self.host_check(w, name, cls)
        elif word in self._list("smtpd_restriction_classes"):
            if self.recursion > 100:
                self._config_error(f"restriction class `{word}' nesting too deep")
            return await self.generic(self._list(word), name, cls)
        else:
            self._config_error(f'unknown smtpd restriction: "{word}"')
        return DUNNO

    def in_mynetworks(self) -> bool:
        s = self.s
        settings = s.settings
        return match_namadr(s.ctx, settings.text("mynetworks"), s.client_name, s.client_addr,
                            parent="mynetworks" in settings.words("parent_domain_matches_subdomains", "mynetworks"))
