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

    An answer is an action (check_table_result, also for policy servers):
    OK or RELAY (or all digits), REJECT [text], DEFER [text], a numeric
    4xx/5xx text, DUNNO, DEFER_IF_PERMIT [text] and DEFER_IF_REJECT [text]
    (see restrictions.py), PREPEND header: text (added above smtpd's
    Received: header), HOLD, DISCARD, REDIRECT user@domain, BCC
    user@domain, FILTER transport:destination (logged, handed to cleanup),
    WARN, INFO, or a list of restrictions (also the names of
    smtpd_restriction_classes) that is evaluated in its place. A status
    code in the text ("REJECT 5.7.0 text") replaces the default one; an
    address status X.1.Y is fixed to fit a sender or recipient
    (smtpd_dsn_fix).

    A table that cannot be opened is logged when smtpd opens it ("error:
    open database FILE.db: No such file or directory"); each lookup in it
    then logs "warning: hash:FILE is unavailable. ..." and "warning:
    hash:FILE: table lookup problem" and refuses for now, as the value
    "451 4.3.5 Server configuration error" would ("451 4.3.5 <addr>:
    Sender address rejected: Server configuration error").

PARAMETERS
    access_map_reject_code, access_map_defer_code,
    smtpd_null_access_lookup_key, parent_domain_matches_subdomains,
    recipient_delimiter.

SEE ALSO
    access(5), smtpd(8), SMTPD_ACCESS_README
"""

from __future__ import annotations

import re
from typing import Any

from ..common.tables import TableUnavailable
from .lists import get, parent_matches, split_list
from .recipients import dsn_split

OK, DUNNO = "ok", "dunno"
# the access(5) value check_access() substitutes when a table cannot be searched
TABLE_FAILURE = "451 4.3.5 Server configuration error"


class AccessMixin:
    """Access-table restrictions for SmtpdChecks."""

    s: Any
    cfg: Any

    async def _check_access(self, w: str, table: str, name: str, cls: str) -> str:
        s = self.s
        m = s.ctx.map(table, (s.ident, s.pid))
        what = w[len("check_"):-len("_access")]
        try:
            return await self._access_lookup(m, what, w, table, name, cls)
        except TableUnavailable as exc:
            # check_access(): dict_surrogate's warning, then a temporary refusal through
            # check_table_result() (Postfix answers 4.3.5 here, not reject_dict_retry's 4.3.0)
            s.log_warning(exc.warnings()[0])
            s.log_warning(f"{table}: table lookup problem")
            return await self._table_result(TABLE_FAILURE, self._reply_name(what, name), cls, table)

    def _reply_name(self, what: str, name: str) -> str:
        """The <name> of a reply about this access check."""
        s = self.s
        if what == "client":
            return s.namaddr
        if what == "reverse_client_hostname":
            return getattr(s, "reverse_name", s.client_name)
        if what == "helo":
            return s.helo_name or name
        if what in ("sender", "recipient"):
            addr = s.sender if what == "sender" else s.recipient
            return addr if addr is not None else name
        return name

    async def _access_lookup(self, m: Any, what: str, w: str, table: str, name: str, cls: str) -> str:
        c: Any = self
        s = self.s
        keys: list[tuple[str, str]] = []
        if what == "client":
            keys = [(k, s.namaddr) for k in _host_keys(s.client_name) + _addr_keys(s.client_addr)]
        elif what == "reverse_client_hostname":
            rev = getattr(s, "reverse_name", s.client_name)
            for key in _host_keys(rev) + _addr_keys(s.client_addr):
                value = m.lookup(key)
                if value is not None:
                    status = await self._table_result(value, rev, "Unverified Client host", table, key)
                    if status == OK and not c.discarding():
                        s.log_warning(f"restriction {w} returns OK for {rev}")
                        s.log_warning("this is not allowed for security reasons")
                        c._config_error("use DUNNO instead of OK if you want to make an exception")
                    return status
            return DUNNO
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

    async def _table_result(self, value: str, reply_name: str, cls: str, table: str,
                            datum: str | None = None) -> str:
        """check_table_result(): what an access table (or policy server) answer means."""
        c: Any = self
        s = self.s
        datum = reply_name if datum is None else datum
        action = re.match(r"[^ \t]*", value).group(0)      # type: ignore[union-attr]
        text = value[len(action):].lstrip(" \t")
        up = action.upper()
        what = f"<{reply_name}>: {cls}"
        if up == "DUNNO":
            return DUNNO
        if up in ("REJECT", "DEFER"):
            dsn, msg = dsn_split("5.7.1" if up == "REJECT" else "4.7.1", text)
            code = c._int("access_map_reject_code", 554) if up == "REJECT" else c._int("access_map_defer_code", 450)
            c.fail(code, dsn_fix(dsn, cls), f"{what} rejected: {msg or 'Access denied'}")
            return DUNNO
        if up in ("INFO", "WARN"):
            s.log_whatsup(up.lower(), text)
            return DUNNO
        if up in ("FILTER", "HOLD", "DISCARD", "REDIRECT", "BCC"):
            return self._delegated(up, text, datum, what, table)
        if up in ("DEFER_IF_PERMIT", "DEFER_IF_REJECT"):
            dsn, msg = dsn_split("4.7.1", text)
            args = (c._int("access_map_defer_code", 450), dsn_fix(dsn, cls),
                    f"{what} rejected: {msg or 'Service unavailable'}")
            if up == "DEFER_IF_REJECT":
                return c.defer_if(c.defer_if_reject, *args)
            if c.warn_if_reject:
                c.fail(*args)
                return DUNNO
            return c.defer_if(c.defer_if_permit, *args)
        if up == "PREPEND":
            if not self._in_transaction(table, up):
                return DUNNO
            if s.where == "END-OF-MESSAGE":
                s.log_warning(f"access table {table}: action PREPEND must be used before "
                              "smtpd_end_of_data_restrictions")
            elif not _HEADER.match(text):
                s.log_warning(f'access table {table} entry "{datum}" requires header: text')
            else:
                s.saved_actions.append(("PREPEND", text))
            return DUNNO
        if value.isascii() and value.isdigit():
            return OK
        if len(action) == 3 and text and action[0] in "45" and action[1:].isascii() and action[1:].isdigit():
            dsn, msg = dsn_split(action[0] + ".7.1", text)
            c.fail(int(action), dsn_fix(dsn, cls), f"{what} rejected: {msg or 'Access denied'}")
            return DUNNO
        if up in ("OK", "RELAY"):
            return OK
        if ":" in value:
            s.log_warning(f"access table {table} has entry with lookup table: {value}")
            s.log_warning("do not specify lookup tables inside SMTPD access maps")
            c._config_error("define a restriction class and specify its name instead.")
        if c.recursion > 100:
            c._config_error(f"access table {table} entry {value} causes unreasonable recursion")
        words = split_list(value)
        if not words:
            s.log_warning(f"access table {table} entry {value} has empty value")
            return OK
        return await c.generic(words, reply_name, cls)

    def _in_transaction(self, table: str, action: str) -> bool:
        """not_in_client_helo(): with smtpd_delay_reject=no there is no mail transaction yet."""
        s = self.s
        if s.sender is None:
            s.log_warning(f"access table {table}: with smtpd_delay_reject=no, action {action} is always "
                          "skipped in Client host or Helo command restrictions")
            return False
        return True

    def _delegated(self, action: str, text: str, datum: str, what: str, table: str) -> str:
        """FILTER, HOLD, DISCARD, REDIRECT, BCC: logged now, done by cleanup(8)."""
        s = self.s
        if s.where == "ETRN":
            s.log_warning(f"access table {table}: action {action} is unavailable in smtpd_etrn_restrictions")
            return DUNNO
        if not self._in_transaction(table, action):
            return DUNNO
        if action == "FILTER" and (not text or ":" not in text):
            need = "has FILTER entry without value" if not text else "requires transport:destination"
            s.log_warning(f'access table {table} entry "{datum}" {need}')
            return DUNNO
        if action in ("REDIRECT", "BCC") and "@" not in text:
            s.log_warning(f'access table {table} entry "{datum}" requires user@domain target')
            return DUNNO
        if action == "HOLD" and any(a == "HOLD" for a, _ in s.saved_actions):
            return DUNNO
        if action in ("FILTER", "REDIRECT", "BCC"):
            s.log_whatsup(action.lower(), f"{what} triggers {action} {text}")
        else:
            s.log_whatsup(action.lower(), f"{what} {text or f'triggers {action} action'}")
        s.saved_actions.append((action, text))
        return OK if action == "DISCARD" else DUNNO


# smtpd_dsn_fix(): an address status (X.1.Y) must fit what is being rejected.
_SENDER_DSN = {"1": "1.0", "2": "1.8", "3": "1.7", "4": "1.0", "5": "1.0", "6": "1.0", "7": "1.7", "8": "1.8"}
_RCPT_DSN = {"1": "1.1", "2": "1.2", "3": "1.3", "4": "1.4", "5": "1.5", "6": "1.6", "7": "1.3", "8": "1.2"}
_HEADER = re.compile(r"^[!-9;-~]+[ \t]*:")


def dsn_fix(status: str, cls: str) -> str:
    """smtpd_dsn_fix(): X.1.Y for the right kind of address, X.0.0 for what is not one."""
    if not status[1:4] == ".1.":
        return status
    if cls == "Sender address":
        return f"{status[0]}.{_SENDER_DSN.get(status[4:], '1.0')}"
    if cls == "Recipient address":
        return f"{status[0]}.{_RCPT_DSN.get(status[4:], '1.0')}"
    return f"{status[0]}.0.0"


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
