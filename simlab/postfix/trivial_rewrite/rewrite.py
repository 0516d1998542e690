"""NAME
    rewrite - canonicalize an address (trivial-rewrite's "rewrite" service)

SUMMARY
    rewrite(ctx, "alice")                  -> "alice@example.com"   (local context)
    rewrite(ctx, "alice", "remote")        -> "alice"
    rewrite(ctx, "other.example!user")     -> "user@other.example"
    rewrite(ctx, "@a.example:u@b.example") -> "u@b.example"

DESCRIPTION
    The rewrite step turns an address into user@domain form, as cleanup(8)
    asks for every envelope address (and header address in the local
    context):

    - an empty address stays empty, a lone "@" becomes empty;
    - a source route (@hop1,@hop2:user@domain) is removed;
    - without "@": site!user becomes user@site (swap_bangpath), else the last
      "%" becomes "@" (allow_percent_hack), else "@$myorigin" is appended
      (append_at_myorigin, local context only);
    - "user@host" gets ".$mydomain" appended when append_dot_mydomain = yes;
    - one trailing dot is stripped from the domain.

    The "remote" context uses remote_header_rewrite_domain instead of
    myorigin and mydomain; with the default (empty) nothing is appended.

    ``rewrite()`` takes and returns the *internal* (unquoted) form, the way
    cleanup(8) quotes before and unquotes after calling the rewrite service.

PARAMETERS
    myorigin, mydomain, append_at_myorigin, append_dot_mydomain,
    swap_bangpath, allow_percent_hack, remote_header_rewrite_domain.

SEE ALSO
    trivial-rewrite(8), ADDRESS_REWRITING_README, postconf(5)
"""

from __future__ import annotations

from typing import Any

from ..maps.tok822 import (DOMLIT, QSTRING, Tok, externalize, find, quote_822_local, rfind, tokenize,
                           unquote_822_local)

REWRITE_CONTEXTS = ("local", "remote")
_SHARED_KEY = "trivial-rewrite:rewrite"     # (Config, {(context, address): answer}): answers
                                            # depend on main.cf alone


class RewriteRules:
    """The parameters one rewrite context uses (read once per call)."""

    def __init__(self, ctx: Any, context: str = "local") -> None:
        cfg = ctx.config
        if context not in REWRITE_CONTEXTS:
            raise ValueError(f"unknown address rewriting context: {context!r}")
        if context == "local":
            self.origin = cfg["myorigin"]
            self.domain = cfg["mydomain"]
        else:
            self.origin = self.domain = cfg["remote_header_rewrite_domain"]
        self.swap_bangpath = cfg.get_bool("swap_bangpath")
        self.percent_hack = cfg.get_bool("allow_percent_hack")
        self.append_at_origin = cfg.get_bool("append_at_myorigin")
        self.append_dot_domain = cfg.get_bool("append_dot_mydomain")


def rewrite_tree(rules: RewriteRules, toks: list[Tok]) -> list[Tok]:
    """Rewrite a token list in place (Postfix's rewrite_tree) and return it."""
    if not toks:
        return toks
    if len(toks) == 1 and toks[0].type == QSTRING and toks[0].text == "":
        return toks
    if len(toks) == 1 and toks[0].type == "@":
        toks[:] = [Tok(QSTRING, "")]
        return toks

    # Source route: "@hop:user@domain" -> "user@domain".
    if toks[0].type == "@":
        colon = find(toks, ":")
        if colon >= 0 and colon != len(toks) - 1:
            del toks[:colon + 1]

    if rfind(toks, "@") < 0:
        bang = find(toks, "!") if rules.swap_bangpath else -1
        pct = rfind(toks, "%") if rules.percent_hack else -1
        if bang >= 0:
            site, user = toks[:bang], toks[bang + 1:]
            toks[:] = user + [Tok("@")] + site
        elif pct >= 0:
            toks[pct] = Tok("@")
        elif rules.append_at_origin and rules.origin:
            toks.extend([Tok("@")] + tokenize(rules.origin))

    at = rfind(toks, "@")
    if (rules.append_dot_domain and rules.domain and at >= 0 and at != len(toks) - 1
            and not any(t.type == DOMLIT for t in toks[at:])
            and not any(t.type == "." for t in toks[at:])):
        toks.extend([Tok(".")] + tokenize(rules.domain))

    if (len(toks) > 1 and toks[-1].type == "."
            and toks[-2].type not in (".", "@")):
        del toks[-1]
    return toks


def rewrite(ctx: Any, address: str, context: str = "local", external: bool = False) -> str:
    """Canonicalize an address in rewrite ``context`` ("local" or "remote"); internal form out.

    The address is in internal form, or with ``external`` in the RFC 822 form a
    header holds (cleanup_rewrite_tree(): no quoting first, so a quoted local part
    that contains an @ stays one local part).
    """
    if address == "":
        return ""
    cfg = ctx.config
    shared = getattr(ctx, "shared", None)
    memo = shared.get(_SHARED_KEY) if isinstance(shared, dict) else None
    if memo is None or memo[0] is not cfg:
        memo = (cfg, {})
        if isinstance(shared, dict):
            shared[_SHARED_KEY] = memo
    key = (context, address, external)
    hit = memo[1].get(key)
    if hit is not None:
        return hit
    rules = RewriteRules(ctx, context)
    toks = tokenize(address if external else quote_822_local(address))
    rewrite_tree(rules, toks)
    out = unquote_822_local(externalize(toks))
    if len(memo[1]) >= 8192:
        memo[1].clear()
    memo[1][key] = out
    return out


__all__ = ["REWRITE_CONTEXTS", "RewriteRules", "rewrite", "rewrite_tree"]
