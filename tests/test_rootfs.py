"""A host root is a Unix machine in a folder."""

from __future__ import annotations

from pathlib import Path

from simlab.cli import main as simlab
from simlab.sim.rootfs import accounts, init_root


def test_init_root_lays_out_a_debian_postfix_host(tmp_path: Path) -> None:
    root = init_root(tmp_path / "mx", "mail.example.com", users=["alice", "bob"])
    names = {a.name: a for a in accounts(root)}
    assert not names["postfix"].can_login and names["alice"].can_login
    assert names["alice"].home == "/home/alice"
    assert "postdrop:x:" in (root / "etc/group").read_text()
    main_cf = (root / "etc/postfix/main.cf").read_text()
    assert "myhostname = mail.example.com\n" in main_cf and "mydomain = example.com\n" in main_cf
    assert "\nsmtp      inet  n" in (root / "etc/postfix/master.cf").read_text()
    assert "postmaster:" in (root / "etc/aliases").read_text()
    for q in ("maildrop", "incoming", "active", "deferred", "hold", "corrupt"):
        assert (root / "var/spool/postfix" / q).is_dir()
    assert (root / "etc/dovecot/users").read_text() == "alice:{PLAIN}alice-pw\nbob:{PLAIN}bob-pw\n"


def test_init_root_keeps_what_a_student_edited(tmp_path: Path) -> None:
    root = init_root(tmp_path / "mx")
    (root / "etc/postfix/main.cf").write_text("myhostname = edited.example.com\n")
    init_root(root)
    assert (root / "etc/postfix/main.cf").read_text() == "myhostname = edited.example.com\n"


def test_simlab_init_command(tmp_path: Path, capsys) -> None:
    assert simlab(["init", str(tmp_path / "h"), "--hostname", "mx.oreilly.com", "--user", "erin"]) == 0
    assert "mydomain = oreilly.com" in (tmp_path / "h/etc/postfix/main.cf").read_text()
    assert [a.name for a in accounts(tmp_path / "h")][-1] == "erin"
    assert "created host root" in capsys.readouterr().out
