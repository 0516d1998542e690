"""NAME
    rewrite - cleanup(8) address rewriting: canonical forms, canonical maps, virtual aliases

SUMMARY
    am = AddressMapper(ctx, cfg, warn)
    am.sender("bob")                         -> "bob@example.com"
    am.recipient("alice+tag@EXAMPLE.com.")   -> "alice+tag@EXAMPLE.com"
    am.virtual("sales@alias.example")        -> ["alice@example.com", "bob@example.com"]
    am.header_addresses(" Bob <bob>", "local", True) -> "Bob <bob@example.com>" (None: unchanged)

DESCRIPTION
    Envelope addresses are always rewritten in the "local" context
    (trivial-rewrite: append @$myorigin to a bare name, strip a trailing
    dot, undo source routes and the percent hack), then mapped through
    sender_canonical_maps or recipient_canonical_maps and canonical_maps,
    then masqueraded (masquerade_domains, for the classes in
    masquerade_classes).

    Virtual alias expansion happens here, before the queue file exists, as
    in Postfix: each recipient is looked up in virtual_alias_maps; a result
    is a list of addresses, each rewritten to canonical form and looked up
    again, until nothing matches, an address expands to itself, or the
    limits are reached (virtual_alias_recursion_limit nesting,
    virtual_alias_expansion_limit addresses: then the message is refused
    with "4.6.0 Alias expansion error").

    A table that cannot be searched (a daemon's stand-in for a table that
    could not be opened, see common/tables.py) raises TableFailure: "QID:
    virtual_alias_maps map lookup problem for ADDR -- message not accepted,
    try again later", after the table's own two warnings.

    Table keys are tried in mail_addr_find(3) order (user+ext@domain,
    user@domain, user+ext and user for local domains, @domain); when the
    match was for the address without its extension, the extension is put
    back on the result (propagate_unmatched_extensions).

PARAMETERS
    canonical_maps, sender_canonical_maps, recipient_canonical_maps,
    canonical_classes, sender_canonical_classes, recipient_canonical_classes,
    virtual_alias_maps, virtual_alias_recursion_limit,
    virtual_alias_expansion_limit, virtual_alias_address_length_limit,
    propagate_unmatched_extensions, recipient_delimiter, myorigin,
    masquerade_domains, masquerade_exceptions, masquerade_classes.

SEE ALSO
    cleanup(8), canonical(5), virtual(5), ADDRESS_REWRITING_README
"""

from __future__ import annotations

from typing import Any, Callable

from ..common.tables import TableUnavailable
from ..config.config import Config
from ..config.fallback import ParamGetters, param_str
from ..maps import tok822
from ..maps.address import lookup_address
from ..trivial_rewrite import is_local_domain, rewrite


class ExpansionError(Exception):
    """Virtual alias expansion went over a limit: the message is deferred."""


class TableFailure(Exception):
    """A table could not be searched: the message is not accepted now (try again later)."""


