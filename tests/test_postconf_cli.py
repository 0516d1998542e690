"""simlab postconf: options, messages and exit codes beyond the golden cases."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.postfix.commands.postconf import main
from simlab.postfix.config import HostFacts, load_config

DATA = Path(__file__).parent / "data" / "postconf"
MASTER = "smtp      inet  n       -       n       -       -       smtpd\n"


def run(*args: str, cwd: Path | None = None) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            contextlib.chdir(cwd or Path.cwd()):
        rc = main(list(args), facts=HostFacts(process_id=4242))
    return out.getvalue(), err.getvalue(), rc


def folder(tmp_path: Path, main_cf: str, master_cf: str | None = MASTER) -> Path:
    (tmp_path / "main.cf").write_text(main_cf)
    if master_cf is not None:
        (tmp_path / "master.cf").write_text(master_cf)
    return tmp_path


def test_root_uses_etc_postfix_and_unix_paths_in_messages(tmp_path: Path) -> None:
    conf = tmp_path / "etc" / "postfix"
    conf.mkdir(parents=True)
    folder(conf, "myhostname = h.example\nfoo = 1\n")
    out, err, rc = run("--root", str(tmp_path), "-n")
    assert (out, rc) == ("myhostname = h.example\n", 0)
    assert err == "postconf: warning: /etc/postfix/main.cf: unused parameter: foo=1\n"
    out, _err, _rc = run("--root", str(tmp_path), "-c", "/etc/postfix", "-h", "config_directory")
    assert out == "/etc/postfix\n"


def test_missing_files(tmp_path: Path) -> None:
    assert run("-c", str(tmp_path), "-n")[1:] == (
        f"postconf: fatal: open {tmp_path}/main.cf: No such file or directory\n", 1)
    folder(tmp_path, "a_b = 1\n", master_cf=None)
    _out, err, rc = run("-c", ".", "mail_name", cwd=tmp_path)
    assert (err, rc) == ("postconf: warning: open ./master.cf: No such file or directory\n"
                         "postconf: warning: ./main.cf: unused parameter: a_b=1\n", 0)
    assert run("-c", ".", "-M", cwd=tmp_path)[1:] == (
        "postconf: fatal: open ./master.cf: No such file or directory\n", 1)


def test_readme_examples(tmp_path: Path) -> None:
    folder(tmp_path, "mydestination = a.example,\n    b.example\nmyhostname = host.example\n")
    assert run("-c", ".", "-#", "mydestination", cwd=tmp_path) == ("", "", 0)
    assert (tmp_path / "main.cf").read_text() == (
        "#mydestination = a.example,\n#    b.example\nmyhostname = host.example\n")
    assert run("-c", ".", "-X", "nosuch", cwd=tmp_path) == ("", "", 0)
    assert run("-c", ".", "mydomain=example.com", cwd=tmp_path) == ("", "", 0)
    assert load_config(tmp_path)["mydomain"] == "example.com"
    folder(tmp_path, "myhostname = first.example\nmyhostname = second.example\n")
    assert run("-c", ".", "-h", "myhostname", cwd=tmp_path) == (
        "second.example\n",
        "postconf: warning: ./main.cf, line 2: overriding earlier entry: "
        "myhostname=first.example\n", 0)


def test_option_errors(tmp_path: Path) -> None:
    folder(tmp_path, "")
    out, err, rc = run("-c", ".", "-d", "-n", cwd=tmp_path)
    assert (out, err, rc) == ("", "postconf: fatal: specify one of -d -n\n", 1)
    assert run("-c", ".", "-M", "-d", cwd=tmp_path)[1] == \
        "postconf: fatal: with option -M, do not specify -d\n"
    assert run("-c", ".", "-e", cwd=tmp_path)[1] == \
        "postconf: fatal: -e requires name=value argument\n"
    out, err, rc = run("-Z")
    assert rc == 1 and err.startswith("postconf: invalid option -- 'Z'\npostconf: fatal: usage:")
    assert run("-c")[1].startswith("postconf: option requires an argument -- 'c'\n")
    assert run("-c", ".", "-C", "bogus", cwd=tmp_path)[1] == \
        'postconf: fatal: unknown -C option value "bogus" in "bogus"\n'


def test_display_variants(tmp_path: Path) -> None:
    folder(tmp_path, "lab_a = x\nsmtpd_banner = $lab_a\nmydomain = example.com\n")
    assert run("-c", ".", "-n", "-C", "user", cwd=tmp_path)[0] == "lab_a = x\n"
    assert run("-c", ".", "-H", "mydomain", "smtpd_banner", cwd=tmp_path)[0] == \
        "mydomain\nsmtpd_banner\n"
    assert run("-c", ".", "-x", "-o", "lab_a=y", "smtpd_banner", cwd=tmp_path)[0] == \
        "smtpd_banner = y\n"
    assert run("-c", ".", "-d", "-h", "process_id", "process_name", cwd=tmp_path)[0] == \
        "4242\npostconf\n"
    folded = run("-c", ".", "-f", "-d", "proxy_read_maps", cwd=tmp_path)[0].splitlines()
    assert len(folded) > 1 and all(len(line) <= 80 for line in folded)
    assert all(line.startswith("    ") for line in folded[1:])
    assert run("-c", ".", "-m", cwd=tmp_path)[0].splitlines()[:2] == ["btree", "cidr"]
    assert run("-c", ".", "-l", cwd=tmp_path)[0] == "flock\nfcntl\ndotlock\n"


def test_read_only_and_undefined_parameters(tmp_path: Path) -> None:
    folder(tmp_path, "process_id = 5\nmyorigin = $nowhere\n")
    out, err, rc = run("-c", ".", "-n", cwd=tmp_path)
    assert out == "config_directory = .\nmyorigin = $nowhere\n" and rc == 0
    assert sorted(err.splitlines()) == [
        "postconf: warning: ./main.cf: read-only parameter assignment: process_id=5",
        "postconf: warning: ./main.cf: undefined parameter: nowhere"]


def test_master_modes(tmp_path: Path) -> None:
    for name in ("main.cf", "master.cf"):
        shutil.copy(DATA / "lab" / name, tmp_path / name)
    out = run("-c", ".", "-Px", "relay/unix/syslog_name", cwd=tmp_path)[0]
    assert out == "relay/unix/syslog_name = postfix/\n"
    out = run("-c", ".", "-F", "pickup/unix/wakeup", "qmgr/*/process_limit", cwd=tmp_path)[0]
    assert out == "pickup/unix/wakeup = 60\nqmgr/unix/process_limit = 1\n"
    out, err, rc = run("-c", ".", "-M", "smtp", "nosuch", cwd=tmp_path)
    assert out.splitlines() == [
        "smtp       inet  n       -       n       -       -       smtpd",
        "smtp       unix  -       -       n       -       -       smtp"]
    assert (err, rc) == ('postconf: warning: unmatched request: "nosuch"\n', 0)
    assert run("-c", ".", "-F", "a/b/c/d", cwd=tmp_path)[1] == \
        "postconf: fatal: -F option requires service_name[/type[/field]]\n"


def test_macro_errors_are_fatal_and_discard_stdout(tmp_path: Path) -> None:
    folder(tmp_path, "smtpd_banner = ${{x} <level {2} ? {a} : {b}}\n")
    out, err, rc = run("-c", ".", "-n", cwd=tmp_path)
    assert (out, rc) == ("", 1)
    assert err.splitlines()[-1] == "postconf: fatal: macro processing error"


MAIN_LINES = st.lists(st.one_of(
    st.text(alphabet="abc_=$ {}#?:\t,\r", max_size=20),
    st.sampled_from(["myhostname = h", "a = $b", "b = ${a?x}", "  cont", "# c", "x=${{1}=={1}}"]),
), max_size=8).map("\n".join)


@settings(max_examples=40, deadline=None)
@given(MAIN_LINES)
def test_postconf_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = folder(Path(name), text)
        for args in (["-n"], ["-x"], ["-M"]):
            _out, err, rc = run("-c", ".", *args, cwd=tmp)
            assert rc in (0, 1) and (rc == 0 or "fatal: " in err)


NAME = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
VALUE = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\0#"), max_size=20)


@settings(max_examples=30, deadline=None)
@given(NAME, VALUE)
def test_edit_then_read_back(name: str, value: str) -> None:
    with tempfile.TemporaryDirectory() as dirname:
        tmp = folder(Path(dirname), "# top\nmyhostname = h.example\nmydestination = a,\n  b\n")
        _out, _err, rc = run("-c", ".", "-e", f"{name}={value}", cwd=tmp)
        assert rc == 0
        assert load_config(tmp).raw(name) == value.strip(" \t\v\f\r")
