"""
NAME
    posix_re - POSIX regular expressions (regcomp(3)) on top of Python's re

SUMMARY
    compile_posix(pattern, extended=True, icase=True, newline=False)
        -> (re.Pattern, nsub)
    PosixError(message)   # message is glibc's regerror() text

DESCRIPTION
    Postfix's regexp: tables use the C library's regcomp() with
    REG_EXTENDED | REG_ICASE by default ("x" in the flags switches to basic
    regular expressions, "m" turns on REG_NEWLINE). This module translates
    such a pattern to Python syntax: bracket expressions with [:class:],
    [=x=] and [.x.], "\\" inside brackets as a literal, "\\x" outside as the
    literal x (GNU's \\w \\W \\s \\S \\b \\B \\< \\> \\` \\' kept), intervals
    {m,n} and {,n}, back references, an unmatched ")" as a literal, "$" as
    the very end of the text unless REG_NEWLINE. Syntax errors raise
    PosixError with glibc's wording ("Unmatched ( or \\(", "Invalid preceding
    regular expression", ...).

    Python matches the leftmost-first alternative where POSIX takes the
    longest: a table whose $number substitution depends on that may capture
    a different substring (whether a key matches is the same).
"""

from __future__ import annotations

import re

RE_DUP_MAX = 0x7FFF

E_BADPAT = "Invalid regular expression"
E_ECOLLATE = "Invalid collation character"
E_ECTYPE = "Invalid character class name"
E_EESCAPE = "Trailing backslash"
E_ESUBREG = "Invalid back reference"
E_EBRACK = "Unmatched [, [^, [:, [., or [="
E_EPAREN = "Unmatched ( or \\("
E_EBRACE = "Unmatched \\{"
E_BADBR = "Invalid content of \\{\\}"
E_ERANGE = "Invalid range end"
E_BADRPT = "Invalid preceding regular expression"
E_ESIZE = "Regular expression too big"

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z",
    "lower": "a-z", "space": " \\t\\n\\r\\f\\v", "blank": " \\t",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
    "print": "\\x20-\\x7e", "graph": "\\x21-\\x7e", "cntrl": "\\x00-\\x1f\\x7f",
    "xdigit": "0-9A-Fa-f",
}


class PosixError(ValueError):
    """A pattern that regcomp() would reject; str() is regerror()'s text."""


def _bracket(p: str, i: int, newline: bool) -> tuple[str, int]:
    """Translate the bracket expression starting after "[" at p[i]."""
    n = len(p)
    negate = i < n and p[i] == "^"
    if negate:
        i += 1
    if i >= n:
        # glibc's parse_bracket_exp() meets the end of the pattern first: REG_BADPAT.
        raise PosixError(E_BADPAT)
    items: list[str] = []
    first = True
    prev_char: str | None = None  # last single character, a range start
    while True:
        if i >= n:
            raise PosixError(E_EBRACK)
        ch = p[i]
        if ch == "]" and not first:
            i += 1
            break
        first = False
        if ch == "[" and i + 1 < n and p[i + 1] in ":=.":
            kind = p[i + 1]
            close = p.find(kind + "]", i + 2)
            if close < 0:
                raise PosixError(E_EBRACK)
            word = p[i + 2:close]
            i = close + 2
            if kind == ":":
                if word not in _CLASSES:
                    raise PosixError(E_ECTYPE)
                items.append(_CLASSES[word])
                prev_char = None
                continue
            if len(word) != 1:
                raise PosixError(E_ECOLLATE)
            ch = word
        else:
            i += 1
        if ch == "-" and prev_char is not None and i < n and p[i] != "]":
            end = p[i]
            if end == "[" and i + 1 < n and p[i + 1] in "=.":
                close = p.find(p[i + 1] + "]", i + 2)
                if close < 0:
                    raise PosixError(E_EBRACK)
                end = p[i + 2:close]
                i = close + 2
                if len(end) != 1:
                    raise PosixError(E_ECOLLATE)
            else:
                i += 1
            if ord(end) < ord(prev_char):
                raise PosixError(E_ERANGE)
            items[-1] = re.escape(prev_char) + "-" + re.escape(end)
            prev_char = None
            continue
        items.append(re.escape(ch))
        prev_char = ch
    body = "".join(items)
    if negate:
        return "[^" + body + ("\\n" if newline else "") + "]", i
    return "[" + body + "]", i


