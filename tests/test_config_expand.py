"""$name expansion (simlab.postfix.config.expand) behaves like Postfix's mac_expand."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.postfix.config import expand as mx


def run(pattern: str, table: dict[str, str], flags: int = mx.FLAG_RECURSE):
    warnings: list[str] = []
    text, status = mx.mac_expand(pattern, flags, lambda n, _m: table.get(n), warnings.append)
    return text, status, warnings


@pytest.mark.parametrize("pattern,expected", [
    ("$a", "A"), ("${a}", "A"), ("$(a)", "A"), ("x$a.y", "xA.y"), ("$$a", "$a"),
    ("$nosuch", ""), ("${a?set}", "set"), ("${e?set}", ""), ("${u?set}", ""),
    ("${a:empty}", ""), ("${e:empty}", "empty"), ("${u:empty}", "empty"),
    ("${a?{x, y}}", "x, y"), ("${e?{t}:{f}}", "f"), ("${a?{t}:{f}}", "t"),
    ("${a?set:}", "set:"), ("${ a ? {t} }", "t"),
    ("${{$a} == {A} ? {eq} : {ne}}", "eq"), ("${{$a} != {A} ? {ne} : {eq}}", "eq"),
    ("${{10} > {9} ? {num} : {str}}", "num"), ("${{b} > {a} ? {gt} : {le}}", "gt"),
    ("${{3} <level {10} ? {lt} : {ge}}", "lt"), ("${{3.6} <level {3.10} ? {lt}:{ge}}", "lt"),
    ("${{3.6} >=level {2} ? {ge} : {lt}}", "ge"), ("${{1} == {1}}", "true"),
    ("$r", "A-A"), ("${r}!", "A-A!"),
])
def test_forms(pattern: str, expected: str) -> None:
    table = {"a": "A", "e": "", "r": "$a-${a}"}
    text, status, warnings = run(pattern, table)
    assert (text, warnings) == (expected, [])
    assert not status & mx.MAC_PARSE_ERROR


def test_undefined_sets_undef_flag() -> None:
    assert run("$nosuch", {})[1] == mx.MAC_PARSE_UNDEF


def test_without_recursion_values_are_literal() -> None:
    assert run("$r", {"r": "$a", "a": "A"}, flags=mx.FLAG_NONE)[0] == "$a"


@pytest.mark.parametrize("pattern,warning", [
    ("a $ b", 'empty macro name: "a $ b"'),
    ("${abc", 'truncated macro reference: "${abc"'),
    ("${a b}", 'attribute name syntax error at: "...a>>> b"'),
    ("${{x} ~ {y}}", '"==" or "!="" or "<"" or "<="" or ">="" or ">" expected at: "...x}>>>~ {y}"'),
    ("${{x} == y}", '"{expression}" expected at: "...{x} ==>>> y"'),
    ("${{x} ==foo {y}}", 'bad operator suffix at: "...==>>>foo"'),
    ("${{x} == {y} ! {z}}", '"?" or ":" expected at: "...}>>>! {z}"'),
    ("${a?{x} y}", '":" expected at: "...x}>>>y"'),
    ("${a?{x}:{y} z}", 'unexpected input at: "...y}>>>z"'),
    ("${{x} <level {y} ? {a}}", 'malformed compatibility level syntax: "x"'),
])
def test_syntax_errors(pattern: str, warning: str) -> None:
    _text, status, warnings = run(pattern, {"a": "A"})
    assert status & mx.MAC_PARSE_ERROR
    assert warnings == [warning]


def test_loop_is_reported_once_with_the_name_at_depth_101() -> None:
    table = {"one": "$two", "two": "$one"}
    # Call 0 looks up "one", call 101 (the first past the limit) looks up "two".
    assert run("$one", table)[2] == ['unreasonable macro call nesting: "two"']
    assert run("$two", table)[2] == ['unreasonable macro call nesting: "one"']
    _text, status, warnings = run("$self", {"self": "$self.example"})
    assert warnings == ['unreasonable macro call nesting: "self"'] and status & mx.MAC_PARSE_ERROR


def test_bad_number_in_numeric_comparison_is_fatal() -> None:
    # Measured on 3.7.11: an out-of-range number is fatal ...
    with pytest.raises(mx.MacroFatal, match="bad conversion"):
        run("${{99999999999999999999} == {1} ? {a} : {b}}", {})


def test_empty_operands_compare_as_text() -> None:
    # ... while empty operands are not numbers (alldig("") is false): "empty-eq".
    assert run("${{} == {} ? {a} : {b}}", {})[0] == "a"


def test_scan_reports_both_arms() -> None:
    seen: list[str] = []
    mx.scan_names("${x?{$y}:{$z}} ${{$p} == {q} ? {$r} : {$s}}", seen.append)
    assert seen == ["x", "y", "z", "p", "r", "s"]


def test_compat_levels() -> None:
    warn: list[str] = []
    assert mx.compat_level_from_string("3.6", warn.append) == (3 << 20) | (6 << 10)
    assert mx.compat_level_from_string("2", warn.append) == 2 << 20
    assert mx.compat_level_from_string("3.6.1", warn.append) == (3 << 20) | (6 << 10) | 1
    assert mx.compat_level_from_string("3.x", warn.append) == -1
    assert warn == ['malformed compatibility level syntax: "3.x"']


NAMES = st.sampled_from(["a", "b", "c", "d"])
ATOMS = st.one_of(
    st.text(alphabet="xy {}?:=$", max_size=4),
    NAMES.map(lambda n: "$" + n),
    NAMES.map(lambda n: "${" + n + "}"),
    st.tuples(NAMES, st.text(alphabet="xy$a", max_size=3)).map(lambda t: "${%s?{%s}:{z}}" % t),
    st.tuples(NAMES, NAMES).map(lambda t: "${{$%s} == {$%s} ? {t} : {f}}" % t),
    st.tuples(NAMES, NAMES).map(lambda t: "${{$%s} <level {$%s} ? {t} : {f}}" % t),
)
VALUES = st.lists(ATOMS, max_size=4).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, VALUES), VALUES)
def test_expansion_terminates(table: dict[str, str], pattern: str) -> None:
    try:
        text, status, _warnings = run(pattern, table)
    except mx.MacroFatal:
        return
    assert isinstance(text, str) and isinstance(status, int)
