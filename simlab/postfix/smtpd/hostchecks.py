"""NAME
    hostchecks - smtpd(8) restrictions that ask the DNS about names

SUMMARY
    reject_unknown_client_hostname, reject_unknown_reverse_client_hostname,
    reject_unknown_helo_hostname, reject_unknown_sender_domain,
    reject_unknown_recipient_domain, permit_mx_backup

DESCRIPTION
    reject_unknown_client_hostname refuses a client whose name could not
    be verified (no PTR record, or a PTR name whose addresses do not
    include the client's): "450 4.7.25 Client host rejected: cannot find
    your hostname, [1.2.3.4]"; reject_unknown_reverse_client_hostname only
    a client without any PTR name ("... cannot find your reverse hostname,
    [1.2.3.4]", 4.7.1). The code is unknown_client_reject_code, but 450
    when the lookup failed temporarily.

    reject_unknown_helo_hostname refuses a HELO name without A, AAAA or
    MX record ("<name>: Helo command rejected: Host not found",
    unknown_hostname_reject_code); reject_unknown_sender_domain and
    reject_unknown_recipient_domain a domain (of an address that is not
    local, virtual alias or virtual mailbox) without MX, A or AAAA record
    ("<addr>: Sender address rejected: Domain not found", 4.1.8 /
    "Recipient address rejected", 4.1.2; unknown_address_reject_code), or
    with a null MX ("Domain D does not accept mail (nullMX)", 550 5.7.27 /
    556 5.1.10). A temporary DNS failure gives 450 through
    defer_if_permit, or at once when *_tempfail_action = defer.

    permit_mx_backup permits a recipient whose domain lists this host as
    a backup MX (never as a primary one), by name (mydestination) or by
    address (inet_interfaces, proxy_interfaces), and when
    permit_mx_backup_networks is set only if every primary MX address is
    in it; local and relay destinations are permitted as by
    permit_auth_destination.

    Under ``simlab serve`` there is no DNS to ask: client names come from
    /etc/hosts (and localhost), and every other name is taken as known.

PARAMETERS
    unknown_client_reject_code, unknown_hostname_reject_code,
    unknown_address_reject_code, unknown_helo_hostname_tempfail_action,
    unknown_address_tempfail_action, reject_tempfail_action,
    permit_mx_backup_networks, mydestination, inet_interfaces,
    proxy_interfaces. See postconf(5).

SEE ALSO
    smtpd(8), postconf(5), RFC 7505 (null MX)
"""

from __future__ import annotations

from typing import Any

from .lists import get, interface_addresses, match_domain, match_namadr, parent_matches
from .recipients import resolve

OK, DUNNO = "ok", "dunno"
HOST_CHECKS = frozenset({"reject_unknown_client_hostname", "reject_unknown_client",
                         "reject_unknown_reverse_client_hostname", "reject_unknown_helo_hostname",
                         "reject_unknown_hostname", "reject_unknown_sender_domain", "reject_unknown_address",
                         "reject_unknown_recipient_domain", "permit_mx_backup"})
# dns_strerror() / MAI_STRERROR() texts
TRY_AGAIN = "Host not found, try again"
NOT_FOUND = "Host not found"
EAI_TEXT = {"notfound": "Name or service not known", "retry": "Temporary failure in name resolution"}


