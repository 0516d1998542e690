"""NAME
    resolve - map a recipient to (transport, nexthop, recipient) (trivial-rewrite's "resolve")

SUMMARY
    r = resolve(ctx, "alice@example.com")
    r.cls, r.transport, r.nexthop, r.address, r.why, r.flags
    # "local", "local", "mail.example.com", "alice@example.com",
    # "example.com is local: mydestination contains example.com; local_transport = local:$myhostname"

DESCRIPTION
    First the local domain is stripped off, again and again, so that
    routing forms in the local part become visible: user%other@local,
    other!user@local, "user@other"@local and @local:user@other all resolve
    to user@other (allow_percent_hack, swap_bangpath,
    resolve_dequoted_address). An address without a domain gets
    @$myhostname; an empty one becomes $empty_address_recipient.

    Then the domain decides the address class (ADDRESS_CLASS_README):

    ============== ====================================== ======================
    class          domain is listed in                    transport
    ============== ====================================== ======================
    local          mydestination, or [ip] of this host    local_transport
    virtual_alias  virtual_alias_domains                  error:5.1.1 User unknown
                                                          in virtual alias table
    virtual_mailbox virtual_mailbox_domains               virtual_transport
    relay          relay_domains                          relay_transport
    default        (anything else)                        default_transport
    ============== ====================================== ======================

    For relay and default, relayhost (or sender_dependent_relayhost_maps)
    replaces the nexthop; sender_dependent_default_transport_maps may
    replace default_transport. A "transport:nexthop" parameter value sets
    the nexthop too. transport_maps may then override transport and nexthop
    (not for the virtual alias class), and relocated_maps turns the result
    into error:5.1.6 User has moved to ...

    Flags (Postfix's RESOLVE_FLAG_*): "routed" when the local part still
    holds a routing operator (@ ! %) of its own, "error" for a malformed
    domain (bad address syntax), "fail" when a table could not be searched
    (try again later). ``why`` says, in words, which parameter or table
    decided.

    A domain that is listed in more than one class gets trivial-rewrite's
    warning "do not list domain X in BOTH mydestination and
    virtual_mailbox_domains" (helpful_warnings).

PARAMETERS
    mydestination, inet_interfaces, proxy_interfaces, virtual_alias_domains,
    virtual_mailbox_domains, relay_domains, local_transport,
    virtual_transport, relay_transport, default_transport, relayhost,
    sender_dependent_relayhost_maps, sender_dependent_default_transport_maps,
    transport_maps, relocated_maps, myhostname, empty_address_recipient,
    swap_bangpath, allow_percent_hack, resolve_dequoted_address,
    resolve_null_domain, resolve_numeric_domain, show_user_unknown_table_name,
    helpful_warnings.

SEE ALSO
    trivial-rewrite(8), ADDRESS_CLASS_README, transport(5), postconf(5)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..maps import MapError
from ..maps.address import lookup_address
from ..maps.tok822 import QSTRING, Tok, internalize, quote_822_local, rfind, tokenize
from .domains import TableError, is_local_domain, local_domain_reason, match_domain
from .memo import answers, note_warning, remember
from .rewrite import RewriteRules, rewrite_tree
from .transport import TransportLookupError, apply_entry, find_transport

CLASSES = ("local", "virtual_alias", "virtual_mailbox", "relay", "default")
FINAL_CLASSES = ("local", "virtual_alias", "virtual_mailbox")


@dataclass(frozen=True)
class Resolution:
    """What trivial-rewrite answers for one recipient."""

    address: str
    cls: str
    transport: str
    nexthop: str
    why: str
    flags: frozenset[str] = frozenset()

    @property
    def final(self) -> bool:
        """Is this host the final destination (RESOLVE_CLASS_FINAL)?"""
        return self.cls in FINAL_CLASSES

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1] if "@" in self.address else ""


def _warn(ctx: Any, text: str) -> None:
    """A warning from the trivial-rewrite process (master.cf service "rewrite")."""
    from ..master.registry import use_service
    note_warning(ctx)
    with use_service(ctx, "rewrite") as proc:
        ctx.log.warning("trivial-rewrite", proc.pid, text)


# -- the preliminary resolver: strip local domains, expose routing -----------------------
def _strip_local(ctx: Any, address: str) -> tuple[list[Tok], bool, str | None]:
    """Return (tokens, domain_is_local, local reason)."""
    cfg = ctx.config
    rules = RewriteRules(ctx, "local")
    dequote = cfg.get_bool("resolve_dequoted_address")
    null_domain = cfg.get_bool("resolve_null_domain")
    toks = tokenize(quote_822_local(address))
    saved: list[Tok] | None = None
    reason: str | None = None
    for _ in range(len(address) + 100):
        if (len(toks) > 1 and toks[-1].type == "." and rfind(toks, "@") >= 0
                and toks[-2].type not in (".", "@")):
            del toks[-1]
        if null_domain and toks and toks[-1].type == "@":
            del toks[-1]
        at = rfind(toks, "@")
        if at >= 0:
            dom = toks[at + 1:]
            if dom:
                why = local_domain_reason(ctx, internalize(dom))
                if why is None:
                    return toks, False, None
                reason = why
            saved = toks[at:]
            del toks[at:]
        if (rfind(toks, "@") >= 0 or (rules.swap_bangpath and rfind(toks, "!") >= 0)
                or (rules.percent_hack and rfind(toks, "%") >= 0)):
            rewrite_tree(rules, toks)
            continue
        if dequote and len(toks) == 1 and toks[0].type == QSTRING:
            local = toks[0].text
            op = local.rfind("@")
            if op < 0 and rules.percent_hack:
                op = local.rfind("%")
            if op < 0 and rules.swap_bangpath:
                op = local.rfind("!")
            if op >= 0:
                if local[op] == "%":
                    local = local[:op] + "@" + local[op + 1:]
                if local[op] == "@":
                    local = quote_822_local(local)
                toks = tokenize(local)
                rewrite_tree(rules, toks)
                continue
        if len(toks) == 1 and toks[0].type == QSTRING and toks[0].text == "":
            toks = []
        if not toks:
            toks = tokenize(cfg["empty_address_recipient"])
            continue
        if saved is None:
            toks.extend([Tok("@")] + tokenize(cfg["myhostname"]))
            continue
        break
    else:
        _warn(ctx, f"resolve_addr: <{address}>: giving up after {len(address) + 100} iterations")
    toks.extend(saved if saved is not None else [Tok("@")] + tokenize(cfg["myhostname"]))
    return toks, True, reason


def valid_hostname(name: str) -> bool:
    """Postfix's valid_hostname() (8-bit labels allowed, as with smtputf8_enable)."""
    if not name or len(name) > 255:
        return False
    label = 0
    numeric = True
    for i, ch in enumerate(name):
        nxt = name[i + 1] if i + 1 < len(name) else ""
        if ch.isalnum() or ch == "_" or ord(ch) > 127:
            label += 1
            if label > 63:
                return False
            if not ch.isdigit():
                numeric = False
        elif ch == ".":
            if label == 0 or nxt == "":
                return False
            label = 0
        elif ch == "-":
            numeric = False
            label += 1
            if label == 1 or nxt in ("", "."):
                return False
        else:
            return False
    return not numeric


