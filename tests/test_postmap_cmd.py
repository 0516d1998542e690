"""postmap / postalias / newaliases options, run in-process on a host root."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import pytest

from simlab.postfix.commands import newaliases, postalias, postmap
from simlab.postfix.maps import open_map

DATA = Path(__file__).parent / "data" / "maps"


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc/postfix").mkdir(parents=True)
    shutil.copyfile(DATA / "main.cf", tmp_path / "etc/postfix/main.cf")
    shutil.copyfile(DATA / "aliases", tmp_path / "etc/aliases")
    shutil.copyfile(DATA / "virtual", tmp_path / "etc/postfix/virtual")
    return tmp_path


def run(mod, root: Path | None, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = (["--root", str(root)] if root is not None else []) + list(argv)
    rc = mod.main(args, stdin=io.StringIO(stdin), stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def test_build_and_query_under_root(root: Path) -> None:
    assert run(postmap, root, "hash:/etc/postfix/virtual") == (0, "", "")
    assert (root / "etc/postfix/virtual.db").is_file()
    assert run(postmap, root, "-q", "SALES@alias.example", "/etc/postfix/virtual") == (
        0, "bob@example.com, alice@example.com\n", "")  # default_database_type = hash
    rc, out, err = run(postmap, root, "-q", "nosuch", "hash:/etc/postfix/virtual")
    assert (rc, out, err) == (1, "", "")
    # the MTA reads the same file
    m = open_map("hash:/etc/postfix/virtual", root=root)
    assert m.lookup("@catchall.example") == "bob@example.com"


def test_query_several_tables_and_stdin(root: Path) -> None:
    run(postmap, root, "hash:/etc/postfix/virtual")
    rc, out, _ = run(postmap, root, "-q", "x", "inline:{y=1}", "inline:{x=2}")
    assert (rc, out) == (0, "2\n")
    rc, out, _ = run(postmap, root, "-q", "-", "hash:/etc/postfix/virtual",
                     stdin="list@alias.example\nnope\nsales@example.com\n")
    assert (rc, out) == (0, "list@alias.example\tteam@example.com\nsales@example.com\tbob@example.com\n")


def test_header_and_body_keys(root: Path) -> None:
    (root / "checks").write_text("/^Subject: .*viagra/ REJECT spam\n/^bad body/ DISCARD\n")
    msg = "From: a@b\nSubject: cheap\n viagra here\n\nbad body line\nfine\n"
    rc, out, _ = run(postmap, root, "-h", "-q", "-", "regexp:/checks", stdin=msg)
    assert (rc, out) == (0, "Subject: cheap\n viagra here\tREJECT spam\n")
    rc, out, _ = run(postmap, root, "-b", "-q", "-", "regexp:/checks", stdin=msg)
    assert (rc, out) == (0, "bad body line\tDISCARD\n")
    rc, _, err = run(postmap, root, "-h", "-q", "x", "regexp:/checks")
    assert (rc, err) == (1, 'postmap: fatal: specify -b -h or -m only with "-q -"\n')


def test_incremental_delete_and_nul_forms(root: Path) -> None:
    run(postmap, root, "-n", "hash:/etc/postfix/virtual")
    rc, _, err = run(postmap, root, "-i", "hash:/etc/postfix/virtual", stdin="new@x value\n")
    assert (rc, err) == (0, "")
    assert run(postmap, root, "-q", "new@x", "hash:/etc/postfix/virtual")[1] == "value\n"
    assert run(postmap, root, "-d", "new@x", "hash:/etc/postfix/virtual")[0] == 0
    assert run(postmap, root, "-d", "new@x", "hash:/etc/postfix/virtual")[0] == 1
    assert run(postmap, root, "-N", "-q", "info@alias.example", "hash:/etc/postfix/virtual")[0] == 1
    assert run(postmap, root, "-n", "-q", "info@alias.example", "hash:/etc/postfix/virtual")[0] == 0


def test_rhs_is_file(root: Path) -> None:
    (root / "body.txt").write_text("hello\n")
    (root / "t").write_text(f"k {root}/body.txt\nmissing {root}/nosuch\n")
    rc, _, err = run(postmap, None, "-c", f"{root}/etc/postfix", "-F", f"hash:{root}/t")
    assert rc == 0
    assert err == f"postmap: warning: {root}/t, line 2: open {root}/nosuch: No such file or directory: skipping this entry\n"
    assert open_map(f"hash:{root}/t").lookup("k") == "aGVsbG8K"
    assert run(postmap, None, "-c", f"{root}/etc/postfix", "-F", "-q", "k", f"hash:{root}/t")[1] == "hello\n\n"


def test_errors_and_usage(root: Path, tmp_path: Path) -> None:
    assert run(postmap, root) == (1, "", "postmap: fatal: usage: postmap [-bfFhimnNoprsuUvw] "
                                          "[-c config_dir] [-d key] [-q key] [map_type:]file...\n")
    assert run(postmap, root, "-s", "-q", "x", "t")[2] == "postmap: fatal: specify only one of -s -q or -d\n"
    assert run(postmap, root, "-q", "x", "-s", "t")[2] == "postmap: fatal: specify only one of -s or -q or -d\n"
    assert run(postmap, root, "-q")[2] == ("postmap: option requires an argument -- 'q'\n"
                                           "postmap: fatal: usage: postmap [-bfFhimnNoprsuUvw] "
                                           "[-c config_dir] [-d key] [-q key] [map_type:]file...\n")
    assert run(postmap, root, "texthash:/etc/postfix/virtual")[2] == (
        "postmap: fatal: unsupported dictionary type: texthash does not support bulk-mode creation.\n")
    assert run(postmap, tmp_path / "noroot", "-q", "x", "static:y")[2] == (
        "postmap: fatal: open /etc/postfix/main.cf: No such file or directory\n")


def test_stale_database_warning_on_query(root: Path) -> None:
    run(postmap, root, "hash:/etc/postfix/virtual")
    old = time.time() - 1000
    os.utime(root / "etc/postfix/virtual.db", (old, old))
    os.utime(root / "etc/postfix/virtual", (old + 300, old + 300))
    rc, out, err = run(postmap, root, "-q", "info@alias.example", "hash:/etc/postfix/virtual")
    assert (rc, out) == (0, "alice@example.com\n")
    assert err == ("postmap: warning: database /etc/postfix/virtual.db is older than "
                   "source file /etc/postfix/virtual\n")


def test_postalias_options(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postalias, "clock", lambda: 42.0)
    (root / "etc/aliases").write_text("Upper: alice\ndup: a\ndup: b\n")
    assert run(postalias, root, "-f", "-w", "hash:/etc/aliases") == (0, "", "")
    rc, out, _ = run(postalias, root, "-s", "hash:/etc/aliases")
    assert out == ("Upper:\talice\ndup:\ta\n@:\t@\nYP_LAST_MODIFIED:\t0000000042\n"
                   "YP_MASTER_NAME:\tmail.example.com\n")
    assert run(postalias, root, "-q", "upper", "hash:/etc/aliases")[0] == 1
    assert run(postalias, root, "-r", "hash:/etc/aliases")[2] == ""
    assert run(postalias, root, "-q", "dup", "hash:/etc/aliases")[1] == "b\n"
    assert run(postalias, root, "-q", "YP_MASTER_NAME", "hash:/etc/aliases")[0] == 1
    rc, out, _ = run(postalias, root, "-q", "-", "hash:/etc/aliases", stdin="UPPER\n@\n")
    assert out == "UPPER:\talice\n@:\t@\n"


def test_newaliases_builds_every_alias_database(root: Path) -> None:
    (root / "etc/postfix/main.cf").write_text(
        "myhostname = mail.example.com\nalias_database = hash:/etc/aliases,"
        " hash:/etc/postfix/more\n")
    (root / "etc/postfix/more").write_text("extra: bob\nbad line\n")
    rc, out, err = run(newaliases, root)
    assert (rc, out) == (0, "")
    assert err == "postalias: warning: /etc/postfix/more, line 2: need name:value pair\n"
    assert open_map("hash:/etc/postfix/more", root=root).lookup("EXTRA") == "bob"
    assert open_map("hash:/etc/aliases", root=root).lookup("team") == "alice, bob"
    (root / "etc/postfix/main.cf").write_text("alias_database = hash:/etc/nosuch\n")
    assert run(newaliases, root) == (1, "", "postalias: fatal: open /etc/nosuch: No such file or directory\n")
