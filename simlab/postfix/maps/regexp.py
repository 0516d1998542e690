"""
NAME
    regexp - regexp: and pcre: tables (regexp_table(5), pcre_table(5))

SUMMARY
    RegexpMap(name, root=None, warn=None)   # POSIX regular expressions
    PcreMap(name, root=None, warn=None)     # Perl-compatible expressions

DESCRIPTION
    Each rule is "/pattern/flags result"; any character may serve as the
    delimiter. Rules are tried in file order and the first match wins.
    "!/pattern/" matches when the pattern does not; regexp: also accepts
    "/pattern1/!/pattern2/ result" (match 1 and not 2). "if /pattern/" ...
    "endif" (any case) skips the enclosed rules unless the key matches.
    $1..$99, ${1} and $(1) in the result are replaced by the matched
    substrings (an unmatched or empty group gives nothing); $$ is a "$".

    regexp: flags: i (toggle case-insensitive, on by default), m
    (REG_NEWLINE), x (toggle extended syntax). pcre: flags: i, m, s (dotall,
    on by default), x (verbose), A (anchored), E (dollar end-only), U
    (ungreedy), X (obsolete, ignored with a warning). Keys are never folded:
    case is a per-pattern flag.

    The name is a file, or (Postfix 3.7) inline rules in braces:
    regexp:{{/^[^A-Z]/ Bogus}, {/x/ y}}. Every parse problem is a warning
    with the map and line ("regexp map FILE, line N: ...") and the rule is
    skipped, as in Postfix; regexp: compile errors use glibc's regerror()
    texts, pcre: ones PCRE2-style texts. pcre: uses Python's re engine.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..config.expand import MAC_PARSE_ERROR, mac_parse
from ..config.expand import MAC_PARSE_EXPR as MAC_PARSE_VARNAME
from .base import FileMap, MapError, Warn, os_error_text
from .posix_re import PosixError, compile_posix
from .textutil import CHARS_BRACE, CHARS_COMMA_SP, C_SPACE, extpar, mystrtokq, read_text, readllines


def open_rules(kind: str, name: str, root: Path | str | None, owner: FileMap) -> str:
    """The rule text of a file-or-inline table (Postfix's dict_stream_open)."""
    if name.startswith(CHARS_BRACE[0]):
        body, err = extpar(name, CHARS_BRACE, False)
        lines = []
        if err is None:
            for rule in mystrtokq(body, CHARS_COMMA_SP, CHARS_BRACE):
                text, err = extpar(rule, CHARS_BRACE, True)
                if err:
                    break
                lines.append(text + "\n")
        if err is not None:
            raise MapError(f"{kind} map: {err}")
        owner._watch, owner._mtime = None, None     # no file: the rules never change
        return "".join(lines)
    path = owner.path()
    try:
        data = read_text(str(path))
    except OSError as exc:
        raise MapError(f"open {name}: {os_error_text(exc)}") from None
    owner._stamp(path)
    return data


class _Rule:
    def __init__(self, op: str, lineno: int) -> None:
        self.op = op          # "match", "if", "endif"
        self.lineno = lineno
        self.endif: int | None = None
        self.first: re.Pattern[str] | None = None
        self.first_match = True
        self.second: re.Pattern[str] | None = None
        self.second_match = True
        self.replacement = ""
        self.max_sub = 0
        self.anchored = False


class _PatternMap(FileMap):
    """What regexp: and pcre: share: rule list, if/endif, $number expansion."""

    fixed = False
    label = ""

    def __init__(self, name: str, *, root: Path | str | None = None,
                 warn: Warn | None = None, **_: object) -> None:
        super().__init__(name, root=root, fold=False, warn=warn)
        data = open_rules(self.type, name, root, self)
        self.rules: list[_Rule] = []
        stack: list[_Rule] = []
        for lineno, _last, line in readllines(data, name, self.warn):
            line = line.rstrip(C_SPACE)
            if not line:
                continue
            rule = self._parse_line(lineno, line, len(stack))
            if rule is None:
                continue
            if rule.op == "if":
                stack.append(rule)
            elif rule.op == "endif":
                stack.pop().endif = len(self.rules)
            self.rules.append(rule)
        for rule in reversed(stack):
            self.w(rule.lineno, "IF has no matching ENDIF")

    def w(self, lineno: int, text: str) -> None:
        self.warn(f"{self.label} map {self.name}, line {lineno}: {text}")

    def _parse_line(self, lineno: int, p: str, nesting: int) -> _Rule | None:
        if not (p[0].isascii() and p[0].isalnum()):
            return self._parse_match(lineno, p)
        word = p[:5].upper()
        if word[:2] == "IF" and not _isalnum_at(p, 2):
            rest = p[2:].lstrip(C_SPACE)
            got = self._get_pattern(lineno, rest)
            if got is None:
                return None
            pat, rest = got
            rest = rest.lstrip(C_SPACE)
            if rest:
                self.w(lineno, f'ignoring extra text after IF statement: "{rest}"')
                self.w(lineno, "do not prepend whitespace to statements between IF and ENDIF")
            compiled = self._compile(lineno, pat, 0)
            if compiled is None:
                return None
            rule = _Rule("if", lineno)
            rule.first, rule.first_match, rule.anchored = compiled, pat["match"], pat["anchored"]
            return rule
        if word == "ENDIF" and not _isalnum_at(p, 5):
            if nesting == 0:
                self.w(lineno, "ignoring ENDIF without matching IF")
                return None
            if p[5:].lstrip(C_SPACE):
                self.w(lineno, "ignoring extra text after ENDIF")
            return _Rule("endif", lineno)
        self.w(lineno, "ignoring unrecognized request")
        return None

    def _parse_match(self, lineno: int, p: str) -> _Rule | None:
        got = self._get_pattern(lineno, p)
        if got is None:
            return None
        first, p = got
        second = None
        if self.type == "regexp" and p.startswith("!"):
            got = self._get_pattern(lineno, p)
            if got is None:
                return None
            second, p = got
        p = p.lstrip(C_SPACE)
        if not p:
            self.w(lineno, "no replacement text: using empty string")
        max_sub = 0
        literal: str | None = None

        def prescan(kind: int, text: str) -> int:
            nonlocal max_sub, literal
            if kind == MAC_PARSE_VARNAME:
                literal = None
                if not text.isdigit() or not text.isascii():
                    self.w(lineno, f'non-numeric replacement index "{text}"')
                    return MAC_PARSE_ERROR
                if int(text) < 1:
                    dash = "out-of-range" if self.type == "regexp" else "out of range"
                    self.w(lineno, f'{dash} replacement index "{text}"')
                    return MAC_PARSE_ERROR
                max_sub = max(max_sub, int(text))
            elif not max_sub:
                literal = text
            return 0

        if mac_parse(p, prescan, self.warn) & MAC_PARSE_ERROR:
            self.w(lineno, "bad replacement syntax: skipping this rule")
            return None
        if max_sub and not first["match"]:
            self.w(lineno, "$number found in negative match replacement text: skipping this rule")
            return None
        compiled = self._compile(lineno, first, max_sub)
        if compiled is None:
            return None
        if max_sub > compiled.groups:
            self.w(lineno, f'out of range replacement index "{max_sub}": skipping this rule')
            return None
        rule = _Rule("match", lineno)
        rule.first, rule.first_match, rule.anchored = compiled, first["match"], first["anchored"]
        if second is not None:
            rule.second = self._compile(lineno, second, 0)
            if rule.second is None:
                return None
            rule.second_match = second["match"]
        rule.max_sub = max_sub
        rule.replacement = literal if literal is not None else p
        return rule

    def _get_pattern(self, lineno: int, p: str) -> tuple[dict, str] | None:
        match = True
        i = 0
        while i < len(p) and (p[i] == "!" or p[i] in C_SPACE):
            if p[i] == "!":
                match = not match
            i += 1
        if i >= len(p):
            self.w(lineno, "no regexp: skipping this rule")
            return None
        delim = p[i]
        i += 1
        start = i
        while i < len(p):
            if p[i] == "\\":
                if i + 1 >= len(p):
                    i += 1
                    break
                i += 1
            elif p[i] == delim:
                break
            i += 1
        if i >= len(p):
            verb = "skipping" if self.type == "regexp" else "ignoring"
            self.w(lineno, f'no closing regexp delimiter "{delim}": {verb} this rule')
            return None
        regexp = p[start:i]
        i += 1
        opts = self._default_options()
        while i < len(p) and p[i] not in C_SPACE and not (self.type == "regexp" and p[i] == "!"):
            if not self._toggle(lineno, opts, p[i]):
                return None
            i += 1
        return {"regexp": regexp, "match": match, "opts": opts,
                "anchored": "A" in opts}, p[i:]

    def lookup(self, key: str) -> str | None:
        i = 0
        rules = self.rules
        while i < len(rules):
            rule = rules[i]
            if rule.op == "match":
                m = self._exec(rule, rule.first, key)
                if (m is not None) != rule.first_match:
                    i += 1
                    continue
                if rule.second is not None and (self._exec(rule, rule.second, key) is not None) != rule.second_match:
                    i += 1
                    continue
                if not rule.max_sub or m is None:
                    return rule.replacement
                return self._expand(rule, m)
            if rule.op == "if":
                if (self._exec(rule, rule.first, key) is not None) != rule.first_match:
                    if rule.endif is None:
                        return None
                    i = rule.endif
            i += 1
        return None

    def _exec(self, rule: _Rule, pat: re.Pattern[str] | None, key: str) -> re.Match[str] | None:
        assert pat is not None
        return pat.match(key) if rule.anchored else pat.search(key)

    def _expand(self, rule: _Rule, m: re.Match[str]) -> str:
        out: list[str] = []

        def expand(kind: int, text: str) -> int:
            if kind == MAC_PARSE_VARNAME:
                out.append(m.group(int(text)) or "")
            else:
                out.append(text)
            return 0

        mac_parse(rule.replacement, expand, self.warn)
        return "".join(out)

    def _default_options(self) -> set[str]:
        raise NotImplementedError

    def _toggle(self, lineno: int, opts: set[str], flag: str) -> bool:
        raise NotImplementedError

    def _compile(self, lineno: int, pat: dict, max_sub: int) -> re.Pattern[str] | None:
        raise NotImplementedError


def _isalnum_at(p: str, i: int) -> bool:
    return i < len(p) and p[i].isascii() and p[i].isalnum()


class RegexpMap(_PatternMap):
    type = "regexp"
    label = "regexp"

    def _default_options(self) -> set[str]:
        return {"i", "x"}

    def _toggle(self, lineno: int, opts: set[str], flag: str) -> bool:
        if flag in "imx":
            opts ^= {flag}
            return True
        self.w(lineno, f'unknown regexp option "{flag}": skipping this rule')
        return False

    def _compile(self, lineno: int, pat: dict, max_sub: int) -> re.Pattern[str] | None:
        opts = pat["opts"]
        try:
            compiled, _nsub = compile_posix(pat["regexp"], extended="x" in opts,
                                            icase="i" in opts, newline="m" in opts)
        except PosixError as exc:
            self.w(lineno, str(exc))
            return None
        return compiled


class PcreMap(_PatternMap):
    type = "pcre"
    label = "pcre"

    def _default_options(self) -> set[str]:
        return {"i", "s"}

    def _toggle(self, lineno: int, opts: set[str], flag: str) -> bool:
        if flag in "imsxAEU":
            opts ^= {flag}
            return True
        if flag == "X":
            self.w(lineno, f'ignoring obsolete regexp option "{flag}"')
            return True
        self.w(lineno, f'unknown regexp option "{flag}": skipping this rule')
        return False

    def _compile(self, lineno: int, pat: dict, max_sub: int) -> re.Pattern[str] | None:
        from .pcre import compile_pcre, PcreError
        try:
            return compile_pcre(pat["regexp"], pat["opts"])
        except PcreError as exc:
            self.w(lineno, f"error in regex at offset {exc.offset}: {exc.text}")
            return None
