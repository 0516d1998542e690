"""postfix check / status with --root: the configuration warnings of a host root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _queue_lab import run
from simlab.postfix.commands import newaliases, postfix
from simlab.sim.rootfs import init_root


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = init_root(tmp_path / "mail", "mail.example.com")
    assert newaliases.main(["--root", str(r)]) == 0
    return r


def edit(root: Path, **settings: str) -> None:
    with open(root / "etc/postfix/main.cf", "a") as f:
        for k, v in settings.items():
            f.write(f"{k} = {v}\n")


def check(root: Path) -> tuple[int, list[str]]:
    rc, out, err = run(postfix, ["--root", str(root), "check"])
    assert out == ""
    return rc, err.splitlines()


def test_a_clean_root_has_nothing_to_say(root: Path) -> None:
    assert check(root) == (0, [])


def test_myhostname_must_be_fully_qualified(root: Path) -> None:
    edit(root, myhostname="mail")
    rc, lines = check(root)
    assert rc == 0 and lines == ["postfix/postfix-script: warning: My hostname mail is not a fully qualified "
                                 "name - set myhostname or mydomain in /etc/postfix/main.cf"]
    assert "postfix/postfix-script[" in (root / "var/log/mail.log").read_text()


def test_domain_in_two_address_classes(root: Path) -> None:
    edit(root, virtual_mailbox_domains="example.com, vmail.example")
    assert check(root)[1] == ["postfix/postfix-script: warning: do not list domain example.com in BOTH "
                              "mydestination and virtual_mailbox_domains"]


def test_stale_and_missing_databases(root: Path) -> None:
    now = (root / "etc/aliases.db").stat().st_mtime
    os.utime(root / "etc/aliases.db", (now - 1000, now - 1000))
    os.utime(root / "etc/aliases", (now - 500, now - 500))      # edited after newaliases ran
    edit(root, transport_maps="hash:/etc/postfix/transport")
    assert check(root)[1] == [
        "postfix/postfix-script: warning: database /etc/aliases.db is older than source file /etc/aliases",
        "postfix/postfix-script: warning: open database /etc/postfix/transport.db: No such file or directory"]


def test_postmaster_must_exist(root: Path) -> None:
    (root / "etc/aliases").write_text("root: alice\n")
    assert newaliases.main(["--root", str(root)]) == 0
    assert check(root)[1] == ["postfix/postfix-script: warning: postmaster is neither an alias nor a local "
                              "account: mail to postmaster will bounce (RFC 2142 requires it)"]


def test_status_stop_reload_of_a_stopped_system(root: Path) -> None:
    rc, _, err = run(postfix, ["--root", str(root), "status"])
    assert rc == 1 and err == "postfix/postfix-script: the Postfix mail system is not running\n"
    for action in ("stop", "reload"):
        rc, _, err = run(postfix, ["--root", str(root), action])
        assert rc == 1 and err == "postfix/postfix-script: fatal: the Postfix mail system is not running\n"


def test_a_broken_main_cf_is_fatal(root: Path) -> None:
    with open(root / "etc/postfix/main.cf", "a") as f:
        f.write("this line has no equals sign\n")
    rc, _, err = run(postfix, ["--root", str(root), "check"])
    assert rc == 1 and err.startswith("postfix: fatal: ") and "missing '=' after attribute name" in err
