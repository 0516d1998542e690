"""NAME
    recipient - local(8)'s delivery switch: aliases, .forward, mailbox, unknown users

SUMMARY
    status = await deliver_recipient(state, attr, usr)

DESCRIPTION
    For one local recipient: break mail loops (a Delivered-To: header for
    the address bounces with "mail forwarding loop for ADDRESS"), split the
    local part into user and extension (recipient_delimiter), then

    1. aliases (alias_maps): the full local part, then the bare user. The
       value is a list of destinations: addresses (resolved by
       trivial-rewrite: local ones are delivered right here, recursively,
       others forwarded), /file, |command, :include:/file. An alias that
       lists its own name delivers to the user's mailbox. With an
       owner-NAME alias (owner_request_special) the sender of the
       expansion becomes owner-NAME;
    2. an address reached through an :include: file or through somebody
       else's .forward is forwarded (a new queue file) instead of
       delivered directly;
    3. the user's .forward (forward_path), in Sendmail style: "\\user" or
       the user's own name delivers to the mailbox, everything else as in
       an alias;
    4. the mailbox (mailbox.py);
    5. otherwise the user is unknown: fallback_transport, luser_relay,
       postmaster and mailer-daemon are discarded with a warning
       ("required alias not found"), else the mail bounces with
       ``unknown user: "name"`` (5.1.1).

    Every destination is handled once per recipient (duplicate filter),
    and recursion deeper than 100 levels bounces.

PARAMETERS
    alias_maps, recipient_delimiter, propagate_unmatched_extensions,
    owner_request_special, expand_owner_alias, allow_mail_to_commands,
    fallback_transport, fallback_transport_maps, luser_relay.

SEE ALSO
    local(8), aliases(5), ADDRESS_REWRITING_README
"""

from __future__ import annotations


from ..bounce.client import TRACE_MTA_VRFY
from ..maps import MapError
from ..maps.address import maps_find, split_addr
from ..maps.tok822 import addresses
from ..trivial_rewrite import resolve, rewrite
from .mailbox import deliver_command, deliver_file, deliver_mailbox, deliver_pass
from .state import (EXPAND_ALIAS, EXPAND_INCL, Attr, LocalState, UserAttr, evolve, mask,
                    wants_success, without_success)

NESTING_LIMIT = 100


def _prop_mask(state: LocalState) -> set[str]:
    return {w.lower() for w in state.cfg.get_list("propagate_unmatched_extensions")}


async def deliver_recipient(state: LocalState, attr: Attr, usr: UserAttr) -> int:
    """Deliver to one local recipient (deliver_recipient in recipient.c)."""
    # one evolve() for the whole level (the reports read only attr.rcpt, which stays)
    level = attr.level + 1
    address = attr.rcpt.address
    if level > NESTING_LIMIT:
        state.warn(f"recipient nesting limit exceeded for {address}")
        return state.bounce(attr, "5.4.6", "recipient nesting limit exceeded")
    if state.been_here(f"recipient {level} {address}"):
        return 0
    if address.casefold() in state.loop_info:
        return state.bounce(attr, "5.4.6", f"mail forwarding loop for {address}")
    delivered = address if attr.delivered is None else attr.delivered
    local, _, domain = address.casefold().rpartition("@")
    if not _:
        local, domain = address.casefold(), ""
        state.warn(f"no @ in recipient address: {local}")
    user, extension = local, None
    delims = state.cfg["recipient_delimiter"]
    got = split_addr(local, delims) if delims else None
    if got is not None:
        user, extension = got[0], got[1][1:]
        if "/" in extension:
            state.warn(f"{state.req.qid}: address with illegal extension: {local}")
            extension, local = None, user
    attr = evolve(attr, level=level, delivered=delivered, local=local, domain=domain, user=user,
                   extension=extension, unmatched=extension)
    if not user:
        return state.bounce(attr, "5.1.3", f'null username in "{address}"')
    return await _switch(state, attr, usr)


