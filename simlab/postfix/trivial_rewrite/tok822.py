"""NAME
    tok822 - RFC 822 address tokens, quoting and unquoting (Postfix's tok822)

SUMMARY
    toks = scan('"user@other.example"@example.com')
    internalize(toks) -> 'user@other.example@example.com'
    externalize(toks) -> '"user@other.example"@example.com'
    quote_822_local('first last@example.com') -> '"first last"@example.com'
    unquote_822_local('"first last"@example.com') -> 'first last@example.com'

DESCRIPTION
    Postfix keeps addresses in two forms: *external* (quoted, as on the
    wire) and *internal* (unquoted, as in queue files and tables). The
    rewriter and the resolver work on a flat list of tokens: atoms, quoted
    strings, domain literals, comments, and one-character operators. Like
    Postfix, "%" and "!" are operators too (the world is not all RFC 822),
    and "|" is one so that alias files can be parsed with the same code.

    A backslash quotes the next character and is dropped; white space
    separates tokens; an atom that contains an operator, a space or a
    control character becomes a quoted string.

SEE ALSO
    RFC 822, RFC 5321 section 4.1.2, trivial-rewrite(8)
"""

from __future__ import annotations

from dataclasses import dataclass

ATOM = "atom"
QSTRING = "qstring"
DOMLIT = "domlit"
COMMENT = "comment"
NON_OPERATORS = (ATOM, QSTRING, DOMLIT, COMMENT)

SPECIALS_822 = '()<>@,;:\\".[]'
OPCHARS = "|%!" + SPECIALS_822
SPACE_TAB_CR_LF = " \t\r\n"


@dataclass
class Tok:
    """One token: ``type`` is ATOM/QSTRING/DOMLIT/COMMENT or the operator character."""

    type: str
    text: str = ""

    def is_op(self, ch: str) -> bool:
        return self.type == ch


def _collect(s: str, i: int, stop) -> tuple[str, int]:
    """Postfix's COLLECT: a backslash takes the next character literally."""
    out = []
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 1
            if i >= n:
                break
            c = s[i]
        elif stop(c):
            break
        out.append(" " if c in SPACE_TAB_CR_LF else c)
        i += 1
    return "".join(out), i


def _comment(s: str, i: int) -> tuple[str, int]:
    out = ["("]
    level = 1
    n = len(s)
    while i < n:
        c = s[i]
        out.append(c)
        i += 1
        if c == "(":
            level += 1
        elif c == ")":
            level -= 1
            if level == 0:
                break
        elif c == "\\" and i < n:
            out.append(s[i])
            i += 1
    return "".join(out), i


def scan(s: str) -> list[Tok]:
    """Tokenize an address in external form (tok822_scan)."""
    toks: list[Tok] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        i += 1
        if c in SPACE_TAB_CR_LF:
            continue
        if c == "(":
            text, i = _comment(s, i)
            toks.append(Tok(COMMENT, text))
        elif c == "[":
            text, i = _collect(s, i, lambda ch: ch == "]")
            i += 1 if i < n else 0
            toks.append(Tok(DOMLIT, text))
        elif c == '"':
            text, i = _collect(s, i, lambda ch: ch == '"')
            i += 1 if i < n else 0
            toks.append(Tok(QSTRING, text))
        elif c != "\\" and c in OPCHARS:
            toks.append(Tok(c))
        else:
            text, i = _collect(s, i - 1, lambda ch: ch in SPACE_TAB_CR_LF or ch in OPCHARS)
            kind = ATOM
            if any(ch == " " or ord(ch) < 32 or ord(ch) == 127 or ch in OPCHARS for ch in text):
                kind = QSTRING
            toks.append(Tok(kind, text))
    return toks


def _needs_space(t: Tok, nxt: Tok | None) -> bool:
    if nxt is None:
        return False
    if t.type == "," or nxt.type == "<":
        return True
    return t.type in NON_OPERATORS and nxt.type in NON_OPERATORS


def _join(toks: list[Tok], quoted: bool) -> str:
    out: list[str] = []
    for k, t in enumerate(toks):
        if t.type in (ATOM, COMMENT):
            out.append(t.text)
        elif t.type == QSTRING:
            out.append('"' + _escape(t.text, '"\\\r\n') + '"' if quoted else t.text)
        elif t.type == DOMLIT:
            out.append("[" + (_escape(t.text, "\\\r\n") if quoted else t.text) + "]")
        else:
            out.append(t.type)
        if _needs_space(t, toks[k + 1] if k + 1 < len(toks) else None):
            out.append(" ")
    return "".join(out)


def _escape(text: str, chars: str) -> str:
    return "".join("\\" + c if c in chars else c for c in text)


def internalize(toks: list[Tok]) -> str:
    """Tokens to internal (unquoted) form (tok822_internalize)."""
    return _join(toks, quoted=False)


def externalize(toks: list[Tok]) -> str:
    """Tokens to external (quoted) form (tok822_externalize)."""
    return _join(toks, quoted=True)


def rfind(toks: list[Tok], ch: str) -> int:
    """Index of the last operator ``ch``, or -1."""
    for k in range(len(toks) - 1, -1, -1):
        if toks[k].type == ch:
            return k
    return -1


def find(toks: list[Tok], ch: str) -> int:
    """Index of the first operator ``ch``, or -1."""
    for k, t in enumerate(toks):
        if t.type == ch:
            return k
    return -1


# -- local-part quoting (quote_822_local / unquote_822_local) -----------------------------
_NEED_QUOTE = set('()<>@,;:\\"[]')


def _is_dot_string(local: str) -> bool:
    if not local or local[0] == "." or local[-1] == ".":
        return False
    if ".." in local:
        return False
    for ch in local:
        if ch == " " or ord(ch) < 32 or ord(ch) == 127 or ch in _NEED_QUOTE:
            return False
    return True


def quote_822_local(addr: str) -> str:
    """Quote the local part of an internal-form address when RFC 822 needs it."""
    start = 0
    if addr.startswith("@") and ":" in addr:
        start = addr.index(":") + 1
    at = addr.rfind("@", start)
    end = at if at >= 0 else len(addr)
    local = addr[start:end]
    if _is_dot_string(local):
        return addr
    quoted = '"' + "".join("\\" + c if c in '"\\\r' else c for c in local) + '"'
    return addr[:start] + quoted + addr[end:]


def unquote_822_local(addr: str) -> str:
    """Remove quotes from the local part (the domain is left alone)."""
    if addr.startswith("@") and ":" in addr:
        start = addr.index(":") + 1
        out = list(addr[:start])
    else:
        start = 0
        out = []
    in_quote = False
    bare_at_dst = -1
    bare_at_src = -1
    i, n = start, len(addr)
    while i < n:
        c = addr[i]
        if c == '"':
            in_quote = not in_quote
            i += 1
            continue
        if c == "@" and not in_quote:
            bare_at_dst = len(out)
            bare_at_src = i
        if c == "\\" and in_quote:
            i += 1
            if i >= n:
                break
            c = addr[i]
        out.append(c)
        i += 1
    if bare_at_dst >= 0:
        return "".join(out[:bare_at_dst]) + addr[bare_at_src:]
    return "".join(out)


def split_address(addr: str) -> tuple[str, str]:
    """(local part, domain) of an internal-form address; the domain may be empty."""
    at = addr.rfind("@")
    if at < 0:
        return addr, ""
    return addr[:at], addr[at + 1:]
