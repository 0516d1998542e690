"""NAME
    access - check_*_access: access(5) tables in smtpd restrictions

SUMMARY
    check_client_access, check_reverse_client_hostname_access, check_helo_access,
    check_sender_access, check_recipient_access  type:table

DESCRIPTION
    The client is looked up by name (then its parent domains), then by
    address (then its shorter network prefixes: 1.2.3.4, 1.2.3, 1.2, 1);
    a HELO name by name and parent domains; an address as user+ext@domain,
    user@domain, domain, parent domains, user+ext@, user@ (the empty
    sender as smtpd_null_access_lookup_key, "<>").

    An answer is an action: OK (or 2xx), REJECT [text], DEFER [text],
    a numeric 4xx/5xx [text], DUNNO, HOLD, DISCARD, REDIRECT, FILTER,
    PREPEND, WARN, INFO, or a list of restrictions (also the names of
    smtpd_restriction_classes) that is evaluated in its place.

PARAMETERS
    access_map_reject_code, access_map_defer_code,
    smtpd_null_access_lookup_key, parent_domain_matches_subdomains,
    recipient_delimiter.

SEE ALSO
    access(5), smtpd(8), SMTPD_ACCESS_README
"""

from __future__ import annotations

from typing import Any

from .lists import get, parent_matches, split_list
from .recipients import dsn_split

OK, DUNNO = "ok", "dunno"


class AccessMixin:
    """Access-table restrictions for SmtpdChecks."""

    s: Any
    cfg: Any

    async def _check_access(self, w: str, table: str, name: str, cls: str) -> str:
        c: Any = self
        s = self.s
        try:
            m = s.ctx.map(table)
        except Exception as exc:
            c._config_error(f"{table}: table lookup problem: {exc}")
            return DUNNO
        what = w[len("check_"):-len("_access")]
        keys: list[tuple[str, str]] = []
        if what == "client":
            keys = [(k, s.namaddr) for k in _host_keys(s.client_name) + _addr_keys(s.client_addr)]
        elif what == "reverse_client_name" or what == "client_hostname":
            keys = [(k, s.namaddr) for k in _host_keys(s.client_name)]
        elif what == "helo":
            keys = [(k, s.helo_name or "") for k in _host_keys(s.helo_name or "")]
        elif what in ("sender", "recipient"):
            addr = s.sender if what == "sender" else s.recipient
            if addr is None:
                return DUNNO
            if addr == "":
                keys = [(get(self.cfg, "smtpd_null_access_lookup_key", "<>"), "")]
            else:
                from ..maps.address import lookup_address
                found = lookup_address([m], addr.lower(), get(self.cfg, "recipient_delimiter"),
                                       kind="access",
                                       parent_matches_subdomains=parent_matches(self.cfg, "smtpd_access_maps"))
                if found is None:
                    return DUNNO
                return await self._table_result(found[0], addr, cls, table)
        else:
            return DUNNO
        for key, reply_name in keys:
            value = m.lookup(key)
            if value is not None:
                return await self._table_result(value, reply_name or name, cls, table)
        return DUNNO

    async def _table_result(self, value: str, reply_name: str, cls: str, table: str) -> str:
        c: Any = self
        s = self.s
        action, _, text = value.strip().partition(" ")
        text = text.strip()
        up = action.upper()
        if up == "OK" or (action.isascii() and action.isdigit() and action.startswith("2") and len(action) == 3):
            return OK
        if up == "DUNNO":
            return DUNNO
        if up in ("REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT"):
            code = c._int("access_map_reject_code", 554) if up == "REJECT" else \
                c._int("access_map_defer_code", 450)
            default = "5.7.1" if code // 100 == 5 else "4.7.1"
            dsn, msg = dsn_split(default, text)
            if up == "REJECT" or up == "DEFER":
                c.fail(code, dsn, f"<{reply_name}>: {cls} rejected: {msg or 'Access denied'}")
            return DUNNO
        if action.isascii() and action.isdigit() and len(action) == 3 and action[0] in "45":
            dsn, msg = dsn_split(action[0] + ".7.1", text)
            c.fail(int(action), dsn, f"<{reply_name}>: {cls} rejected: {msg or 'Access denied'}")
            return DUNNO
        if up in ("HOLD", "DISCARD", "REDIRECT", "FILTER", "PREPEND", "WARN", "INFO"):
            s.table_action(up, text, reply_name, cls)
            return OK if up == "DISCARD" else DUNNO
        words = split_list(value)
        if words:
            return await c.generic(words, reply_name, cls)
        return DUNNO



def _host_keys(name: str) -> list[str]:
    name = name.lower().rstrip(".")
    if not name or name == "unknown":
        return []
    parts = name.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def _addr_keys(addr: str) -> list[str]:
    if not addr:
        return []
    if ":" in addr:
        parts = addr.split(":")
        return [":".join(parts[:i]) for i in range(len(parts), 0, -1) if parts[:i]]
    parts = addr.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
