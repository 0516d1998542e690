"""The main.cf editor model: postconf -n and its warnings captured, apply + reload, the address classes."""

from __future__ import annotations

import sys

import pytest

from simlab.widgets import maincf_editor
from simlab.widgets.maincf_editor import MainCfEditor, MainCfModel, run_captured

KNOWN = {"myhostname", "mydomain", "mydestination", "relay_domains", "relayhost"}


def fake_postconf(argv: list[str]) -> int:
    """A stand-in with postconf's output shape: -n lists set names, unknown ones are warned about."""
    assert argv[0] == "-c" and argv[2] == "-n"
    path = f"{argv[1]}/main.cf"
    out = [f"config_directory = {argv[1]}"]
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "=" not in line:
            print(f"postconf: fatal: {path}, line {n}: missing '=' after attribute name: \"{line.strip()}\"",
                  file=sys.stderr)
            return 1
        name, value = (x.strip() for x in line.split("=", 1))
        if name in KNOWN:
            out.append(f"{name} = {value}")
        else:
            print(f"postconf: warning: {path}: unused parameter: {name}={value}", file=sys.stderr)
    print("\n".join(sorted(out)))
    return 0


def make(tmp_path, **kw) -> MainCfModel:
    (tmp_path / "main.cf").write_text("myhostname = mail.example.com\nmydestination = $myhostname, example.com\n")
    (tmp_path / "master.cf").write_text("smtp      inet  n       -       n       -       -       smtpd\n")
    kw.setdefault("postconf", fake_postconf)
    return MainCfModel(tmp_path, **kw)


class Resolution:
    def __init__(self, address: str, cls: str, why: str) -> None:
        self.address, self.cls, self.transport, self.nexthop, self.why = address, cls, "local", "x", why


def test_check_runs_postconf_on_a_scratch_copy_and_captures_its_output(tmp_path) -> None:
    m = make(tmp_path)
    assert m.text.startswith("myhostname = mail.example.com")
    run = m.check(m.text + "relay_domains = relay.example\nmessage_size_limt = 1\n")
    assert run.rc == 0
    assert run.stdout.splitlines() == [f"config_directory = {tmp_path}",
                                       "mydestination = $myhostname, example.com",
                                       "myhostname = mail.example.com", "relay_domains = relay.example"]
    assert run.warnings == [f"postconf: warning: {tmp_path}/main.cf: unused parameter: message_size_limt=1"]
    assert "relay_domains" not in (tmp_path / "main.cf").read_text()      # the real file is untouched
    bad = m.check("this line has no equals sign\n")
    assert bad.rc == 1 and "missing '=' after attribute name" in bad.warnings[0]


def test_apply_writes_reloads_and_resolves(tmp_path) -> None:
    reloads: list[int] = []

    def resolve(address: str) -> Resolution:
        if address == "boom@example.com":
            raise ValueError("no such table: hash:/etc/postfix/virtual")
        text = (tmp_path / "main.cf").read_text()
        dom = address.partition("@")[2]
        return Resolution(address, "relay" if f"relay_domains = {dom}" in text else "local" if dom in text
                          else "default", "read from main.cf")

    m = make(tmp_path, reload=lambda: reloads.append(1), resolve=resolve,
             addresses=["alice@example.com", "x@relay.example", "boom@example.com"])
    assert m.apply(m.text + "relay_domains = relay.example\n")
    assert "relay_domains = relay.example" in (tmp_path / "main.cf").read_text() and reloads == [1]
    assert m.message == "main.cf written; postfix reload: the running instance re-read it."
    assert [r.cls if hasattr(r, "cls") else r["cls"] for r in m.rows] == ["local", "relay", "?"]
    assert m.rows[2]["why"] == "could not resolve: no such table: hash:/etc/postfix/virtual"
    m.apply(m.text + "foo = 1\n")
    assert m.message.endswith("postconf printed 1 warning(s).")


def test_failures_are_words(tmp_path, monkeypatch) -> None:
    def crash():
        raise RuntimeError("master is not running")

    m = make(tmp_path, reload=crash)
    assert not m.apply()
    assert m.error == "main.cf was written, but the reload failed: Something went wrong: RuntimeError: " \
                      "master is not running"
    assert m.send_test("a@b") == "Test messages are not wired up in this notebook."
    m.send_test_fn = lambda a: 1 / 0
    assert m.send_test("a@b").startswith("The test message failed: Something went wrong: ZeroDivisionError")
    m.addresses, m.error = ["a@b"], ""
    m.resolve_all()
    assert m.rows == [] and "not wired up" in m.error

    def no_module() -> None:
        raise ImportError("No module named 'simlab.postfix.commands.postconf'")

    monkeypatch.setattr(maincf_editor, "_default_postconf", no_module)
    m2 = MainCfModel(tmp_path)
    assert m2.check() is None and m2.error.startswith("postconf is not available in this simlab yet")
    m3 = MainCfModel(tmp_path / "nowhere")
    assert m3.text == "" and m3.error.startswith("No such file")
    m4 = make(tmp_path, postconf=lambda argv: 1 / 0)
    assert m4.check() is None and m4.error.startswith("postconf failed: Something went wrong: ZeroDivisionError")


def test_run_captured_handles_exit_codes() -> None:
    def exits(argv):
        print("out")
        raise SystemExit(75)

    def exits_text(argv):
        raise SystemExit("postconf: fatal: boom")

    assert (run_captured(exits, []).stdout, run_captured(exits, []).rc) == ("out\n", 75)
    r = run_captured(exits_text, [])
    assert r.rc == 1 and r.stderr == "postconf: fatal: boom\n"


def test_with_the_real_postconf_when_it_exists(tmp_path) -> None:
    postconf = pytest.importorskip("simlab.postfix.commands.postconf")
    (tmp_path / "main.cf").write_text("myhostname = host.example\nMyHostname = case.example\n")
    m = MainCfModel(tmp_path, postconf=postconf.main)
    run = m.check()
    assert run is not None and "myhostname = host.example" in run.stdout.splitlines()
    assert any("unused parameter: MyHostname=case.example" in w for w in run.warnings)


def test_editor_view(tmp_path) -> None:
    m = make(tmp_path, resolve=lambda a: Resolution(a, "local", "mydestination contains example.com"),
             addresses=["alice@example.com"], reload=lambda: None)
    view = MainCfEditor(m)
    view.editor.value = m.text + "bogus = 1\n"
    view.check_btn.click()
    assert "unused parameter: bogus=1" in view.postconf_out.value and "postconf -n" in view.postconf_out.value
    view.apply_btn.click()
    assert "mydestination contains example.com" in view.table.value
    assert bytes(view.figure.value).startswith(b"\x89PNG")
    view.revert_btn.click()
    assert view.editor.value.endswith("bogus = 1\n")
    view.test_btn.click()
    assert "not wired up" in view.status.value
