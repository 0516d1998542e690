"""NAME
    expand - $name expansion in Postfix parameter values (mac_parse + mac_expand)

SUMMARY
    text, status = mac_expand(pattern, flags, lookup, warn)
    status = mac_parse(text, action, warn)

DESCRIPTION
    A faithful port of Postfix's mac_parse(3) and mac_expand(3), so that
    expansion results, warnings and error cases match postconf(1):

    $name, ${name}, $(name)      the named value (empty when undefined); with
                                 RECURSE the value is expanded again
    ${name?text} ${name?{text}}  text when name is non-empty
    ${name:text} ${name:{text}}  text when name is empty or undefined
    ${name?{t1}:{t2}}            t1 or t2
    ${{a} == {b} ? {t} : {f}}    relational operators ==, !=, <, <=, >=, >
                                 (numeric when both sides are all digits),
                                 plus the "level" suffix (<level, ...) that
                                 compares compatibility levels like 3.6
    $$                           a literal $

    Diagnostics are postconf's: "empty macro name", "truncated macro
    reference", "unreasonable macro call nesting" (more than 100 nested
    lookups), "unbalanced {} ...", "attribute name syntax error at ...".
    They go to ``warn`` and set MAC_PARSE_ERROR in the returned status.
    Two conditions on which Postfix exits (a bad number in a numeric
    comparison) raise MacroFatal.

    Unlike the C code, nested relational operands share a depth guard and
    one expansion may make at most 10000 lookups, so a self-referencing or
    exponentially branching value ends with a nesting warning instead of
    exhausting the stack or running for ever.

    See postconf(5), "$name expansion".
"""

from __future__ import annotations

from typing import Callable

MAC_PARSE_LITERAL = 1
MAC_PARSE_EXPR = 2

MAC_PARSE_OK = 0
MAC_PARSE_ERROR = 1 << 0
MAC_PARSE_UNDEF = 1 << 1

FLAG_NONE = 0
FLAG_RECURSE = 1 << 0
FLAG_SCAN = 1 << 2

MODE_TEST = 1
MODE_USE = 2

WHITESPACE = " \t\r\n"
_OP_CHARS = "<>!=?+-*/~&|%"
_OPS = {"==": "EQ", "!=": "NE", "<": "LT", "<=": "LE", ">=": "GE", ">": "GT"}
_OP_ANY = '"==" or "!="" or "<"" or "<="" or ">="" or ">"'
_LONG_MAX = (1 << 63) - 1
_MAX_LEVEL = 100
_MAX_TOTAL_DEPTH = 150
_MAX_CALLS = 10000

Lookup = Callable[[str, int], "str | None"]
Warn = Callable[[str], None]


class MacroFatal(Exception):
    """A condition on which Postfix's expansion code calls msg_fatal()."""


def _isalnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _strspn(s: str, pos: int, chars: str) -> int:
    end = pos
    while end < len(s) and s[end] in chars:
        end += 1
    return end - pos


def mac_parse(value: str, action: Callable[[int, str], int], warn: Warn) -> int:
    """Split ``value`` into literal text and macro expressions (mac_parse(3))."""
    buf: list[str] = []
    status = MAC_PARSE_OK
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch != "$":
            buf.append(ch)
            i += 1
        elif i + 1 < n and value[i + 1] == "$":
            buf.append("$")
            i += 2
        else:
            if buf:
                status |= action(MAC_PARSE_LITERAL, "".join(buf))
                buf = []
            i += 1
            if i < n and value[i] in "({":
                open_ch = value[i]
                close_ch = ")" if open_ch == "(" else "}"
                level = 1
                i += 1
                ep = i
                while level > 0:
                    if ep >= n:
                        warn(f'truncated macro reference: "{value}"')
                        status |= MAC_PARSE_ERROR
                        break
                    if value[ep] == open_ch:
                        level += 1
                    if value[ep] == close_ch:
                        level -= 1
                    ep += 1
                if status & MAC_PARSE_ERROR:
                    break
                name = value[i:ep - 1]
                i = ep
            else:
                ep = i
                while ep < n and (_isalnum(value[ep]) or value[ep] == "_"):
                    ep += 1
                name = value[i:ep]
                i = ep
            if not name:
                status |= MAC_PARSE_ERROR
                warn(f'empty macro name: "{value}"')
                break
            status |= action(MAC_PARSE_EXPR, name)
    if buf and not status & MAC_PARSE_ERROR:
        status |= action(MAC_PARSE_LITERAL, "".join(buf))
    return status


def _strtol(s: str, pos: int) -> tuple[int, int, bool]:
    """C strtol(): value, end position (== pos when nothing converted), range error."""
    i = pos + _strspn(s, pos, " \t\n\v\f\r")
    sign = 1
    if i < len(s) and s[i] in "+-":
        sign = -1 if s[i] == "-" else 1
        i += 1
    start = i
    while i < len(s) and "0" <= s[i] <= "9":
        i += 1
    if i == start:
        return 0, pos, False
    value = sign * int(s[start:i])
    return value, i, not (-_LONG_MAX - 1 <= value <= _LONG_MAX)