class HostChecksMixin:
    """DNS-based restrictions for SmtpdChecks."""

    s: Any
    cfg: Any

    def is_host_check(self, w: str) -> bool:
        return w in HOST_CHECKS

    # -- DNS --------------------------------------------------------------------------
    def dns(self, name: str, rtypes: tuple[str, ...]) -> tuple[str, list[Any]]:
        """dns_lookup_l(): ("ok", records of the first type that has some), "notfound",
        "retry" or "nodns" (no resolver to ask)."""
        from ...dns.zone import DNSError
        resolver = getattr(getattr(self.s.ctx, "net", None), "resolver", None)
        lookup = getattr(resolver, "lookup", None)
        if lookup is None:
            return "nodns", []
        status = "notfound"
        for rtype in rtypes:
            try:
                recs = [r for r in lookup(name.rstrip("."), rtype) if r.rtype == rtype]
            except DNSError as exc:
                if getattr(exc, "transient", True):
                    status = "retry"
                continue
            if recs:
                return "ok", recs
        return status, []

    async def host_check(self, w: str, name: str, cls: str) -> str:
        c: Any = self
        s = self.s
        if w in ("reject_unknown_client_hostname", "reject_unknown_client"):
            status = getattr(s, "name_status", "ok" if s.client_name != "unknown" else "perm")
            if status != "ok":
                code = c._int("unknown_client_reject_code", 450) if status in ("perm", "forged") else 450
                c.fail(code, "4.7.25", f"Client host rejected: cannot find your hostname, [{s.client_addr}]")
        elif w == "reject_unknown_reverse_client_hostname":
            status = getattr(s, "reverse_name_status", "ok" if s.client_name != "unknown" else "perm")
            if status != "ok":
                code = c._int("unknown_client_reject_code", 450) if status == "perm" else 450
                c.fail(code, "4.7.1", f"Client host rejected: cannot find your reverse hostname, [{s.client_addr}]")
        elif w in ("reject_unknown_helo_hostname", "reject_unknown_hostname"):
            helo = s.helo_name
            if helo is not None and helo.startswith("["):
                c.reject_invalid_hostaddr(helo, "Helo command")
            elif helo is not None:
                self._unknown_hostname(helo, "Helo command")
        elif w in ("reject_unknown_sender_domain", "reject_unknown_address"):
            if s.sender:
                self._unknown_address(s.sender, "Sender address")
        elif w == "reject_unknown_recipient_domain":
            if s.recipient:
                self._unknown_address(s.recipient, "Recipient address")
        elif s.recipient:
            return self._permit_mx_backup(s.recipient, "Recipient address")
        return DUNNO

    def _unknown_hostname(self, host: str, cls: str) -> None:
        """reject_unknown_hostname(): no A, AAAA or MX record (a null MX will do)."""
        c: Any = self
        status, _ = self.dns(host, ("A", "AAAA", "MX"))
        if status == "notfound":
            c.fail(c._int("unknown_hostname_reject_code", 450), "4.7.1", f"<{host}>: {cls} rejected: Host not found")
        elif status == "retry":
            c.defer_if_permit_or_reject("unknown_helo_hostname_tempfail_action", 450, "4.7.1",
                                        f"<{host}>: {cls} rejected: Host not found")

    def _unknown_address(self, addr: str, cls: str) -> None:
        """reject_unknown_address(): the domain of a non-final address must have MX or address records."""
        c: Any = self
        s = self.s
        other = s.recipient if cls.startswith("Sender") else s.sender
        res = resolve(s.ctx, addr, other or "", s.resolved)
        if res is None or "@" not in res.address:
            return
        domain = res.address.rsplit("@", 1)[1]
        if res.cls in ("local", "virtual_alias", "virtual_mailbox") or domain.startswith("["):
            return
        sender = cls.startswith("Sender")
        status, recs = self.dns(domain, ("MX", "A", "AAAA"))
        if status == "ok" and recs[0].rtype == "MX" and any(r.data.strip(".") == "" for r in recs):
            c.fail(550 if sender else 556, "4.7.27" if sender else "4.1.10",
                   f"<{addr}>: {cls} rejected: Domain {domain} does not accept mail (nullMX)")
            return
        dsn = "4.1.8" if sender else "4.1.2"
        if status == "notfound":
            c.fail(c._int("unknown_address_reject_code", 450), dsn, f"<{addr}>: {cls} rejected: Domain not found")
        elif status == "retry":
            c.defer_if_permit_or_reject("unknown_address_tempfail_action", 450, dsn,
                                        f"<{addr}>: {cls} rejected: Domain not found")

    # -- permit_mx_backup -------------------------------------------------------------------
    def _permit_mx_backup(self, rcpt: str, cls: str) -> str:
        c: Any = self
        s = self.s
        res = resolve(s.ctx, rcpt, s.sender or "", s.resolved)
        if res is None or "@" not in res.address:
            return OK
        domain = res.address.rsplit("@", 1)[1]
        if "routed" in res.flags and not c._bool("allow_untrusted_routing"):
            return DUNNO
        if res.cls in ("local", "virtual_alias", "virtual_mailbox", "relay"):
            return OK
        if domain.startswith("[") and domain.endswith("]"):
            return DUNNO
        status, recs = self.dns(domain, ("MX",))
        if status != "ok":
            if status == "retry":
                c.defer_if(c.defer_if_reject, 450, "4.4.4", f"<{rcpt}>: {cls} rejected: Unable to look up mail "
                                                             f"exchanger information: {TRY_AGAIN}")
            return DUNNO
        best = min(r.pref for r in recs)
        primary = [r.data.rstrip(".") for r in recs if r.pref == best]
        backup = [r.data.rstrip(".") for r in recs if r.pref != best]
        if self._i_am_mx(primary, rcpt, cls) or not backup or not self._i_am_mx(backup, rcpt, cls):
            return DUNNO
        if get(self.cfg, "permit_mx_backup_networks").strip():
            for host in primary:
                if not self._all_auth_mx_addr(host, rcpt, cls):
                    return DUNNO
        return OK

    def _i_am_mx(self, hosts: list[str], rcpt: str, cls: str) -> bool:
        cfg = self.cfg
        for host in hosts:
            if match_domain(self.s.ctx, get(cfg, "mydestination"), host,
                            parent=parent_matches(cfg, "mydestination")):
                return True
        mine = set(interface_addresses(self.s.ctx, cfg)) | \
            set(interface_addresses(self.s.ctx, cfg, "proxy_interfaces"))
        for host in hosts:
            status, recs = self.dns(host, ("A", "AAAA"))
            if status != "ok":
                c: Any = self
                text = EAI_TEXT.get(status)
                if text:
                    c.defer_if(c.defer_if_reject, 450, "4.4.4",
                               f"<{rcpt}>: {cls} rejected: Unable to look up mail exchanger host {host}: {text}")
                continue
            if any(r.data in mine for r in recs):
                return True
        return False

    def _all_auth_mx_addr(self, host: str, rcpt: str, cls: str) -> bool:
        c: Any = self
        status, recs = self.dns(host, ("A", "AAAA"))
        if status != "ok":
            why = TRY_AGAIN if status == "retry" else NOT_FOUND
            c.defer_if(c.defer_if_reject, 450, "4.4.4", f"<{rcpt}>: {cls} rejected: Unable to look up host "
                                                         f"{host} as mail exchanger: {why}")
            return False
        networks = get(self.cfg, "permit_mx_backup_networks")
        return all(match_namadr(self.s.ctx, networks, host, r.data,
                                parent=parent_matches(self.cfg, "permit_mx_backup_networks")) for r in recs)
