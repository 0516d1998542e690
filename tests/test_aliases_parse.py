"""aliases(5) parsing and the RFC 822 tokenizer behind it."""

from __future__ import annotations

import json
from pathlib import Path

from simlab.postfix.maps import tok822
from simlab.postfix.maps.aliases import AliasEntry, destination_kind, parse_aliases
from simlab.postfix.maps.textutil import readllines

DATA = Path(__file__).parent / "data" / "maps"
CASES = {c["case"]: c for c in json.loads((DATA / "cases.json").read_text())}


def test_lab_aliases_file() -> None:
    entries, warnings = parse_aliases((DATA / "aliases").read_text(), "/etc/aliases")
    assert warnings == []
    assert [(e.name, e.value) for e in entries] == [
        ("postmaster", "root"), ("root", "alice"), ("team", "alice, bob"), ("first.last", "alice"),
        ("incl", ":include:/etc/postfix/incl.list"), ("filed", "/var/spool/labfiles/filed.mbox"),
        ("piped", '"|/usr/local/bin/lab-alias-pipe"'), ("multi", "alice, bob")]
    multi = entries[-1]
    assert multi == AliasEntry("multi", "alice, bob", ["alice", "bob"], 9, "/etc/aliases")
    assert [destination_kind(d) for e in entries for d in e.values] == [
        "address", "address", "address", "address", "address", "include", "file", "command",
        "address", "address"]


def test_syntax_edges_case() -> None:
    text = CASES["aliases_syntax_edges"]["input_files"]["aliases"]
    entries, warnings = parse_aliases(text)
    assert warnings == ["aliases, line 17: name must be local"]
    got = {e.name: e for e in entries}
    assert got["first last"].value == "alice"
    assert got["spaced"].value == "alice, bob"
    assert got["nocomma"].values == ["alice", "bob"]
    assert got["self"].value == "self, self"
    assert got["trail"].value == "alice # trailing text after value"
    assert got["pipe2"].values == ["|/usr/local/bin/lab-alias-pipe --flag value"]
    assert got["multi"].lineno == 5 and got["crlf"].value == "alice"


def test_error_lines_keep_order() -> None:
    text = CASES["aliases_errors"]["input_files"]["aliases"]
    entries, warnings = parse_aliases(text)
    assert [e.name for e in entries] == ["good", "dup", "dup", "last"]
    assert warnings == [f"aliases, line {n}: need name:value pair" for n in (2, 3, 4, 7)]


def test_more_shapes() -> None:
    entries, warnings = parse_aliases(
        'a, b: c\nx%y: z\nq: "Quoted Name" <q@example.com>, (comment) r\n"a:b"@x: y\n'
        '\tstray continuation\n')
    assert warnings == ["aliases, line 1: need name:value pair", "aliases, line 2: name must be local",
                        "aliases, line 4: name must be local"]
    assert entries[0].name == "q"
    assert entries[0].values == ["q@example.com", "r"]


def test_tok822_scan_and_forms() -> None:
    toks = [(t.type, t.text) for t in tok822.scan('a."b c"@[1.2.3.4] (x) \\@y|z').siblings()]
    assert toks == [("ATOM", "a"), (".", ""), ("QSTRING", "b c"), ("@", ""), ("DOMLIT", "1.2.3.4"),
                    ("COMMENT", "(x)"), ("QSTRING", "@y"), ("|", ""), ("ATOM", "z")]
    assert tok822.externalize(tok822.scan('alice ,bob,"x y"')) == 'alice, bob, "x y"'
    assert tok822.internalize(tok822.scan('"first last"')) == "first last"
    assert tok822.addresses("Name <a@b>, c d") == ["a@b", "c", "d"]
    assert tok822.addresses("") == []


def test_readllines_numbers_and_warnings() -> None:
    msgs: list[str] = []
    text = " lead\n# c\nabc\n #x\n def\n\n ghi\nz\0tail\n"
    got = list(readllines(text, "f", msgs.append))
    assert got == [(3, 7, "abc def ghi"), (8, 8, "z")]
    assert msgs == ['f: logical line must not start with whitespace: " lead"',
                    "f, line 8: text after null byte may be ignored"]
