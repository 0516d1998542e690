"""regexp: and pcre: tables, and the POSIX-to-Python pattern translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlab.postfix.maps import open_map
from simlab.postfix.maps.posix_re import PosixError, compile_posix

REF_REGEXP = ("/^(.*)@regexp\\.example$/   ${1}@example.com\n"
              "/^postmaster@/              root@example.com\n"
              "if /@sub\\.example$/\n"
              "/^a/                        a-user@example.com\n"
              "endif\n"
              "/bad(/                      broken\n")


def table(tmp_path: Path, kind: str, text: str) -> tuple[object, list[str]]:
    (tmp_path / kind).write_text(text)
    msgs: list[str] = []
    return open_map(f"{kind}:{tmp_path / kind}", warn=msgs.append), msgs


def test_reference_regexp_table(tmp_path: Path) -> None:
    m, msgs = table(tmp_path, "regexp", REF_REGEXP)
    assert msgs == [f"regexp map {tmp_path}/regexp, line 6: Unmatched ( or \\("]
    assert m.lookup("joe@regexp.example") == "joe@example.com"
    assert m.lookup("POSTMASTER@anything") == "root@example.com"  # i is on by default
    assert m.lookup("abc@sub.example") == "a-user@example.com"
    assert m.lookup("xyz@sub.example") is None
    assert m.lookup("abc@other.example") is None


def test_regexp_flags_negation_and_substitution(tmp_path: Path) -> None:
    m, msgs = table(tmp_path, "regexp", (
        "/^Case$/i exact\n"
        "/^(a)(b)?(c)$/ [$1|$2|$3|$$]\n"
        "/^x/!/^xy/ x-not-xy\n"
        "!/@/ local\n"
        "#/never/ comment\n"
        "/^multi/ first\n"
        "  line continued\n"))
    assert msgs == []
    assert m.lookup("Case") == "exact" and m.lookup("case@x") is None
    assert m.lookup("ac") == "[a||c|$]"
    assert m.lookup("xz@d") == "x-not-xy" and m.lookup("xy@d") is None
    assert m.lookup("nobody") == "local"
    assert m.lookup("multi@x") == "first  line continued"


def test_regexp_warnings(tmp_path: Path) -> None:
    m, msgs = table(tmp_path, "regexp", (
        "/a/q x\n/b\n/c/\n/(d)/ $2\n!/(e)/ $1\n/f/ ${x}\nendif\nbogus line\nif /g/\n/h/ h\n"))
    name = f"{tmp_path}/regexp"
    assert msgs == [
        f'regexp map {name}, line 1: unknown regexp option "q": skipping this rule',
        f'regexp map {name}, line 2: no closing regexp delimiter "/": skipping this rule',
        f"regexp map {name}, line 3: no replacement text: using empty string",
        f'regexp map {name}, line 4: out of range replacement index "2": skipping this rule',
        f"regexp map {name}, line 5: $number found in negative match replacement text: skipping this rule",
        f'regexp map {name}, line 6: non-numeric replacement index "x"',
        f"regexp map {name}, line 6: bad replacement syntax: skipping this rule",
        f"regexp map {name}, line 7: ignoring ENDIF without matching IF",
        f"regexp map {name}, line 8: ignoring unrecognized request",
        f"regexp map {name}, line 9: IF has no matching ENDIF"]
    assert m.lookup("c") == "" and m.lookup("gh") == "h" and m.lookup("h") is None


def test_inline_regexp_like_smtpd_forbidden_commands() -> None:
    m = open_map("regexp:{{/^[^A-Z]/ Bogus}}")
    assert m.lookup("get / HTTP/1.0") is None  # REG_ICASE: [^A-Z] excludes a-z too
    assert m.lookup("1234") == "Bogus"
    m = open_map("regexp:{{/^[^A-Z]/i Bogus}, {/^X/ x}}")
    assert m.lookup("get") == "Bogus" and m.lookup("GET") is None and m.lookup("Xa") == "x"
    assert not m.fixed


@pytest.mark.parametrize("pattern, text, match", [
    ("[[:alpha:]]+[[:digit:]]", "ab1", True),
    ("^a.c$", "a\nc", True),
    ("a{2,3}", "caab", True),
    ("a{,2}b", "b", True),
    ("[]x]", "]", True),
    ("[^]x]", "]", False),
    ("a\\.b", "axb", False),
    ("a\\n", "an", True),
    ("\\<word\\>", "a word here", True),
    ("x)", "x)", True),
    ("a**", "aaa", True),
    ("^abc$", "abc\n", False),
])
def test_posix_translation(pattern: str, text: str, match: bool) -> None:
    rx, _ = compile_posix(pattern)
    assert (rx.search(text) is not None) == match


@pytest.mark.parametrize("pattern, error", [
    ("bad(", "Unmatched ( or \\("),
    ("[abc", "Unmatched [, [^, [:, [., or [="),
    ("*a", "Invalid preceding regular expression"),
    ("a{3,2}", "Invalid content of \\{\\}"),
    ("a{2", "Unmatched \\{"),
    ("[[:nope:]]", "Invalid character class name"),
    ("[z-a]", "Invalid range end"),
    ("a\\", "Trailing backslash"),
    ("(a)\\2", "Invalid back reference"),
])
def test_posix_errors(pattern: str, error: str) -> None:
    with pytest.raises(PosixError) as exc:
        compile_posix(pattern)
    assert str(exc.value) == error


def test_posix_basic_syntax_and_newline_mode() -> None:
    rx, nsub = compile_posix("\\(ab\\)*c+", extended=False)
    assert nsub == 1 and rx.search("ababc+") and not rx.search("abcc")
    rx, _ = compile_posix("^b$", newline=True)
    assert rx.search("a\nb\nc")
    rx, _ = compile_posix("a[^x]b", newline=True)
    assert not rx.search("a\nb")


def test_pcre_table(tmp_path: Path) -> None:
    m, msgs = table(tmp_path, "pcre", (
        "/^(?<user>[^@]+)@(example\\.com)$/ ${1}-at-$2\n"
        "/^UPPER$/i exact\n"
        "/^a.b$/s no-dotall\n"
        "/^lazy(.+)/U [$1]\n"
        "/^anch/A anchored\n"
        "/x/X obsolete\n"
        "/(unclosed/ x\n"
        "/a/Z x\n"))
    name = f"{tmp_path}/pcre"
    assert msgs == [
        f'pcre map {name}, line 6: ignoring obsolete regexp option "X"',
        f"pcre map {name}, line 7: error in regex at offset 9: missing closing parenthesis",
        f'pcre map {name}, line 8: unknown regexp option "Z": skipping this rule']
    assert m.lookup("joe@EXAMPLE.com") == "joe-at-EXAMPLE.com"
    assert m.lookup("UPPER") == "exact" and m.lookup("upper") is None
    assert m.lookup("a\nb") is None
    assert m.lookup("lazyxyz") == "[x]"
    assert m.lookup("anchor") == "anchored"
    assert m.lookup("zx") == "obsolete"