async def _switch(state: LocalState, attr: Attr, usr: UserAttr) -> int:
    if attr.rcpt.address.startswith("\\"):
        attr = evolve(attr, level=attr.level + 1, rcpt=evolve(attr.rcpt, address=attr.rcpt.address[1:]),
                       local=attr.local.lstrip("\\"), user=attr.user.lstrip("\\"))
        found, status = await deliver_mailbox(state, attr, usr)
        return status if found else await deliver_unknown(state, attr, usr)
    attr = evolve(attr, level=attr.level + 1, unmatched=None)
    found, status = await deliver_alias(state, attr, usr, attr.local)
    if found:
        return status
    if attr.extension is not None:
        if "alias" in _prop_mask(state):
            attr = evolve(attr, unmatched=attr.extension)
        found, status = await deliver_alias(state, attr, usr, attr.user)
        if found:
            return status
        attr = evolve(attr, unmatched=attr.extension)
    from .forward import deliver_dotforward, deliver_indirect
    if attr.owner is not None and attr.owner.casefold() != attr.user.casefold():
        return await deliver_indirect(state, attr)
    if attr.exp_type == EXPAND_INCL:
        return await deliver_indirect(state, attr)
    found, status = await deliver_dotforward(state, attr, usr)
    if found:
        return status
    found, status = await deliver_mailbox(state, attr, usr)
    if found:
        return status
    return await deliver_unknown(state, attr, usr)


async def deliver_alias(state: LocalState, attr: Attr, usr: UserAttr, name: str) -> tuple[bool, int]:
    """(found, status) for the alias ``name`` (alias.c)."""
    if attr.exp_from is not None and attr.exp_from.casefold() == name.casefold():
        return False, 0
    if attr.level + 1 > NESTING_LIMIT:
        state.warn(f"alias database loop for {name}")
        return True, state.bounce(attr, "5.4.6", f"alias database loop for {name}")
    attr = evolve(attr, level=attr.level + 1, exp_from=name)
    try:
        tables = state.ctx.maps("alias_maps", (state.program, state.pid))
    except MapError:
        return True, state.defer(attr, "4.3.0", "alias database unavailable")
    for table in tables:
        try:
            value = table.lookup(name)
        except MapError as exc:
            state.warn(f"{table.spec} is unavailable. {exc}")
            state.warn(f'{table.spec} lookup error for "{name}"')
            return True, state.defer(attr, "4.3.0", "alias database unavailable")
        if value is None:
            continue
        if state.rep.trace_flags & TRACE_MTA_VRFY:
            return True, state.sent(attr, "2.0.0", f"aliased to {value}")
        attr = evolve(attr, exp_type=EXPAND_ALIAS)
        usr = UserAttr()
        owner_rhs = None
        if state.cfg.get_bool("owner_request_special"):
            try:
                owner_rhs = maps_find(tables, f"owner-{name}")
            except MapError:
                owner_rhs = None
        notify = attr.rcpt.notify
        rcpt = evolve(attr.rcpt, notify=without_success(notify))
        if owner_rhs is not None:
            owner = rewrite(state.ctx, owner_rhs if state.cfg.get_bool("expand_owner_alias")
                            else f"owner-{name}", "local")
            attr = evolve(attr, owner=owner, sender=owner)
            rcpt = evolve(rcpt, orcpt="", orig="")
        else:
            attr = evolve(attr, owner=None)
        attr = evolve(attr, rcpt=rcpt)
        status, count = await deliver_token_string(state, attr, usr, value)
        if count < 1:
            state.warn(f"no recipient in alias lookup result for {name}")
            status = state.defer(attr, "4.3.0", "alias database unavailable")
        elif wants_success(notify):
            what = "delivered" if owner_rhs is not None else "expanded"
            state.trace(evolve(attr, rcpt=evolve(attr.rcpt, notify=notify)), "2.0.0",
                        "alias expanded", what)
        return True, status
    return False, 0