def _split(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


_MEMOS: dict[int, tuple[Any, dict[Any, Any]]] = {}
_MISSING = object()
_HEADER_MEMO_LIMIT = 4096      # rewritten header values kept per Config before starting afresh


def config_memo(cfg: Any) -> dict[Any, Any]:
    """A dict for what one (immutable) Config gives once worked out; a fresh one for other mappings.

    memo: cleanup reads the same lists and classes for every message and
    every address; they change only when the Config object is replaced.
    """
    hit = _MEMOS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    memo: dict[Any, Any] = {}
    if isinstance(cfg, Config):
        if len(_MEMOS) >= 64:
            _MEMOS.clear()
        _MEMOS[id(cfg)] = (cfg, memo)
    return memo


def _memo(memo: dict[Any, Any], key: tuple[str, ...], make: Callable[..., Any], *args: Any) -> Any:
    """memo[key], made by make(*args) the first time (no closure made per call: ~14 per message)."""
    hit = memo.get(key)
    if hit is None:
        hit = memo[key] = make(*args)
    return hit


def _class_words(cfg: Any, param: str, default: str) -> frozenset[str]:
    return frozenset(_split(param_str(cfg, param, default)))


def _list_words(cfg: Any, param: str) -> tuple[str, ...]:
    return tuple(_split(param_str(cfg, param)))


def _table_specs(cfg: Any, param: str) -> tuple[str, ...]:
    from ..smtpd.lists import split_list     # not at the top: smtpd imports cleanup
    return tuple(split_list(param_str(cfg, param)))


def memo_words(memo: dict[Any, Any], cfg: Any, param: str, default: str = "") -> frozenset[str]:
    """The words of a class list (``canonical_classes``...), as a set."""
    return _memo(memo, ("words", param, default), _class_words, cfg, param, default)


def memo_list(memo: dict[Any, Any], cfg: Any, param: str) -> tuple[str, ...]:
    """The words of a list parameter, in order."""
    return _memo(memo, ("list", param), _list_words, cfg, param)


def memo_specs(memo: dict[Any, Any], cfg: Any, param: str) -> tuple[str, ...]:
    """The table specs a parameter lists (``virtual_alias_maps``...)."""
    return _memo(memo, ("specs", param), _table_specs, cfg, param)


class AddressMapper(ParamGetters):
    """The address mappings of one cleanup session."""

    def __init__(self, ctx: Any, cfg: Any, warn: Callable[[str], None], mappings: bool = True,
                 proc: tuple[str, int] | None = None) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.warn = warn
        self.mappings = mappings
        self.proc = proc
        self.memo = memo = config_memo(cfg)
        self.delim = param_str(self.cfg, "recipient_delimiter")
        self.propagate = memo_words(memo, cfg, "propagate_unmatched_extensions", "canonical, virtual")

    def _maps(self, param: str) -> list[Any]:
        out = []
        for spec in memo_specs(self.memo, self.cfg, param):
            try:
                out.append(self.ctx.map(spec, self.proc))
            except Exception as exc:
                self.warn(f"{spec}: table lookup problem: {exc}")
        return out

    def _local_domain(self, domain: str) -> bool:
        return domain.lower() == param_str(self.cfg, "myorigin").lower() or is_local_domain(self.ctx, domain)

    # -- canonical forms ---------------------------------------------------------------
    def canonical(self, addr: str, context: str = "local") -> str:
        """trivial-rewrite's rewrite (internal form in, internal form out)."""
        if not addr:
            return addr
        return rewrite(self.ctx, addr, context)

    def lookup(self, maps: list[Any], addr: str, kind: str, title: str = "") -> list[str] | None:
        """mail_addr_map(): the result addresses (canonical, extension propagated) or None.

        Raises TableFailure when a table of ``title`` (a parameter name) cannot be searched.
        """
        if not maps or not addr:
            return None
        try:
            found = lookup_address(maps, addr.lower(), self.delim, kind="virtual",
                                   local_domain=self._local_domain)
        except TableUnavailable as exc:
            if self.proc is not None:
                for text in exc.warnings():
                    self.ctx.log.warning(self.proc[0], self.proc[1], text)
            raise TableFailure(f"{title or kind} map lookup problem for {addr} -- "
                               "message not accepted, try again later") from None
        if found is None:
            return None
        value, key = found
        ext = _extension(addr, self.delim)
        propagate = bool(ext) and kind in self.propagate and not key.startswith("@") \
            and key.lower() != addr.lower() and ext_needed(key, addr, self.delim)
        results = []
        for item in tok822.addresses(value) or [value.strip()]:
            out = self.canonical(item)
            results.append(_add_extension(out, ext, self.delim) if propagate else out)
        return results

    def map11(self, params: list[str], addr: str, what: str) -> str:
        for param in params:
            got = self.lookup(self._maps(param), addr, "canonical", param)
            if got:
                if len(got) > 1:
                    self.warn(f"{what} map {param}: {addr} maps to multiple addresses -- using the first")
                addr = got[0]
        return addr

    def _classes(self, param: str, default: str) -> frozenset[str]:
        return memo_words(self.memo, self.cfg, param, default)

    def sender(self, addr: str, header: bool = False, context: str = "local", rewritten: bool = False) -> str:
        """An envelope (or header) sender address after rewriting (unless done) and mapping."""
        addr = addr if rewritten else self.canonical(addr, context)
        if not addr or not self.mappings:
            return addr
        cls = "header_sender" if header else "envelope_sender"
        params = []
        if cls in self._classes("sender_canonical_classes", "envelope_sender, header_sender"):
            params.append("sender_canonical_maps")
        if cls in self._classes("canonical_classes",
                                "envelope_sender, envelope_recipient, header_sender, header_recipient"):
            params.append("canonical_maps")
        addr = self.map11(params, addr, "sender canonical")
        return self.masquerade(addr, cls)

    def recipient(self, addr: str, header: bool = False, context: str = "local", rewritten: bool = False) -> str:
        """An envelope (or header) recipient address after rewriting (unless done) and canonical mapping."""
        addr = addr if rewritten else self.canonical(addr, context)
        if not addr or not self.mappings:
            return addr
        cls = "header_recipient" if header else "envelope_recipient"
        params = []
        if cls in self._classes("recipient_canonical_classes", "envelope_recipient, header_recipient"):
            params.append("recipient_canonical_maps")
        if cls in self._classes("canonical_classes",
                                "envelope_sender, envelope_recipient, header_sender, header_recipient"):
            params.append("canonical_maps")
        addr = self.map11(params, addr, "recipient canonical")
        return self.masquerade(addr, cls)

    def masquerade(self, addr: str, cls: str) -> str:
        domains = memo_list(self.memo, self.cfg, "masquerade_domains")
        if not domains or cls not in self._classes("masquerade_classes",
                                                    "envelope_sender, header_sender, header_recipient"):
            return addr
        at = addr.rfind("@")
        if at < 0:
            return addr
        user, domain = addr[:at], addr[at + 1:].lower()
        if user.lower() in {u.lower() for u in memo_list(self.memo, self.cfg, "masquerade_exceptions")}:
            return addr
        for masq in domains:
            no_strip = masq.startswith("!")
            masq = masq.lstrip("!").lower()
            if domain == masq:
                return addr
            if domain.endswith("." + masq):
                return addr if no_strip else f"{user}@{masq}"
        return addr

    # -- addresses in headers ------------------------------------------------------------
    def header_addresses(self, value: str, context: str, is_sender: bool) -> str | None:
        """Rewrite every address of an address header's value; None when nothing changed."""
        memo = self._header_memo()
        if memo is None:
            return self._header_addresses(value, context, is_sender)
        key = (value, context, is_sender)
        hit = memo.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._header_addresses(value, context, is_sender)
            if len(memo) >= _HEADER_MEMO_LIMIT:
                memo.clear()
            memo[key] = hit
        return hit

    def _header_memo(self) -> dict[Any, Any] | None:
        """Rewritten header values, when they depend on the configuration only.

        They do while no canonical table is searched (no sender_canonical_maps,
        recipient_canonical_maps or canonical_maps, or no address mappings):
        what is left (trivial-rewrite's rewrite, masquerading) reads main.cf
        and logs nothing. The same From:/To: values come in message after message.
        """
        memo = self.memo
        if self.mappings and (memo_specs(memo, self.cfg, "canonical_maps")
                              or memo_specs(memo, self.cfg, "sender_canonical_maps")
                              or memo_specs(memo, self.cfg, "recipient_canonical_maps")):
            return None
        key = ("header addresses", self.mappings)
        hit = memo.get(key)
        config = self.ctx.config          # trivial-rewrite's rewrite() reads the main Config
        if hit is None or hit[0] is not config:
            hit = memo[key] = (config, {})
        return hit[1]

    def _header_addresses(self, value: str, context: str, is_sender: bool) -> str | None:
        tree = tok822.parse(value)
        changed = False
        tp = tree
        while tp is not None:
            if tp.type == tok822.ADDR and tp.head is not None:
                old = tok822.externalize(tp.head)
                canon = rewrite(self.ctx, old, context, external=True)
                new = self.sender(canon, True, context, True) if is_sender \
                    else self.recipient(canon, True, context, True)
                # the tree is replaced by the rewritten address, quoted anew ("a@b@c" -> "a@b"@c)
                if tok822.quote_822_local(new) != old:
                    first = tok822.scan(tok822.quote_822_local(new))
                    tp.head = tp.tail = None
                    if first is not None:
                        tok822._sub_append(tp, first)
                    changed = True
            tp = tp.next
        if not changed:
            return None
        parts: list[str] = []
        segment: list[Any] = []
        tp = tree
        while tp is not None:
            nxt = tp.next
            if tp.type == ",":
                parts.append(_external(segment))
                segment = []
            else:
                segment.append(tp)
            tp = nxt
        if segment:
            parts.append(_external(segment))
        return ",\n\t".join(p for p in parts if p)

    # -- virtual aliases -------------------------------------------------------------
    def virtual(self, addr: str) -> list[str]:
        """cleanup_map1n_internal(): expand one recipient through virtual_alias_maps."""
        maps = self._maps("virtual_alias_maps") if self.mappings else []
        if not maps:
            return [addr]
        recursion = self._int("virtual_alias_recursion_limit", 1000)
        expansion = self._int("virtual_alias_expansion_limit", 1000)
        length = self._int("virtual_alias_address_length_limit", 1000)
        out = [addr]
        been_here: set[str] = set()
        i = 0
        while i < len(out):
            if len(out) > expansion:
                self.warn(f"unreasonable virtual_alias_maps map expansion size for {addr} -- message not accepted")
                raise ExpansionError("4.6.0 Alias expansion error")
            count = 0
            while True:
                if out[i].lower() in been_here:
                    break
                if count >= recursion:
                    self.warn(f"unreasonable virtual_alias_maps map nesting for {addr} -- message not accepted")
                    raise ExpansionError("4.6.0 Alias expansion error")
                got = self.lookup(maps, out[i], "virtual", "virtual_alias_maps")
                if got is None:
                    break
                lhs = out[i]
                first = True
                for new in got:
                    if len(new) > length:
                        self.warn(f"virtual_alias_maps: result too long: {new[:100]}...")
                        continue
                    if first:
                        out[i] = new
                        first = False
                    else:
                        out.append(new)
                    if lhs.lower() == new.lower():
                        been_here.add(lhs.lower())
                if first:
                    break
                count += 1
            i += 1
        return out


def fold_addresses(name: str, value: str) -> str:
    """cleanup_fold_header(): a rewritten address list, as many addresses per line as fit.

    The next address joins the line (after a space) while the line stays under 70
    characters (a continuation line's TAB not counted); otherwise it starts a new one.
    """
    parts = value.split(",\n\t")
    lines: list[str] = []
    cur = f"{name}: {parts[0]}"
    for i, part in enumerate(parts[1:], 1):
        cur += ","
        if len(cur) + 1 + len(part) + (i < len(parts) - 1) < 70:
            cur += " " + part
        else:
            lines.append(cur)
            cur = part
    lines.append(cur)
    return "\n\t".join(lines)


def _extension(addr: str, delim: str) -> str:
    """The address extension (without its delimiter), or ''."""
    if not delim:
        return ""
    at = addr.rfind("@")
    local = addr[:at] if at >= 0 else addr
    if local.lower() in ("postmaster", "mailer-daemon", "double-bounce"):
        return ""
    for i, ch in enumerate(local):
        if ch in delim and i > 0:
            return local[i:]
    return ""


def ext_needed(key: str, addr: str, delim: str) -> bool:
    """Was the table entry found for the address with its extension stripped?"""
    ext = _extension(addr, delim)
    if not ext:
        return False
    at = key.rfind("@")
    klocal = key[:at] if at >= 0 else key
    return not any(c in delim for c in klocal[1:])


def _add_extension(addr: str, ext: str, delim: str) -> str:
    at = addr.rfind("@")
    local, domain = (addr[:at], addr[at:]) if at >= 0 else (addr, "")
    if any(c in delim for c in local[1:]):
        return addr
    return local + ext + domain


def _external(toks: list[Any]) -> str:
    """Externalize a run of sibling tokens (they are still linked; cut a copy)."""
    if not toks:
        return ""
    first, last = toks[0], toks[-1]
    saved_prev, saved_next = first.prev, last.next
    first.prev = None
    last.next = None
    try:
        return tok822.externalize(first)
    finally:
        first.prev, last.next = saved_prev, saved_next
