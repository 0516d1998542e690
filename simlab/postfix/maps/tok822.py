"""
NAME
    tok822 - Postfix's RFC 822 address tokenizer (tok822_parse.c, quote_822_local.c)

SUMMARY
    scan(text) -> first Tok of a flat token list
    parse(text) -> first Tok of a parse tree (ADDR nodes hold addresses)
    tokenize(text) -> list[Tok]     # scan() as a list; find(toks, op), rfind(toks, op)
    internalize(tok or list), externalize(tok or list) -> str
    addresses(text) -> list[str]    # internal form of each address in text
    find_type(tok, op), rfind_type(tok, op)
    quote_822_local(addr), unquote_822_local(addr), split_address(addr)

DESCRIPTION
    The one RFC 822 tokenizer of simlab's Postfix: trivial-rewrite,
    cleanup, smtpd, postalias and local(8) all use it.

    postalias(1) tokenizes every alias line with this scanner, so that
    quoted local parts may contain "@", ":" or ","; local(8) parses the
    stored alias value again to find the destinations. Tokens: atoms,
    "quoted strings", [domain literals], (comments, nested), and the
    operators | % ! ( ) < > @ , ; : \\ " . [ ]. Whitespace (space, tab, CR,
    LF) separates tokens; a backslash quotes the next character.

    The parser groups tokens into addresses from right to left and adds a
    missing comma between two adjacent words, so "alice bob" holds two
    addresses; "Name <addr>" yields only addr; comments are ignored.
    internalize() gives the unquoted text, externalize() the quoted form;
    both insert a space between two adjacent words and after a comma.
"""

from __future__ import annotations

import re

ATOM, QSTRING, DOMLIT, COMMENT, ADDR, STARTGRP = "ATOM", "QSTRING", "DOMLIT", "COMMENT", "ADDR", "STARTGRP"
OPCHARS = "|%!" + '()<>@,;:\\".[]'
SPACE_TAB_CR_LF = " \t\r\n"
_WORDS = (ATOM, QSTRING, COMMENT, DOMLIT, ADDR)


class Tok:
    __slots__ = ("type", "text", "prev", "next", "head", "tail", "owner")

    def __init__(self, type_: str, text: str = "") -> None:
        self.type = type_
        self.text = text
        self.prev: Tok | None = None
        self.next: Tok | None = None
        self.head: Tok | None = None
        self.tail: Tok | None = None
        self.owner: Tok | None = None

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.text!r})"

    def siblings(self) -> list["Tok"]:
        out, tp = [], self
        while tp is not None:
            out.append(tp)
            tp = tp.next
        return out


def _append(t1: Tok, t2: Tok) -> Tok:
    nxt = t1.next
    t1.next, t2.prev = t2, t1
    t2.owner = t1.owner
    while t2.next is not None:
        t2 = t2.next
        t2.owner = t1.owner
    t2.next = nxt
    if nxt is not None:
        nxt.prev = t2
    return t2


def _prepend(t1: Tok, t2: Tok) -> Tok:
    prev = t1.prev
    if prev is not None:
        prev.next = t2
    t2.prev = prev
    t2.owner = t1.owner
    while t2.next is not None:
        t2 = t2.next
        t2.owner = t1.owner
    t2.next, t1.prev = t1, t2
    return t2


def _cut_before(tp: Tok) -> Tok | None:
    prev = tp.prev
    if prev is not None:
        prev.next = None
        tp.prev = None
    return prev


def _unlink(tp: Tok) -> Tok | None:
    prev, nxt = tp.prev, tp.next
    if prev is not None:
        prev.next = nxt
    if nxt is not None:
        nxt.prev = prev
    tp.prev = tp.next = None
    return prev


def _sub_append(t1: Tok, t2: Tok) -> Tok:
    if t1.head is not None:
        assert t1.tail is not None
        t1.tail = _append(t1.tail, t2)
        return t1.tail
    t1.head = t2
    t2.owner = t1
    while t2.next is not None:
        t2 = t2.next
        t2.owner = t1
    t1.tail = t2
    return t2


def find_type(tp: Tok | None, op: str) -> Tok | None:
    while tp is not None and tp.type != op:
        tp = tp.next
    return tp


