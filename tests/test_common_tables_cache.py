"""ctx.map()'s cache of open tables and HashMap's lookup memo: a changed table is still seen."""

from __future__ import annotations

import os
from pathlib import Path

from simlab.postfix.common.context import PostfixContext, VirtualClock
from simlab.postfix.maps import open_map
from simlab.postfix.maps.hash import DbWriter
from simlab.sim.loop import VirtualLoop


class Cfg(dict):
    def get_list(self, name):
        return self.get(name, "").replace(",", " ").split()


def make(tmp_path: Path) -> PostfixContext:
    (tmp_path / "etc").mkdir(exist_ok=True)
    return PostfixContext(root=tmp_path, hostname="mail.example.com",
                          config=Cfg({"myhostname": "mail.example.com", "maillog_file": ""}),
                          clock=VirtualClock(VirtualLoop(), 1793786150.0))


def build(root: Path, pairs: dict[str, str], *, truncate: bool = True, when: float | None = None) -> None:
    w = DbWriter("hash", "/etc/t", root=root, truncate=truncate)
    for k, v in pairs.items():
        w.put(k, v)
    w.close()
    if when is not None:    # a time stamp of its own, whatever the file system's clock resolution
        os.utime(root / "etc/t.db", (when, when))


def test_rebuilt_hash_table_is_reopened_with_its_new_answers(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    build(tmp_path, {"alice": "one"}, when=1_000_000)
    first = ctx.map("hash:/etc/t")
    assert first.lookup("alice") == "one" and first.lookup("bob") is None
    assert ctx.map("hash:/etc/t") is first            # unchanged: the same open table
    build(tmp_path, {"alice": "two", "bob": "new"}, when=1_000_100)
    again = ctx.map("hash:/etc/t")
    assert again is not first
    assert again.lookup("alice") == "two" and again.lookup("bob") == "new"


def test_hash_table_updated_in_place_is_reopened(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    build(tmp_path, {"alice": "one"}, when=1_000_000)
    assert ctx.map("hash:/etc/t").lookup("bob") is None
    build(tmp_path, {"bob": "added"}, truncate=False, when=1_000_050)     # postmap -i
    assert ctx.map("hash:/etc/t").lookup("bob") == "added"


def test_hash_lookup_memo_forgets_a_deleted_key(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    build(tmp_path, {"alice": "one", "Bob": "two"})
    m = open_map("hash:/etc/t", root=tmp_path, readonly=False)      # as postmap -d opens it
    assert m.lookup("ALICE") == "one" and m.lookup("alice") == "one" and m.lookup("bob") == "two"
    assert m.delete("alice")
    assert m.lookup("alice") is None and m.lookup("bob") == "two"


def test_edited_text_table_is_reopened(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    src = tmp_path / "etc/re"
    src.write_text("/^a/ first\n")
    os.utime(src, (1_000_000, 1_000_000))
    assert ctx.map("regexp:/etc/re").lookup("abc") == "first"
    src.write_text("/^a/ second\n")
    os.utime(src, (1_000_010, 1_000_010))
    assert ctx.map("regexp:/etc/re").lookup("abc") == "second"


def test_stamp_watches_the_files_of_the_table_type(tmp_path: Path) -> None:
    ctx = make(tmp_path)
    build(tmp_path, {"a": "1"})
    assert len(ctx._map_stamp("hash:/etc/t")) == 2 and len(ctx._map_stamp("texthash:/etc/t")) == 1
    assert len(ctx._map_stamp("cdb:/etc/t")) == 4 and ctx._map_stamp("unix:passwd.byname") is None
