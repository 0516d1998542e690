"""
NAME
    pcre - Perl-compatible patterns of pcre: tables on Python's re

SUMMARY
    compile_pcre(pattern, opts) -> re.Pattern
    PcreError(offset, text)

DESCRIPTION
    pcre_table(5) patterns are compiled with PCRE2 options CASELESS and
    DOTALL unless toggled off by the i and s flags; m is MULTILINE, x
    EXTENDED. Python's re understands nearly the same syntax; this module
    adds what differs: named groups (?<name>...) and (?'name'...), \\Q...\\E
    quoting, the E flag (a "$" matches only at the very end) and the U flag
    (quantifiers lazy by default, "?" makes them greedy). The A flag
    (anchored) is applied by the caller, which then uses match() instead of
    search(). Compile errors carry PCRE2's message texts where the error is
    one PCRE2 also reports ("missing closing parenthesis", "quantifier does
    not follow a repeatable item", ...).
"""

from __future__ import annotations

import re


class PcreError(ValueError):
    def __init__(self, offset: int, text: str) -> None:
        super().__init__(f"offset {offset}: {text}")
        self.offset = offset
        self.text = text


_MESSAGES = [
    ("missing ), unterminated subpattern", "missing closing parenthesis", True),
    ("unbalanced parenthesis", "unmatched closing parenthesis", False),
    ("nothing to repeat", "quantifier does not follow a repeatable item", False),
    ("multiple repeat", "quantifier does not follow a repeatable item", False),
    ("unterminated character set", "missing terminating ] for character class", True),
    ("bad escape (end of pattern)", "\\ at end of pattern", True),
    ("bad character range", "range out of order in character class", False),
    ("invalid group reference", "reference to non-existent subpattern", False),
    ("unknown group name", "reference to non-existent subpattern", False),
    ("bad escape", "unrecognized character follows \\", False),
    ("min repeat greater than max repeat", "numbers out of order in {} quantifier", False),
    ("missing group name", "subpattern name expected", False),
]

_QUANT = re.compile(r"[*+?]|\{\d*,?\d*\}")


def _translate(p: str, opts: set[str]) -> str:
    out: list[str] = []
    i, n = 0, len(p)
    in_class = False
    while i < n:
        ch = p[i]
        if ch == "\\" and p.startswith("\\Q", i):
            end = p.find("\\E", i + 2)
            lit = p[i + 2:] if end < 0 else p[i + 2:end]
            out.append(re.escape(lit))
            i = n if end < 0 else end + 2
            continue
        if ch == "\\":
            out.append(p[i:i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if p.startswith("^", i):
                out.append("^")
                i += 1
            if p.startswith("]", i):
                out.append("\\]")
                i += 1
            continue
        if p.startswith("(?<", i) and i + 3 < n and p[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if p.startswith("(?'", i):
            end = p.find("'", i + 3)
            if end > 0:
                out.append("(?P<" + p[i + 3:end] + ">")
                i = end + 1
                continue
        if ch == "$" and "E" in opts and "m" not in opts:
            out.append(r"\Z")
            i += 1
            continue
        m = _QUANT.match(p, i) if "U" in opts else None
        if m and out and out[-1] not in ("(", "|"):
            out.append(m.group())
            i = m.end()
            if p.startswith("?", i):
                i += 1  # "?" after a quantifier makes it greedy again under U
            elif not p.startswith("+", i):
                out.append("?")
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def compile_pcre(pattern: str, opts: set[str]) -> re.Pattern[str]:
    flags = 0
    flags |= re.IGNORECASE if "i" in opts else 0
    flags |= re.DOTALL if "s" in opts else 0
    flags |= re.MULTILINE if "m" in opts else 0
    flags |= re.VERBOSE if "x" in opts else 0
    try:
        return re.compile(_translate(pattern, opts), flags)
    except re.error as exc:
        msg = str(exc.msg)
        for py, text, at_end in _MESSAGES:
            if msg.startswith(py):
                offset = len(pattern) if at_end else (exc.pos if exc.pos is not None else 0)
                raise PcreError(offset, text) from None
        raise PcreError(exc.pos or 0, msg) from None
    except (OverflowError, RecursionError):
        raise PcreError(0, "regular expression is too large") from None
