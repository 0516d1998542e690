"""Unit tests of each lookup table type (simlab.postfix.maps)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

from simlab.postfix.maps import MapError, open_map
from simlab.postfix.maps.hash import DbWriter

DATA = Path(__file__).parent / "data" / "maps"


def collect() -> tuple[list[str], Callable[[str], None]]:
    msgs: list[str] = []
    return msgs, msgs.append


def build_hash(root: Path | None, name: str, pairs: list[tuple[str, str]], **kw) -> None:
    w = DbWriter("hash", name, root=root, **kw)
    for k, v in pairs:
        w.put(k, v)
    w.close()


# -- hash -------------------------------------------------------------------------------

def test_hash_under_root_folds_keys_and_keeps_first(tmp_path: Path) -> None:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    (tmp_path / "etc/postfix/virtual").write_text("x\n")
    msgs, warn = collect()
    build_hash(tmp_path, "/etc/postfix/virtual",
               [("Info@Alias.Example", "alice"), ("info@alias.example", "bob")], warn=warn)
    assert msgs == ['/etc/postfix/virtual.db: duplicate entry: "info@alias.example"']
    assert (tmp_path / "etc/postfix/virtual.db").is_file()
    m = open_map("hash:/etc/postfix/virtual", root=tmp_path)
    assert m.spec == "hash:/etc/postfix/virtual"
    assert m.lookup("INFO@alias.example") == "alice"
    assert m.lookup("nosuch") is None
    assert list(m.items()) == [("info@alias.example", "alice")]
    m.close()


def test_hash_replace_ignore_and_nofold(tmp_path: Path) -> None:
    build_hash(None, str(tmp_path / "t"), [("Dup", "1"), ("dup", "2")], dup="replace")
    assert open_map(f"hash:{tmp_path}/t").lookup("DUP") == "2"
    build_hash(None, str(tmp_path / "t"), [("Dup", "1"), ("dup", "2")], fold=False, dup="ignore")
    m = open_map(f"hash:{tmp_path}/t", fold=False)
    assert (m.lookup("Dup"), m.lookup("dup"), m.lookup("DUP")) == ("1", "2", None)


def test_hash_null_byte_forms(tmp_path: Path) -> None:
    base = str(tmp_path / "t")
    build_hash(None, base, [("a", "1")], nul="0")
    assert open_map(f"hash:{base}").lookup("a") == "1"
    assert open_map(f"hash:{base}", nul="1").lookup("a") is None
    build_hash(None, base, [("a", "1")])
    assert open_map(f"hash:{base}", nul="1").lookup("a") == "1"
    assert open_map(f"hash:{base}", nul="0").lookup("a") is None


def test_hash_missing_db_is_postfix_error(tmp_path: Path) -> None:
    with pytest.raises(MapError, match=r"^open database /etc/aliases\.db: No such file or directory$"):
        open_map("hash:/etc/aliases", root=tmp_path)


def test_hash_older_than_source_warning(tmp_path: Path) -> None:
    src = tmp_path / "aliases"
    src.write_text("a: b\n")
    build_hash(None, str(src), [("a", "b")])
    old = time.time() - 1000
    os.utime(tmp_path / "aliases.db", (old, old))
    os.utime(src, (old + 500, old + 500))
    msgs, warn = collect()
    open_map(f"hash:{src}", warn=warn).close()
    assert msgs == [f"database {src}.db is older than source file {src}"]
    msgs.clear()
    os.utime(src, None)  # changed just now: Postfix stays quiet for 100 s
    open_map(f"hash:{src}", warn=warn).close()
    assert msgs == []


def test_hash_changed_after_rebuild(tmp_path: Path) -> None:
    base = str(tmp_path / "t")
    build_hash(None, base, [("a", "1")])
    m = open_map(f"hash:{base}")
    assert not m.changed()
    old = time.time() - 50
    os.utime(base + ".db", (old, old))
    assert m.changed()


def test_btree_lists_in_key_order(tmp_path: Path) -> None:
    w = DbWriter("btree", str(tmp_path / "b"))
    for k in ("zeta", "alpha", "mid"):
        w.put(k, k.upper())
    w.close()
    assert [k for k, _ in open_map(f"btree:{tmp_path}/b").items()] == ["alpha", "mid", "zeta"]


def test_not_a_table_file(tmp_path: Path) -> None:
    (tmp_path / "x.db").write_bytes(b"\0\x06\x15\x61 berkeley db garbage" * 10)
    with pytest.raises(MapError, match="open database .*x.db: Invalid argument"):
        open_map(f"hash:{tmp_path}/x")


# -- texthash ---------------------------------------------------------------------------

def test_texthash_rereads_and_warns(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("a  1\nA 2\nnovalue\nk:  v\n")
    msgs, warn = collect()
    m = open_map(f"texthash:{tmp_path}/t", warn=warn, dup="warn")
    assert m.lookup("a") == "1" and m.lookup("k:") == "v"
    assert msgs == [f'{tmp_path}/t, line 2: duplicate entry: "a"',
                    f"{tmp_path}/t, line 3: expected format: key whitespace value -- ignoring this line",
                    f'{tmp_path}/t, line 4: record is in "key: value" format; is this an alias file?']
    with pytest.raises(MapError, match='line 2: duplicate entry: "a"'):
        open_map(f"texthash:{tmp_path}/t")  # daemons: a table with duplicates is unusable
    with pytest.raises(MapError, match="open database"):
        open_map(f"texthash:{tmp_path}/nosuch")


# -- inline / static --------------------------------------------------------------------

def test_inline_forms_and_errors() -> None:
    m = open_map("inline:{a@x=one, {b@x = two words}, c@x=three}")
    assert (m.lookup("A@X"), m.lookup("b@x"), m.lookup("d")) == ("one", "two words", None)
    assert open_map("inline:{ k=1, K=2 }").lookup("k") == "2"
    with pytest.raises(MapError, match="^missing .=. after attribute name"):
        open_map("inline:{ k = 1 }")  # unbraced pairs may not contain spaces
    with pytest.raises(MapError, match=r'^bad syntax: "inline:a=b"; need "inline:\{name=value\.\.\.\}"$'):
        open_map("inline:a=b")
    with pytest.raises(MapError, match="^missing '=' after attribute name: "):
        open_map("inline:{a}")
    with pytest.raises(MapError, match="^empty table: "):
        open_map("inline:{ , }")


def test_static() -> None:
    assert open_map("static:5000").lookup("anything") == "5000"
    assert open_map("static:{ with space }").lookup("x") == "with space"
    with pytest.raises(MapError, match="sequence operation is not supported"):
        list(open_map("static:x").items())


def test_unknown_type_and_bad_spec() -> None:
    msgs, warn = collect()
    with pytest.raises(MapError, match="^unsupported dictionary type: foo$"):
        open_map("foo:bar", warn=warn)
    assert msgs == []
    with pytest.raises(MapError, match='^open dictionary: expecting "type:name" form instead of "nocolon"$'):
        open_map("nocolon")


# -- cidr -------------------------------------------------------------------------------

def test_cidr(tmp_path: Path) -> None:
    (tmp_path / "c").write_text(
        "10.0.0.0/8 ten\n10.1.2.3/8 bad\n1.2.3.4 single\nif 192.168.0.0/16\n192.168.1.0/24 lan\n"
        "endif\n[::1] v6\n2001:db8::/32 doc\n!127.0.0.0/8 notlocal\nnonsense\n300.1.1.1 x\n")
    msgs, warn = collect()
    m = open_map(f"cidr:{tmp_path}/c", warn=warn)
    assert m.lookup("10.9.9.9") == "ten"
    assert m.lookup("1.2.3.4") == "single"
    assert m.lookup("192.168.1.7") == "lan"
    assert m.lookup("::1") == "v6" and m.lookup("2001:db8::5") == "doc"
    assert m.lookup("8.8.8.8") == "notlocal" and m.lookup("127.0.0.1") is None
    assert m.lookup("not-an-ip") is None
    name = f"{tmp_path}/c"
    assert msgs == [
        f'cidr map {name}, line 2: non-null host address bits in "10.1.2.3/8", '
        f'perhaps you should use "10.0.0.0/8" instead: skipping this rule',
        f"cidr map {name}, line 10: no lookup result: skipping this rule",
        f'cidr map {name}, line 11: bad address pattern: "300.1.1.1": skipping this rule']


# -- unix / proxy -----------------------------------------------------------------------

def test_unix_passwd_under_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                         "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n")
    (tmp_path / "etc/group").write_text("staff:x:50:alice,bob\n")
    m = open_map("proxy:unix:passwd.byname", root=tmp_path)
    assert m.lookup("Alice") == "alice:x:1000:1000:Alice:/home/alice:/bin/sh"
    assert m.lookup("nosuch") is None
    assert open_map("unix:group.byname", root=tmp_path).lookup("staff") == "staff:x:50:alice,bob"
    with pytest.raises(MapError, match="unknown map name"):
        open_map("unix:shadow.byname")


def test_lab_tables_read_back_after_build(tmp_path: Path) -> None:
    """The lab's virtual/transport/vmailbox sources give the lab's answers."""
    from simlab.postfix.commands.postmap import postmap_records
    expect = {"virtual": ("list@alias.example", "team@example.com"),
              "transport": ("lmtp.example", "lmtp:inet:[127.0.0.1]:2524"),
              "vmailbox": ("carol@vmail.example", "vmail.example/carol/")}
    for fname, (key, value) in expect.items():
        text = (DATA / fname).read_text()
        w = DbWriter("hash", str(tmp_path / fname))
        for _line, k, v in postmap_records(text, fname, lambda m: pytest.fail(m)):
            w.put(k, v)
        w.close()
        assert open_map(f"hash:{tmp_path}/{fname}").lookup(key) == value


def test_unix_passwd_sees_an_edit_at_once(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    passwd = tmp_path / "etc/passwd"
    passwd.write_text("alice:x:1000:1000::/home/alice:/bin/sh\n")
    m = open_map("unix:passwd.byname", root=tmp_path)
    assert m.lookup("carol") is None
    with open(passwd, "a") as f:
        f.write("carol:x:1002:1002::/home/carol:/bin/sh\n")
    assert m.lookup("carol") == "carol:x:1002:1002::/home/carol:/bin/sh"
    passwd.unlink()
    assert m.lookup("alice") is None