def rfind_type(tp: Tok | None, op: str) -> Tok | None:
    while tp is not None and tp.type != op:
        tp = tp.prev
    return tp


def _collect(s: str, i: int, stop) -> tuple[str, int]:
    """COLLECT(): gather characters while stop(c) is false, honouring backslash."""
    out: list[str] = []
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
    out, level, n = ["("], 1, len(s)
    while i < n:
        ch = s[i]
        out.append(ch)
        i += 1
        if ch == "(":
            level += 1
        elif ch == ")":
            level -= 1
            if level == 0:
                break
        elif ch == "\\":
            if i >= n:
                break
            out.append(s[i])
            i += 1
    return "".join(out), i


def scan(s: str) -> Tok | None:
    head = tail = None
    i, n = 0, len(s)
    while i < n:
        ch = s[i]
        i += 1
        if ch in SPACE_TAB_CR_LF:
            continue
        if ch == "(":
            text, i = _comment(s, i)
            tp = Tok(COMMENT, text)
        elif ch in "[\"":
            close = "]" if ch == "[" else '"'
            text, i = _collect(s, i, lambda c, close=close: c == close)
            if i < n:
                i += 1
            tp = Tok(DOMLIT if ch == "[" else QSTRING, text)
        elif ch != "\\" and ch in OPCHARS:
            tp = Tok(ch)
        else:
            text, i = _collect(s, i - 1, lambda c: c in SPACE_TAB_CR_LF or c in OPCHARS)
            tp = Tok(ATOM, text)
            if any(c == " " or ord(c) < 32 or ord(c) == 127 or c in OPCHARS for c in text):
                tp.type = QSTRING
        if head is None:
            head = tail = tp
        else:
            assert tail is not None
            tail = _append(tail, tp)
    return head


def _group(left: Tok, right: Tok, sync: str | None) -> Tok:
    first = left.next
    if left is not right and first is not right and first is not None:
        _cut_before(right)
        _cut_before(first)
        group = Tok(ADDR)
        _sub_append(group, first)
        _append(left, group)
        _append(group, right)
        if sync:
            _append(left, Tok(sync))
    return left


def parse(s: str) -> Tok | None:
    first = scan(s)
    if first is None:
        return None
    last = first
    while last.next is not None:
        last = last.next
    head, tail = Tok(""), Tok("")
    head.next, first.prev = first, head
    last.next, tail.prev = tail, last
    do_word, do_group = 1, 2
    state = do_word
    right = tail
    tp = tail.prev
    assert tp is not None
    while tp.type:
        if tp.type == COMMENT:
            prev = _unlink(tp)
            right = _prepend(right, tp)
            assert prev is not None
            tp = prev
            continue
        if tp.type == ";":
            right = _group(tp, right, ",")
            state = do_group | do_word
        elif tp.type == ":" and state & do_group:
            tp.type = STARTGRP
            _group(tp, right, None)
            while tp.type and tp.type != ",":
                tp = tp.prev
            right = tp
            continue
        elif tp.type == ">":
            right = _group(tp, right, ",")
            while tp.type and tp.type != "<":
                if tp.type == COMMENT:
                    prev = _unlink(tp)
                    right = _prepend(right, tp)
                    tp = prev
                    continue
                tp = tp.prev
            _group(tp, right, None)
            while tp.type and (len(tp.type) > 1 or tp.type not in ">;,:"):
                tp = tp.prev
            right = tp
            state |= do_word
            continue
        elif tp.type in (ATOM, QSTRING, DOMLIT):
            if not state & do_word:
                right = _group(tp, right, ",").next
            state &= ~do_word
        elif tp.type == ",":
            right = _group(tp, right, None)
            state |= do_word
        else:
            state |= do_word
        tp = tp.prev
    _group(tp, right, None)
    result = head.next if head.next is not tail else None
    if result is not None:
        _cut_before(result)
    _cut_before(tail)
    return result


def tokenize(s: str) -> list[Tok]:
    """scan() as a Python list of unlinked tokens (what trivial-rewrite edits in place)."""
    first = scan(s)
    toks = first.siblings() if first is not None else []
    for t in toks:
        t.prev = t.next = None
    return toks


