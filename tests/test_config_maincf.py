"""main.cf syntax and postconf -e/-X/-# editing (simlab.postfix.config.maincf)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.postfix.config import ConfigError
from simlab.postfix.config.maincf import (COMMENT_OUT, EDIT_CONF, EDIT_EXCL, edit_main_cf,
                                          parse_main_cf, split_nameval)


def parse(text: str) -> tuple[dict[str, str], list[str]]:
    warnings: list[str] = []
    entries = parse_main_cf(text, "./main.cf", warnings.append)
    return {k: e.value for k, e in entries.items()}, warnings


def test_continuations_comments_and_blank_lines() -> None:
    text = ("a = 1,\n  # note\n\n  2\n#x\n\t3\nb = x # not a comment\n"
            "c=\nd   =   spaced   \t\n")
    assert parse(text) == ({"a": "1,  2\t3", "b": "x # not a comment", "c": "", "d": "spaced"},
                           [])


def test_crlf_line_endings() -> None:
    assert parse("a = 1\r\nb = x,\r\n  y\r\n")[0] == {"a": "1", "b": "x,\r  y"}


def test_leading_whitespace_warns_and_is_ignored() -> None:
    values, warnings = parse("   myhostname = host.example\nmydomain = example.com\n")
    assert values == {"mydomain": "example.com"}
    assert warnings == ['./main.cf: logical line must not start with whitespace: '
                        '"   myhostname = host.example"']
    long_line = " " + "x" * 40 + " = 1\n"
    assert parse(long_line)[1] == [f'./main.cf: logical line must not start with whitespace: '
                                   f'"{long_line[:30]}..."']


def test_duplicates_last_wins_with_warning_on_changes_only() -> None:
    values, warnings = parse("a = first\na = first\n\na = second\n")
    assert values == {"a": "second"}
    assert warnings == ["./main.cf, line 4: overriding earlier entry: a=first"]


def test_missing_equals_is_fatal_with_line_number() -> None:
    with pytest.raises(ConfigError) as info:
        parse("a = 1\n\nthis line has no equals sign\n")
    assert info.value.message == ("./main.cf, line 3: missing '=' after attribute name: "
                                  '"this line has no equals sign"')


def test_split_nameval() -> None:
    assert split_nameval("  name =  value  ") == ("name", "value")
    assert split_nameval("name value") == "missing '=' after attribute name"
    assert split_nameval("   ") == "missing attribute name"


MAIN = "# header\nmyhostname = old.example\nmydestination = a.example,\n    b.example\n# tail\n"


def test_edit_replaces_in_place_and_appends() -> None:
    new = edit_main_cf(MAIN, "./main.cf", EDIT_CONF,
                       ["mydestination = x, y", "relayhost=", "myhostname=new"], print)
    assert new == ("# header\nmyhostname = new\nmydestination = x, y\n# tail\n"
                   "relayhost = \n")


def test_edit_appends_several_new_names_last_request_first() -> None:
    new = edit_main_cf("a = 1\n", "./main.cf", EDIT_CONF, ["b=2", "c=3"], print)
    assert new == "a = 1\nc = 3\nb = 2\n"


def test_edit_keeps_a_last_line_without_newline_as_is() -> None:
    # Measured on Postfix 3.7.11: the new entry is glued to the unterminated line.
    new = edit_main_cf("a = 1", "./main.cf", EDIT_CONF, ["b=2"], print)
    assert new == "a = 1b = 2\n"


def test_comment_out_and_exclude() -> None:
    assert edit_main_cf(MAIN, "./main.cf", COMMENT_OUT, ["mydestination"], print) == (
        "# header\nmyhostname = old.example\n#mydestination = a.example,\n#    b.example\n"
        "# tail\n")
    assert edit_main_cf(MAIN, "./main.cf", EDIT_EXCL, ["mydestination", "nosuch"], print) == (
        "# header\nmyhostname = old.example\n# tail\n")


def test_edit_diagnostics() -> None:
    warnings: list[str] = []
    edit_main_cf("a = 1\na = 2\na = 3\n", "./main.cf", EDIT_CONF, ["a=0", "a=9"],
                 warnings.append)
    assert warnings == ["ignoring earlier request: 'a = 0'",
                        './main.cf: multiple entries for "a"']
    for args, message in [(["myhostname"], "missing '=' after attribute name: \"myhostname\""),
                          (["a=1\nb=2"], "-e, -X, or -# accepts no multi-line input"),
                          (["  # x=1"], "-e, -X, or -# accepts no comment input")]:
        with pytest.raises(ConfigError) as info:
            edit_main_cf("", "./main.cf", EDIT_CONF, args, print)
        assert info.value.message == message
    with pytest.raises(ConfigError, match="without value"):
        edit_main_cf("", "./main.cf", EDIT_EXCL, ["a=1"], print)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_parser_never_crashes(text: str) -> None:
    try:
        parse(text)
    except ConfigError as exc:
        assert ", line " in exc.message


NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
LINE = st.one_of(
    st.tuples(NAME, st.text(alphabet="abc ,$#\t=", max_size=12)).map(lambda t: f"{t[0]} = {t[1]}"),
    st.text(alphabet="abc #", max_size=8).map(lambda t: "#" + t),
    st.sampled_from(["", "  ", "    continued, text", "\tmore"]),
)
MAINCF = st.lists(LINE, max_size=10).map(lambda lines: "\n".join(lines) + "\n")
VALUE = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\0"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(MAINCF, NAME, VALUE)
def test_edit_then_read_back(text: str, name: str, value: str) -> None:
    try:
        parse(text)
    except ConfigError:
        return
    if value.lstrip(" \t\v\f\r").startswith("#"):
        return
    new = edit_main_cf(text, "./main.cf", EDIT_CONF, [f"{name}={value}"], lambda _m: None)
    assert parse(new)[0][name] == value.strip(" \t\n\v\f\r")
