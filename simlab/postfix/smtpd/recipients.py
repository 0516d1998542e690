"""NAME
    recipients - reject_unlisted_recipient / reject_unlisted_sender (check_rcpt_maps)

SUMMARY
    check_rcpt_maps(checks, "nosuch@example.com", "Recipient address")
    -> raises with "550 5.1.1 <nosuch@example.com>: Recipient address
       rejected: User unknown in local recipient table"

DESCRIPTION
    An address is resolved (trivial-rewrite) and then looked up in the
    tables of its address class:

      local            local_recipient_maps (the passwd file and the aliases)
      virtual alias    virtual_alias_maps
      virtual mailbox  virtual_mailbox_maps
      relay            relay_recipient_maps (when set)

    An address that matches canonical_maps, recipient_canonical_maps or
    virtual_alias_maps is accepted before anything else. An address whose
    transport is ``error`` is refused with the error text as the reason
    (``error:no outbound in this lab`` -> "... rejected: no outbound in this
    lab"), ``retry`` with 450. postmaster, MAILER-DAEMON and double-bounce
    in local domains are always accepted. An empty local_recipient_maps
    turns the local check off, and so does receive_override_options =
    no_unknown_recipient_checks (a content filter's re-injection port).

    When the address resolver or a table cannot answer (say hash:FILE
    without FILE.db) the address is refused for now: "451 4.3.0 <addr>:
    Temporary lookup failure", after smtpd's warnings "hash:FILE is
    unavailable. open database FILE.db: No such file or directory" and
    'hash:FILE lookup error for "addr"'.

PARAMETERS
    receive_override_options, local_recipient_maps, virtual_alias_maps, virtual_mailbox_maps,
    relay_recipient_maps, canonical_maps, recipient_canonical_maps,
    sender_canonical_maps, local_recipient_code (unknown_local_recipient_reject_code),
    unknown_virtual_alias_reject_code, unknown_virtual_mailbox_reject_code,
    unknown_relay_recipient_reject_code, show_user_unknown_table_name,
    double_bounce_sender, recipient_delimiter.

SEE ALSO
    smtpd(8), ADDRESS_CLASS_README, LOCAL_RECIPIENT_README
"""

from __future__ import annotations

import re
from typing import Any

from ..common.tables import TableUnavailable
from ..maps.address import lookup_address
from ..trivial_rewrite import resolve as _tr_resolve
from ..trivial_rewrite import rewrite as _tr_rewrite
from ..trivial_rewrite.domains import is_local_domain
from .lists import get
from .settings import settings_for

_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)")


def dsn_split(default: str, text: str) -> tuple[str, str]:
    """dsn_split(): a leading 'x.y.z ' in text overrides the default status."""
    m = _DSN.match(text)
    if m:
        return m.group(1), text[m.end():]
    return default, text


def tr_resolve(ctx: Any, address: str, sender: str = "") -> Any:
    """Resolve as smtpd sees it: a bare local part is first qualified with @$myorigin.

    Measured on Postfix 3.7.11: with myorigin = example.com outside mydestination,
    ``VRFY alice`` gets the default transport's rejection, not 252 (tests/data/measured).
    """
    if address and "@" not in address:
        address = _tr_rewrite(ctx, address, "local")
    return _tr_resolve(ctx, address, sender)


def resolve(ctx: Any, address: str, sender: str = "", memo: dict[Any, Any] | None = None) -> Any:
    """trivial-rewrite's resolve(), or None when the address cannot be resolved.

    ``memo`` is the session's cache of answers (smtpd_resolve_addr() keeps
    one too): one address is resolved for MAIL/RCPT syntax, the relay and
    recipient restrictions and the recipient tables.
    """
    if memo is None:
        return tr_resolve(ctx, address, sender)
    cfg = ctx.config
    # The answer depends on the sender only through the sender_dependent_* tables.
    key = (address, sender if _sender_dependent(cfg) else "")
    hit = memo.get(key)
    if hit is not None and hit[0] is cfg:
        return hit[1]
    res = tr_resolve(ctx, address, sender)
    if res is not None and "fail" not in res.flags:     # a table failure is asked again
        memo[key] = (cfg, res)
    return res


def _sender_dependent(cfg: Any) -> bool:
    return settings_for(cfg).derived("sender_dependent", _find_sender_dependent)


def _find_sender_dependent(settings: Any) -> bool:
    return bool(settings.text("sender_dependent_default_transport_maps").strip()
                or settings.text("sender_dependent_relayhost_maps").strip())