def find(toks: list[Tok], op: str) -> int:
    """Index of the first operator ``op`` in a token list, or -1."""
    for k, t in enumerate(toks):
        if t.type == op:
            return k
    return -1


def rfind(toks: list[Tok], op: str) -> int:
    """Index of the last operator ``op`` in a token list, or -1."""
    for k in range(len(toks) - 1, -1, -1):
        if toks[k].type == op:
            return k
    return -1


def _sequence(tp: "Tok | list[Tok] | None") -> list[Tok]:
    if tp is None:
        return []
    return tp if isinstance(tp, list) else tp.siblings()


def _needs_space(tp: Tok, nxt: Tok | None) -> bool:
    if nxt is None or tp.owner is not None:
        return False
    if tp.type in (",", STARTGRP) or nxt.type == "<":
        return True
    return tp.type in _WORDS and nxt.type in _WORDS


def _join(tp: "Tok | list[Tok] | None", quoted: bool) -> str:
    toks = _sequence(tp)
    out: list[str] = []
    for k, t in enumerate(toks):
        if t.type == ADDR:
            inner = internalize(t.head)
            out.append(quote_822_local(inner) if quoted else inner)
        elif t.type in (ATOM, COMMENT):
            out.append(t.text)
        elif t.type == QSTRING:
            out.append('"' + _quoted(t.text, '"\\\r\n') + '"' if quoted else t.text)
        elif t.type == DOMLIT:
            out.append("[" + (_quoted(t.text, "\\\r\n") if quoted else t.text) + "]")
        elif t.type == STARTGRP:
            out.append(":")
        else:
            out.append(t.type)
        if _needs_space(t, toks[k + 1] if k + 1 < len(toks) else None):
            out.append(" ")
    return "".join(out)


def _quoted(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials else c for c in text)


def internalize(tp: "Tok | list[Tok] | None") -> str:
    """Tokens (a linked run from ``tp``, or a list) in internal, unquoted form."""
    return _join(tp, quoted=False)


def externalize(tp: "Tok | list[Tok] | None") -> str:
    """Tokens (a linked run from ``tp``, or a list) in external, quoted form."""
    return _join(tp, quoted=True)


# -- local-part quoting (quote_822_local.c) ----------------------------------------------------
_NEED_QUOTE = set('()<>@,;:\\"[]')
_NOT_IN_DOT_STRING = re.compile("[ \\x00-\\x1f\\x7f" + re.escape("".join(sorted(_NEED_QUOTE))) + "]")


def _is_dot_string(local: str) -> bool:
    if not local or local[0] == "." or local[-1] == "." or ".." in local:
        return False
    return _NOT_IN_DOT_STRING.search(local) is None


def quote_822_local(addr: str) -> str:
    """Quote the local part of an internal-form address where RFC 822 needs it.

    A source route ("@a,@b:user@dom") is skipped, as quote_822_local() does.
    """
    start = addr.index(":") + 1 if addr.startswith("@") and ":" in addr else 0
    at = addr.rfind("@", start)
    end = at if at >= 0 else len(addr)
    local = addr[start:end]
    if _is_dot_string(local):
        return addr
    return addr[:start] + '"' + _quoted(local, '"\\\r') + '"' + addr[end:]


def unquote_822_local(addr: str) -> str:
    """Remove the quotes from the local part (the domain is left alone)."""
    if addr.startswith("@") and ":" in addr:
        start = addr.index(":") + 1
        out = list(addr[:start])
    else:
        start = 0
        out = []
    in_quote = False
    bare_at_dst = bare_at_src = -1
    i, n = start, len(addr)
    while i < n:
        c = addr[i]
        if c == '"':
            in_quote = not in_quote
            i += 1
            continue
        if c == "@" and not in_quote:
            bare_at_dst, bare_at_src = len(out), i
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


def addresses(s: str) -> list[str]:
    """Each address in s, in internal form (how local(8) reads an alias value)."""
    out = []
    tp = parse(s)
    while tp is not None:
        if tp.type == ADDR:
            out.append(internalize(tp.head))
        tp = tp.next
    return out