async def deliver_token_string(state: LocalState, attr: Attr, usr: UserAttr,
                               text: str) -> tuple[int, int]:
    """Deliver to every destination in an alias value or .forward line; (status, count)."""
    status = 0
    count = 0
    for dest in addresses(text):
        count += 1
        status |= await deliver_token(state, attr, usr, dest)
    return status, count


async def deliver_token(state: LocalState, attr: Attr, usr: UserAttr, dest: str) -> int:
    if dest.startswith("/"):
        return await deliver_file(state, attr, usr, dest)
    if dest.startswith("~"):
        if not dest.startswith("~/"):
            return state.bounce(attr, "5.0.0", f"bad home directory syntax for: {dest}")
        if not usr.home:
            return state.bounce(attr, "5.0.0", f"unknown home directory for: {dest}")
        home = "" if usr.home == "/" else usr.home
        return await deliver_file(state, attr, usr, home + dest[1:])
    if dest.startswith("|"):
        if (mask(state.ctx, "allow_mail_to_commands") & attr.exp_type) == 0:
            return state.bounce(attr, "5.7.1", "mail to command is restricted")
        return await deliver_command(state, attr, usr, dest[1:])
    if dest[:9].lower() == ":include:":
        from .forward import deliver_include
        return await deliver_include(state, attr, usr, dest[9:])
    return await deliver_resolve_addr(state, attr, usr, dest)


async def deliver_resolve_addr(state: LocalState, attr: Attr, usr: UserAttr, addr: str) -> int:
    """Resolve an expansion result; deliver it here when it is ours, else forward it."""
    attr = evolve(attr, level=attr.level + 1)
    res = resolve(state.ctx, rewrite(state.ctx, addr, "local"), attr.sender)
    if "fail" in res.flags:
        return state.defer(attr, "4.3.0", "address resolver failure")
    if "error" in res.flags:
        return state.bounce(attr, "5.1.3", f"bad recipient address syntax: {res.address}")
    address = res.address
    if attr.unmatched:
        delim = (state.cfg["recipient_delimiter"] or "+")[0]
        local, at, domain = address.rpartition("@")
        address = f"{local}{delim}{attr.unmatched}@{domain}" if at else f"{address}{delim}{attr.unmatched}"
    attr = evolve(attr, rcpt=evolve(attr.rcpt, address=address))
    if res.transport == state.relay:
        return await deliver_recipient(state, attr, usr)
    from .forward import deliver_indirect
    return await deliver_indirect(state, attr)


async def deliver_unknown(state: LocalState, attr: Attr, usr: UserAttr) -> int:
    """No alias, no .forward, no such user (unknown.c)."""
    attr = evolve(attr, level=attr.level + 1)
    if state.been_here(f"deliver_unknown {attr.local}"):
        return 0
    cfg = state.cfg
    try:
        if cfg["fallback_transport_maps"].strip():
            got = maps_find(state.ctx.maps("fallback_transport_maps"), attr.user)
            if got is not None:
                return await deliver_pass(state, attr, got)
    except MapError:
        return state.defer(attr, "4.3.0", "table lookup failure")
    if cfg["fallback_transport"]:
        return await deliver_pass(state, attr, cfg["fallback_transport"])
    if cfg["luser_relay"]:
        from .expand import local_expand
        target, _ = local_expand(state, evolve(attr, unmatched=None), usr, cfg["luser_relay"], None)
        return await deliver_resolve_addr(state, evolve(attr, unmatched=None), usr, target)
    if attr.user.casefold() in ("mailer-daemon", "postmaster"):
        state.warn(f"required alias not found: {attr.user}")
        return state.sent(attr, "2.0.0", "discarded")
    return state.bounce(attr, "5.1.1", f'unknown user: "{attr.user}"')