def valid_mailhost_literal(text: str) -> bool:
    """"[1.2.3.4]" or "[IPv6:...]"."""
    if not (text.startswith("[") and text.endswith("]")):
        return False
    inner = text[1:-1]
    try:
        if inner[:5].lower() == "ipv6:":
            return ipaddress.ip_address(inner[5:]).version == 6
        return ipaddress.ip_address(inner).version == 4 and inner.count(".") == 3
    except ValueError:
        return False


def _valid_hostaddr(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _routed(nextrcpt: str, rcpt_domain: str) -> bool:
    cut = min((i for i in (nextrcpt.find(c) for c in "@!%") if i >= 0), default=len(nextrcpt))
    return nextrcpt[cut + 1:] != rcpt_domain


# -- the address classes ---------------------------------------------------------------------
def _sender_lookup(ctx: Any, param: str, empty_key_param: str, sender: str) -> tuple[str, str] | None:
    cfg = ctx.config
    if not cfg[param].strip():
        return None
    key = sender if sender else cfg[empty_key_param]
    return lookup_address(ctx.maps(param), key.lower(), cfg["recipient_delimiter"],
                          kind="virtual", local_domain=lambda d: is_local_domain(ctx, d))


def _both(ctx: Any, domain: str, first: str, others: tuple[str, ...]) -> None:
    if not ctx.config.get_bool("helpful_warnings"):
        return
    for other in others:
        if match_domain(ctx, other, domain) is not None:
            _warn(ctx, f"do not list domain {domain} in BOTH {first} and {other}")


def _classify(ctx: Any, rcpt_domain: str, is_local: bool, local_reason: str | None,
              sender: str) -> tuple[str, str, str, list[str], str]:
    """(class, transport, nexthop, why parts, blamed parameter)."""
    cfg = ctx.config
    if is_local:
        _both(ctx, rcpt_domain, "mydestination", ("virtual_alias_domains", "virtual_mailbox_domains"))
        return ("local", cfg["local_transport"], rcpt_domain,
                [f"{rcpt_domain} is local: {local_reason}",
                 f"local_transport = {cfg['local_transport']}"], "local_transport")
    pattern = match_domain(ctx, "virtual_alias_domains", rcpt_domain)
    if pattern is not None:
        _both(ctx, rcpt_domain, "virtual_alias_domains", ("virtual_mailbox_domains", "relay_domains"))
        table = " in virtual alias table" if cfg.get_bool("show_user_unknown_table_name") else ""
        return ("virtual_alias", "error", f"5.1.1 User unknown{table}",
                [f"virtual_alias_domains contains {pattern}",
                 "only addresses listed in virtual_alias_maps exist there"], "")
    pattern = match_domain(ctx, "virtual_mailbox_domains", rcpt_domain)
    if pattern is not None:
        _both(ctx, rcpt_domain, "virtual_mailbox_domains", ("relay_domains",))
        return ("virtual_mailbox", cfg["virtual_transport"], rcpt_domain,
                [f"virtual_mailbox_domains contains {pattern}",
                 f"virtual_transport = {cfg['virtual_transport']}"], "virtual_transport")
    pattern = match_domain(ctx, "relay_domains", rcpt_domain)
    if pattern is not None:
        cls, transport, blame = "relay", cfg["relay_transport"], "relay_transport"
        why = [f"relay_domains contains {pattern}", f"relay_transport = {transport}"]
    else:
        cls, transport, blame = "default", cfg["default_transport"], "default_transport"
        why = [f"{rcpt_domain} is in no address class list (mydestination, virtual_alias_domains, "
               f"virtual_mailbox_domains, relay_domains)"]
        hit = _sender_lookup(ctx, "sender_dependent_default_transport_maps",
                             "empty_address_default_transport_maps_lookup_key", sender)
        if hit is not None:
            transport = hit[0]
            why.append(f"sender_dependent_default_transport_maps: {hit[1]} -> {hit[0]}")
        else:
            why.append(f"default_transport = {transport}")
    nexthop = rcpt_domain
    hit = _sender_lookup(ctx, "sender_dependent_relayhost_maps",
                         "empty_address_relayhost_maps_lookup_key", sender)
    if hit is not None:
        nexthop = hit[0]
        why.append(f"sender_dependent_relayhost_maps: {hit[1]} -> {hit[0]}")
    elif cfg["relayhost"].strip():
        nexthop = cfg["relayhost"].strip()
        why.append(f"relayhost = {nexthop}")
    return cls, transport, nexthop, why, blame


def _failed(address: str, text: str, flag: str) -> Resolution:
    if flag == "fail":
        return Resolution(address, "default", "retry", "4.3.0 address resolver failure", text,
                          frozenset({"fail"}))
    return Resolution(address, "default", "error", "5.1.3 bad address syntax", text,
                      frozenset({"error"}))


def resolve(ctx: Any, address: str, sender: str = "") -> Resolution:
    """Resolve an internal-form recipient address (see the module description).

    Answers are remembered per instance until main.cf or a table changes (memo.py).
    """
    memo = answers(ctx)
    if memo is None:
        return _resolve(ctx, address, sender)
    key = memo.key(address, sender)
    hit = memo.results.get(key)
    if hit is not None:
        return hit
    warned = memo.warned
    res = _resolve(ctx, address, sender)
    if memo.warned == warned and "fail" not in res.flags:
        remember(memo, key, res)
    return res


def _resolve(ctx: Any, address: str, sender: str) -> Resolution:
    cfg = ctx.config
    try:
        toks, is_local, reason = _strip_local(ctx, address)
    except TableError as exc:
        _warn(ctx, f"mydestination lookup failure: {exc}")
        return _failed(address, f"mydestination could not be searched: {exc}", "fail")
    nextrcpt = internalize(toks)
    rcpt_domain = nextrcpt.rsplit("@", 1)[1] if "@" in nextrcpt else ""
    flags: set[str] = set()
    if rcpt_domain.startswith("["):
        ok = valid_mailhost_literal(rcpt_domain)
    else:
        ok = valid_hostname(rcpt_domain)
        if not ok and cfg.get_bool("resolve_numeric_domain") and _valid_hostaddr(rcpt_domain):
            rcpt_domain = f"[{rcpt_domain}]"
            nextrcpt = nextrcpt.rsplit("@", 1)[0] + "@" + rcpt_domain
            reason = local_domain_reason(ctx, rcpt_domain)
            is_local, ok = reason is not None, True
    if not ok:
        return _failed(nextrcpt, f"{rcpt_domain or 'the empty domain'} is not a valid domain name", "error")
    if _routed(nextrcpt, rcpt_domain):
        flags.add("routed")

    try:
        cls, transport, nexthop, why, blame = _classify(ctx, rcpt_domain, is_local, reason, sender)
    except (TableError, MapError) as exc:
        _warn(ctx, f"address class lookup failure: {exc}")
        return _failed(nextrcpt, f"a domain list could not be searched: {exc}", "fail")

    name, sep, hop = transport.partition(":")
    if sep and hop:
        nexthop = hop
    transport = name
    if not transport:
        _warn(ctx, f"file {cfg['config_directory']}/main.cf: parameter {blame}: "
                   "null transport is not allowed")
        return _failed(nextrcpt, f"{blame} is empty", "fail")

    if cls != "virtual_alias":
        try:
            entry = find_transport(ctx, nextrcpt)
        except TransportLookupError as exc:
            _warn(ctx, f"transport_maps lookup failure: {exc}")
            return _failed(nextrcpt, f"transport_maps could not be searched: {exc}", "fail")
        if entry is not None:
            transport, nexthop = apply_entry(entry, transport, nexthop, rcpt_domain)
            why.append(f"transport_maps: {entry.key} -> {entry.value}")

    if cfg["relocated_maps"].strip():
        try:
            moved = lookup_address(ctx.maps("relocated_maps"), nextrcpt.lower(), "",
                                   kind="virtual", local_domain=lambda d: is_local_domain(ctx, d))
        except MapError as exc:
            _warn(ctx, f"relocated_maps lookup failure: {exc}")
            return _failed(nextrcpt, f"relocated_maps could not be searched: {exc}", "fail")
        if moved is not None:
            transport, nexthop = "error", f"5.1.6 User has moved to {moved[0]}"
            why.append(f"relocated_maps: {moved[1]} -> {moved[0]}")

    return Resolution(nextrcpt, cls, transport, nexthop, "; ".join(why), frozenset(flags))