def _interval(p: str, i: int, close: str) -> tuple[str, int]:
    """Translate {m,n} whose text starts at p[i] (after the opening brace)."""
    m = re.compile(r"(\d*)(,?)(\d*)").match(p, i)
    assert m is not None
    lo, comma, hi = m.groups()
    j = m.end()
    if not p.startswith(close, j):
        raise PosixError(E_EBRACE if j >= len(p) else E_BADBR)
    if not lo and not comma:
        raise PosixError(E_BADBR)
    low = int(lo) if lo else 0
    high = int(hi) if hi else None
    if high is not None and low > high:
        raise PosixError(E_BADBR)
    if (high if high is not None else low) > RE_DUP_MAX:
        raise PosixError(E_ESIZE)
    text = "{%d}" % low if not comma else "{%d,%s}" % (low, "" if high is None else high)
    return text, j + len(close)


def translate(pattern: str, extended: bool = True, newline: bool = False) -> tuple[str, int]:
    """POSIX pattern -> (Python pattern, number of groups)."""
    p, n = pattern, len(pattern)
    out: list[str] = []
    stack: list[int] = []       # out positions of open groups
    atom_at: int | None = None  # out position where the last atom starts
    quantified = False
    nsub = closed = 0
    i = 0

    def quantify(q: str) -> None:
        nonlocal quantified
        assert atom_at is not None
        if quantified:  # POSIX allows a** and a+?; Python does not
            out[atom_at:] = ["(?:" + "".join(out[atom_at:]) + ")"]
        out.append(q)
        quantified = True

    def atom(text: str) -> None:
        nonlocal atom_at, quantified
        atom_at = len(out)
        out.append(text)
        quantified = False

    while i < n:
        ch = p[i]
        i += 1
        at_start = atom_at is None
        if ch == "\\":
            if i >= n:
                raise PosixError(E_EESCAPE)
            c = p[i]
            i += 1
            if not extended and c in "(){}|+?":
                ch, c = c, ""
            elif c in "123456789":
                if int(c) > closed:
                    raise PosixError(E_ESUBREG)
                atom("(?:\\%s)" % c)
                continue
            elif c in "wWsS":
                atom("\\" + c)
                continue
            elif c in "bB<>`'":
                out.append({"b": "\\b", "B": "\\B", "<": "\\b(?=\\w)", ">": "\\b(?<=\\w)",
                            "`": "\\A", "'": "\\Z"}[c])
                atom_at, quantified = None, False
                continue
            else:
                atom(re.escape(c))
                continue
            # BRE operator written with a backslash: fall through with ch
        elif not extended and ch in "(){}|+?":
            atom(re.escape(ch))
            continue
        if ch == "[":
            text, i = _bracket(p, i, newline)
            atom(text)
        elif ch == "(":
            stack.append(len(out))
            nsub += 1
            out.append("(")
            atom_at, quantified = None, False
        elif ch == ")":
            if not stack:
                if extended:
                    atom("\\)")
                    continue
                raise PosixError("Unmatched ) or \\)")
            start = stack.pop()
            out.append(")")
            closed += 1
            atom_at, quantified = start, False
        elif ch == "|":
            out.append("|")
            atom_at, quantified = None, False
        elif ch in "*+?":
            if at_start:
                if extended:
                    raise PosixError(E_BADRPT)
                atom(re.escape(ch))
            else:
                quantify(ch)
        elif ch == "{":
            if at_start:
                raise PosixError(E_BADRPT)
            text, i = _interval(p, i, "}" if extended else "\\}")
            quantify(text)
        elif ch == "^":
            if extended or not out or out[-1] in ("(", "|"):
                out.append("^" if newline else "\\A")
                atom_at, quantified = None, False
            else:
                atom("\\^")
        elif ch == "$":
            if extended or i >= n or p.startswith("\\)", i) or p.startswith("\\|", i):
                out.append("$" if newline else "\\Z")
                atom_at, quantified = None, False
            else:
                atom("\\$")
        elif ch == ".":
            atom(".")
        else:
            atom(re.escape(ch))
    if stack:
        raise PosixError(E_EPAREN)
    return "".join(out), nsub


def compile_posix(pattern: str, extended: bool = True, icase: bool = True,
                  newline: bool = False) -> tuple[re.Pattern[str], int]:
    text, nsub = translate(pattern, extended, newline)
    flags = re.ASCII
    flags |= re.IGNORECASE if icase else 0
    flags |= re.MULTILINE if newline else re.DOTALL
    try:
        return re.compile(text, flags), nsub
    except re.error as exc:  # translation produced something Python rejects
        raise PosixError(E_BADPAT) from exc
    except (OverflowError, RecursionError) as exc:
        raise PosixError(E_ESIZE) from exc