def compat_level_from_string(text: str, warn: Warn) -> int:
    """Encode major[.minor[.patch]] as one comparable number; -1 when malformed."""
    major, end, erange = _strtol(text, 0)
    if end > 0 and (end == len(text) or text[end] == ".") and not erange \
            and 0 <= major <= (_LONG_MAX >> 20):
        result = major << 20
        if end == len(text):
            return result
        start = end + 1
        minor, end, erange = _strtol(text, start)
        if end > start and (end == len(text) or text[end] == ".") and not erange \
                and 0 <= minor <= 0x3FF:
            result |= minor << 10
            if end == len(text):
                return result
            start = end + 1
            patch, end, erange = _strtol(text, start)
            if end > start and end == len(text) and not erange and 0 <= patch <= 0x3FF:
                return result | patch
    warn(f'malformed compatibility level syntax: "{text}"')
    return -1


def _compare(op: str, delta: int) -> bool:
    return {"EQ": delta == 0, "NE": delta != 0, "LT": delta < 0, "LE": delta <= 0,
            "GE": delta >= 0, "GT": delta > 0}[op]


def _alldig(text: str) -> bool:
    """alldig(3): false for the empty string, so ${{} == {}...} compares text."""
    return bool(text) and all("0" <= ch <= "9" for ch in text)


def _atol_or_die(text: str) -> int:
    value, end, erange = _strtol(text, 0)
    if not text or end != len(text) or erange:
        raise MacroFatal(f"mac_exp_eval: bad conversion: {text}")
    return value


def _default_relop(left: str, op: str, right: str, warn: Warn) -> bool | None:
    if _alldig(left) and _alldig(right):
        delta = _atol_or_die(left) - _atol_or_die(right)
    else:
        delta = (left > right) - (left < right)
    return _compare(op, delta)


def _level_relop(left: str, op: str, right: str, warn: Warn) -> bool | None:
    left_val = compat_level_from_string(left, warn)
    if left_val < 0:
        return None
    right_val = compat_level_from_string(right, warn)
    if right_val < 0:
        return None
    return _compare(op, left_val - right_val)


_RELOP_SUFFIXES: dict[str, Callable[[str, str, str, Warn], "bool | None"]] = {
    "level": _level_relop,
}


class _Depth:
    """Nesting and work shared by an expansion and the expansions of its operands."""

    def __init__(self) -> None:
        self.total = 0
        self.calls = 0