def _local_domain(ctx: Any) -> Any:
    return lambda domain: is_local_domain(ctx, domain)


def addr_match(checks: Any, params: list[str], address: str, reply_name: str = "") -> bool:
    """check_mail_addr_find(): does address match any table of these parameters?

    A table that cannot be searched refuses the address for now (reject_dict_retry):
    "451 4.3.0 <reply_name>: Temporary lookup failure".
    """
    s = checks.s
    settings = s.settings
    maps = []
    for param in params:
        for spec in settings.words(param):
            maps.append(s.ctx.map(spec, (s.ident, s.pid)))
    if not maps:
        return False
    try:
        return lookup_address(maps, address.lower(), settings.text("recipient_delimiter"),
                              kind="virtual", local_domain=_local_domain(s.ctx)) is not None
    except TableUnavailable as exc:
        for text in exc.warnings():
            s.log_warning(text)
        temporary_lookup_failure(checks, reply_name or address)
        return True         # only after warn_if_reject: a table problem is no reason to refuse


def temporary_lookup_failure(checks: Any, reply_name: str) -> None:
    """reject_dict_retry(): a table or the address resolver could not answer."""
    checks.fail(451, "4.3.0", f"<{reply_name}>: Temporary lookup failure", "resource")


def check_rcpt_maps(checks: Any, address: str, cls: str) -> None:
    """Refuse an address that its address class does not know (via checks.fail)."""
    s = checks.s
    if "no_unknown_recipient_checks" in checks.s.settings.words("receive_override_options"):
        return
    sender_class = cls.startswith("Sender")
    if address.lower() == "postmaster":
        return  # an unqualified postmaster is always accepted (smtpd_check.c)
    res = resolve(s.ctx, address, s.sender or "", s.resolved)
    if res is None:
        return
    if "fail" in res.flags:
        temporary_lookup_failure(checks, address)
        return
    rcpt = res.address
    params = ["recipient_canonical_maps", "canonical_maps", "virtual_alias_maps"]
    if sender_class:
        params.insert(1, "sender_canonical_maps")
    if addr_match(checks, params, rcpt, address):
        return
    if res.transport == "error":
        dsn, text = dsn_split("5.1.0" if sender_class else "5.1.1", res.nexthop)
        code = checks._int("unknown_virtual_alias_reject_code", 550) if res.cls == "virtual_alias" else 550
        if dsn.startswith("4"):
            code = 450
        checks.fail(code, dsn, f"<{address}>: {cls} rejected: {text}")
        return
    if res.transport == "retry":
        dsn, text = dsn_split("4.1.0" if sender_class else "4.1.1", res.nexthop)
        checks.fail(450, dsn, f"<{address}>: {cls} rejected: {text}")
        return
    show = get(checks.cfg, "show_user_unknown_table_name", "yes").lower() in ("yes", "true", "1")
    dsn = "5.1.0" if sender_class else "5.1.1"

    def unknown(code_param: str, default: int, table: str) -> None:
        where = f" in {table} table" if show else ""
        checks.fail(checks._int(code_param, default), dsn, f"<{address}>: {cls} rejected: User unknown{where}")

    local = rcpt.rsplit("@", 1)[0].lower()
    if res.cls == "local":
        if not get(checks.cfg, "local_recipient_maps").strip():
            return
        exempt = {get(checks.cfg, "double_bounce_sender", "double-bounce").lower(), "postmaster", "mailer-daemon"}
        if local in exempt:
            return
        if not _local_known(checks, rcpt, address):
            unknown("unknown_local_recipient_reject_code", 550, "local recipient")
    elif res.cls == "virtual_alias":
        unknown("unknown_virtual_alias_reject_code", 550, "virtual alias")
    elif res.cls == "virtual_mailbox":
        if get(checks.cfg, "virtual_mailbox_maps").strip() and \
                not addr_match(checks, ["virtual_mailbox_maps"], rcpt, address):
            unknown("unknown_virtual_mailbox_reject_code", 550, "virtual mailbox")
    elif res.cls == "relay":
        if get(checks.cfg, "relay_recipient_maps").strip() and \
                not addr_match(checks, ["relay_recipient_maps"], rcpt, address):
            unknown("unknown_relay_recipient_reject_code", 550, "relay recipient")


def _local_known(checks: Any, rcpt: str, reply_name: str) -> bool:
    """local_recipient_maps: the passwd file, the aliases (and whatever else is listed)."""
    return addr_match(checks, ["local_recipient_maps"], rcpt, reply_name)
