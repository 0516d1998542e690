"""NAME
    dnsxl - DNS block and allow lists in smtpd(8) restrictions

SUMMARY
    reject_rbl_client zen.example            (the client address: 4.3.2.1.zen.example)
    reject_rbl_client zen.example=127.0.0.[2..11]
    reject_rhsbl_client / reject_rhsbl_reverse_client / reject_rhsbl_helo /
    reject_rhsbl_sender / reject_rhsbl_recipient  dbl.example   (name.dbl.example)
    permit_dnswl_client list.example, permit_rhswl_client list.example

DESCRIPTION
    A listed client address (reversed octets, or IPv6 nibbles, under the
    list's zone) or domain (the client's verified or PTR name, the HELO
    name, the domain of the sender or recipient, under the list's zone)
    has an A record there; with "=pattern" only answers that match it
    count (ip_match: 127.0.0.2, 127.0.0.[2..11], 127.0.0.[2;4;8]). The
    TXT records of the same name give the reason. A listed client is
    refused with the reply of rbl_reply_maps for the zone or else
    default_rbl_reply,

        554 5.7.1 Service unavailable; Client host [1.2.3.4] blocked using
        zen.example; <TXT text>

    ($rbl_code is maps_rbl_reject_code, $rbl_class the thing refused,
    $rbl_what its value, $rbl_domain the zone, $rbl_reason the TXT text;
    also $client_address, $client_name, $helo_name, $sender,
    $recipient ... as in smtpd_reject_footer). A lookup that fails
    temporarily lists nothing (with a warning); for an allow list it
    turns a later rejection into "450 4.7.1 ... Service unavailable"
    (defer_if_reject). Allow lists never permit an unauthorized
    recipient.

PARAMETERS
    maps_rbl_reject_code, default_rbl_reply, rbl_reply_maps,
    smtpd_expansion_filter, maps_rbl_domains (reject_maps_rbl). See postconf(5).

SEE ALSO
    smtpd(8), postconf(5), RFC 5782
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ..config.expand import MAC_PARSE_ERROR, mac_expand
from .lists import get, split_list
from .recipients import dsn_split

OK, DUNNO = "ok", "dunno"
TXT_LIMIT = 500
CLASSES = {"reject_rhsbl_client": "Client host", "reject_rhsbl_reverse_client": "Unverified Client host",
           "reject_rhsbl_helo": "Helo command", "reject_rhsbl_sender": "Sender address",
           "reject_rhsbl_recipient": "Recipient address", "permit_rhswl_client": "Client host"}


class Listed:
    """A positive DNSxL answer: its A records and TXT text."""

    def __init__(self, addrs: list[str], txt: str) -> None:
        self.addrs, self.txt = addrs, txt


class DnsxlMixin:
    """reject_rbl_* / reject_rhsbl_* / permit_dnswl_* for SmtpdChecks."""

    s: Any
    cfg: Any

    def dnsxl_restriction(self, w: str, zone: str | None, cls: str) -> str:
        s = self.s
        if zone is None:
            s.log_warning(f"restriction {w} requires domain name argument")
            return DUNNO
        if w in ("reject_rbl_client", "reject_rbl"):
            return self._reject(self._find_addr(zone, s.client_addr), zone, s.client_addr, "Client host")
        if w == "permit_dnswl_client":
            return self._permit(self._find_addr(zone, s.client_addr), s.client_addr, "Client host")
        name = {"reject_rhsbl_reverse_client": getattr(s, "reverse_name", s.client_name),
                "reject_rhsbl_helo": s.helo_name, "reject_rhsbl_sender": s.sender,
                "reject_rhsbl_recipient": s.recipient}.get(w, s.client_name)
        if not name or (w in ("reject_rhsbl_client", "permit_rhswl_client", "reject_rhsbl_reverse_client")
                        and name.lower() == "unknown"):
            return DUNNO
        if w == "permit_rhswl_client":
            return self._permit(self._find_domain(zone, name), name, CLASSES[w])
        return self._reject(self._find_domain(zone, name), zone, name, CLASSES[w])

    def reject_maps_rbl(self) -> str:
        """The old reject_maps_rbl: reject_rbl_client for each of maps_rbl_domains."""
        s = self.s
        s.log_warning('support for restriction "reject_maps_rbl" will be removed from Postfix; '
                      'use "reject_rbl_client domain-name" instead')
        for zone in split_list(get(self.cfg, "maps_rbl_domains")):
            if self._reject(self._find_addr(zone, s.client_addr), zone, s.client_addr, "Client host") != DUNNO:
                return OK
        return DUNNO

    # -- lookups ---------------------------------------------------------------------------
    def _find_addr(self, zone: str, addr: str) -> Listed | str | None:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return None
        if ip.version == 6:
            labels = list(ip.exploded.replace(":", ""))[::-1]
        else:
            labels = addr.split(".")[::-1]
        return self._query(".".join(labels), zone)

    def _find_domain(self, zone: str, what: str) -> Listed | str | None:
        from .tokens import valid_hostname
        domain = what.rsplit("@", 1)[1] if "@" in what else what
        if not domain or domain.startswith("["):
            return None
        last = domain.rstrip(".").rsplit(".", 1)[-1]
        if last.isascii() and last.isdigit():
            return None
        if not valid_hostname(domain):
            return None
        return self._query(domain.rstrip("."), zone)

    def _query(self, prefix: str, zone: str) -> Listed | str | None:
        """rbl_pagein(): a Listed answer, None (not listed) or "soft" (the lookup failed)."""
        c: Any = self
        zone_name, eq, pattern = zone.partition("=")
        query = f"{prefix}.{zone_name}"
        status, recs = c.dns(query, ("A",))
        if status == "retry":
            self.s.log_warning(f"{query}: RBL lookup error: Host or domain name not found. Name service "
                               f"error for name={query} type=A: Host not found, try again")
            return "soft"
        if status != "ok":
            return None
        addrs = [r.data for r in recs]
        if eq and not any(_ip_match(pattern, a, c) for a in addrs):
            return None
        _, txts = c.dns(query, ("TXT",))
        txt = ""
        for i, r in enumerate(txts):
            txt += r.data[:max(0, TXT_LIMIT - len(txt))]
            if i + 1 < len(txts) and TXT_LIMIT - len(txt) > 3:
                txt += " / "
        return Listed(addrs, txt)

    # -- decisions ---------------------------------------------------------------------------
    def _permit(self, found: Listed | str | None, what: str, cls: str) -> str:
        c: Any = self
        s = self.s
        if s.where == "RCPT" and s.recipient is not None and not c.auth_destination(s.recipient):
            return DUNNO
        if found == "soft":
            return c.defer_if(c.defer_if_reject, 450, "4.7.1", f"<{what}>: {cls} rejected: Service unavailable")
        return OK if isinstance(found, Listed) else DUNNO

    def _reject(self, found: Listed | str | None, zone: str, what: str, cls: str) -> str:
        """rbl_reject_reply(): the reply template, expanded, as the rejection."""
        from .access import dsn_fix
        c: Any = self
        if not isinstance(found, Listed):
            return DUNNO
        template = None
        if get(self.cfg, "rbl_reply_maps").strip():
            for spec in split_list(get(self.cfg, "rbl_reply_maps")):
                template = self.s.ctx.map(spec).lookup(zone)
                if template is not None:
                    break
        values = {"rbl_code": str(c._int("maps_rbl_reject_code", 554)), "rbl_domain": zone.partition("=")[0],
                  "rbl_reason": found.txt, "rbl_txt": found.txt, "rbl_what": what, "rbl_class": cls}
        why = None
        for tmpl in (template, _raw(self.cfg, "default_rbl_reply")):
            if tmpl is None:
                continue
            why, status = mac_expand(tmpl, 0, self._expand_lookup(values))
            if not status & MAC_PARSE_ERROR:
                break
            self.s.log_warning(f"rbl_reject_reply: bad rbl reply template for domain {zone}: {tmpl}")
        why = why or ""
        m = re.match(r"^([45]\d\d) (.*)$", why, re.S)
        if m is None:
            self.s.log_warning(f"rbl response code configuration error: {why}")
            c.fail(450, "4.7.1", "Service unavailable")
            return DUNNO
        dsn, text = dsn_split("4.7.1", m.group(2))
        c.fail(int(m.group(1)), dsn_fix(dsn, cls), text or "Service unavailable")
        return DUNNO

    def _expand_lookup(self, values: dict[str, str]) -> Any:
        s = self.s
        allowed = set(_unescape(get(self.cfg, "smtpd_expansion_filter")))

        def addr(value: str | None, part: str) -> str:
            if value is None:
                return ""
            if not part:
                return value or "<>"
            local, at, domain = value.rpartition("@")
            if part == "_name":
                return (local if at else value) or "<>"
            return domain if at else ""

        def lookup(name: str, _mode: int) -> str | None:
            if name in values:
                value: str | None = values[name]
            elif name in ("sender", "sender_name", "sender_domain"):
                value = addr(s.sender, name[6:])
            elif name in ("recipient", "recipient_name", "recipient_domain"):
                value = addr(s.recipient, name[9:])
            else:
                value = {"server_name": s.myhostname, "client": s.namaddr, "client_port": str(s.client_port),
                         "client_address": s.client_addr, "client_name": s.client_name,
                         "reverse_client_name": getattr(s, "reverse_name", s.client_name),
                         "helo_name": s.helo_name or ""}.get(name)
            if value is None:
                s.log_warning(f'unknown macro name "{name}" in expansion request')
                return None
            if name in ("rbl_reason", "rbl_txt") and not value:
                return None
            return "".join(ch if ch in allowed else "_" for ch in value)

        return lookup


def _raw(cfg: Any, name: str) -> str:
    try:
        return cfg.raw(name)
    except (KeyError, AttributeError):
        return get(cfg, name)


def _unescape(text: str) -> str:
    """The C escapes of smtpd_expansion_filter (\\t, \\40, \\\\)."""
    return re.sub(r"\\(\d{1,3}|.)", lambda m: chr(int(m.group(1), 8)) if m.group(1).isdigit() else
                  {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), text)


def _ip_match(pattern: str, addr: str, checks: Any) -> bool:
    """ip_match_execute(): 127.0.0.[2..11] style patterns against an IPv4 answer."""
    octets = addr.split(".")
    parts = re.findall(r"\[[^\]]*\]|[^.\[\]]+", pattern)
    if len(parts) != 4 or len(octets) != 4:
        checks.s.log_warning(f"RBL reply error: bad address pattern: {pattern}")
        return False
    for part, octet in zip(parts, octets):
        value = int(octet)
        if not part.startswith("["):
            if not (part.isdigit() and int(part) == value):
                return False
            continue
        ok = False
        for item in part[1:-1].split(";"):
            lo, dots, hi = item.partition("..")
            if lo.isdigit() and (not dots or hi.isdigit()):
                ok = ok or int(lo) <= value <= int(hi if dots else lo)
        if not ok:
            return False
    return True