class _Ctx:
    def __init__(self, flags: int, lookup: Lookup, warn: Warn, depth: _Depth) -> None:
        self.result: list[str] = []
        self.flags = flags
        self.lookup = lookup
        self.warn = warn
        self.status = MAC_PARSE_OK
        self.level = 0
        self.depth = depth

    def error(self, message: str) -> int:
        self.warn(message)
        self.status |= MAC_PARSE_ERROR
        return self.status

    def extract_curly(self, s: str, pos: int) -> tuple[str, int] | None:
        level, q = 1, pos + 1
        while True:
            if q >= len(s):
                self.error(f'unbalanced {{}} in attribute expression: "{s[pos:]}"')
                return None
            if s[q] == "{":
                level += 1
            elif s[q] == "}":
                level -= 1
                if level <= 0:
                    break
            q += 1
        payload = s[pos + 1:q]
        q += 1
        return payload, q + _strspn(s, q, WHITESPACE)

    def parse_relational(self, s: str, pos: int) -> tuple[str | None, int] | None:
        got = self.extract_curly(s, pos)
        if got is None:
            return None
        left, p = got
        op_pos = p
        op_len = _strspn(s, p, _OP_CHARS)
        op_text = s[p:p + op_len]
        op = _OPS.get(op_text)
        if op is None:
            self.error(f'{_OP_ANY} expected at: "...{left}}}>>>{s[p:p + 20]}"')
            return None
        p += op_len
        relop = _default_relop
        if p < len(s) and _isalnum(s[p]):
            type_pos = p
            while p < len(s) and _isalnum(s[p]):
                p += 1
            found = _RELOP_SUFFIXES.get(s[type_pos:p])
            if found is None:
                self.error(f'bad operator suffix at: "...{op_text}>>>{s[type_pos:p]}"')
                return None
            relop = found
        q = p + _strspn(s, p, WHITESPACE)
        if q >= len(s) or s[q] != "{":
            self.error(f'"{{expression}}" expected at: "...{{{left}}} {s[op_pos:op_pos + op_len]}'
                       f'>>>{s[p:p + 20]}"')
            return None
        got = self.extract_curly(s, q)
        if got is None:
            return None
        right, p = got
        left_val, st1 = _expand(left, self.flags, self.lookup, self.warn, self.depth)
        right_val, st2 = _expand(right, self.flags, self.lookup, self.warn, self.depth)
        self.status |= st1 | st2
        result: bool | None = False
        if not self.flags & FLAG_SCAN:
            result = relop(left_val, op, right_val, self.warn)
            if result is None:
                self.status |= MAC_PARSE_ERROR
        if self.status & MAC_PARSE_ERROR:
            return None
        if self.flags & FLAG_SCAN:
            return None, p
        return ("true" if result else ""), p

    def callback(self, kind: int, text: str) -> int:
        self.depth.calls += 1
        if self.depth.calls > _MAX_CALLS:
            if self.depth.calls == _MAX_CALLS + 1:
                self.warn(f'unreasonable macro call nesting: "{text}"')
            self.status |= MAC_PARSE_ERROR
        elif self.level > _MAX_LEVEL or self.depth.total > _MAX_TOTAL_DEPTH:
            self.error(f'unreasonable macro call nesting: "{text}"')
        self.level += 1
        self.depth.total += 1
        try:
            if self.status & MAC_PARSE_ERROR:
                return self.status
            if kind == MAC_PARSE_EXPR:
                if self._expression(text):
                    return self.status
            elif not self.flags & FLAG_SCAN:
                self.result.append(text)
            self.level -= 1
            return self.status
        finally:
            self.depth.total -= 1

    def _expression(self, s: str) -> bool:
        """Handle one ${...} body; True when returning early on an error."""
        lookup: str | None
        q = _strspn(s, 0, WHITESPACE)
        if q < len(s) and s[q] == "{":
            got = self.parse_relational(s, q)
            if got is None:
                return True
            lookup, p = got
            ch = s[p] if p < len(s) else ""
            if ch:
                if ch not in "?:":
                    self.error(f'"?" or ":" expected at: "...}}>>>{s[p:p + 20]}"')
                    return True
                p += 1
        else:
            p = start = q
            while True:
                tmp = _strspn(s, p, WHITESPACE)
                ch = s[p + tmp] if p + tmp < len(s) else ""
                if ch == "":
                    name, mode = s[start:p], MODE_USE
                    break
                if ch in "?:":
                    name, mode = s[start:p], MODE_TEST
                    p += tmp + 1
                    break
                if not (_isalnum(s[p]) or s[p] == "_"):
                    self.error(f'attribute name syntax error at: "...{s[:p]}>>>{s[p:p + 20]}"')
                    return True
                p += 1
            lookup = self.lookup(name, mode)
        if ch == "?":
            q = p + _strspn(s, p, WHITESPACE)
            if q < len(s) and s[q] == "{":
                got2 = self.extract_curly(s, q)
                if got2 is None:
                    return True
                if_true, p = got2
            else:
                if_true, p = s[p:], len(s)
            if lookup or self.flags & FLAG_SCAN:
                self.status |= mac_parse(if_true, self.callback, self.warn)
            if p >= len(s):
                return False
            if s[p] != ":":
                self.error(f'":" expected at: "...{if_true}}}>>>{s[p:p + 20]}"')
                return True
            p += 1
            ch = ":"
        if ch == ":":
            q = p + _strspn(s, p, WHITESPACE)
            if q < len(s) and s[q] == "{":
                got2 = self.extract_curly(s, q)
                if got2 is None:
                    return True
                if_false, p = got2
            else:
                if_false, p = s[p:], len(s)
            if not lookup or self.flags & FLAG_SCAN:
                self.status |= mac_parse(if_false, self.callback, self.warn)
            if p < len(s):
                self.error(f'unexpected input at: "...{if_false}}}>>>{s[p:p + 20]}"')
                return True
            return False
        if lookup is None:
            self.status |= MAC_PARSE_UNDEF
        elif lookup == "" or self.flags & FLAG_SCAN:
            pass
        elif self.flags & FLAG_RECURSE:
            self.status |= mac_parse(lookup, self.callback, self.warn)
        else:
            self.result.append(lookup)
        return False


def _expand(pattern: str, flags: int, lookup: Lookup, warn: Warn,
            depth: _Depth) -> tuple[str, int]:
    ctx = _Ctx(flags, lookup, warn, depth)
    status = mac_parse(pattern, ctx.callback, warn)
    return "".join(ctx.result), status


def mac_expand(pattern: str, flags: int, lookup: Lookup,
               warn: Warn | None = None) -> tuple[str, int]:
    """Expand ``pattern``; returns (text, status bits MAC_PARSE_ERROR/UNDEF)."""
    return _expand(pattern, flags, lookup, warn or (lambda _m: None), _Depth())


def scan_names(pattern: str, flag: Callable[[str], None], warn: Warn | None = None) -> int:
    """Report every $name in ``pattern`` (both arms of conditionals) to ``flag``."""

    def lookup(name: str, _mode: int) -> str | None:
        flag(name)
        return None

    return mac_expand(pattern, FLAG_SCAN, lookup, warn)[1]
