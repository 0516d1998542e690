"""master.cf parsing, postconf -M/-F/-P formatting and master.cf editing."""

from __future__ import annotations

from pathlib import Path

import pytest

from simlab.postfix.config import ConfigError, MasterService, read_master_cf
from simlab.postfix.config.masterfmt import edit_master_cf, fold_line, format_entry, format_field
from simlab.postfix.config.mastercf import parse_master_cf

LAB = Path(__file__).parent / "data" / "postconf" / "lab"


def test_lab_services_are_typed() -> None:
    services = read_master_cf(LAB)
    by_key = {s.key: s for s in services}
    outside = by_key["127.0.0.1:2525/inet"]
    assert (outside.private, outside.unpriv, outside.chroot, outside.maxproc) == \
        (False, True, False, None)
    assert outside.command == "smtpd" and outside.args == []
    assert outside.overrides["mynetworks"] == "127.0.0.2/32"
    assert outside.line == 6
    pickup = by_key["pickup/unix"]
    assert (pickup.wakeup, pickup.maxproc, pickup.wakeup_if_used) == (60, 1, False)
    assert by_key["tlsmgr/unix"].wakeup_if_used
    pipe = by_key["labpipe/unix"]
    assert pipe.args[:3] == ["flags=FRq", "user=nobody", "argv=/usr/local/bin/lab-pipe"]
    assert isinstance(pipe, MasterService) and pipe.key == "labpipe/unix"


def test_option_normalization() -> None:
    text = "x unix - - n - - cmd -v -oa=1 -o { b = 2 } -vob=3 arg {with space}\n"
    entry = parse_master_cf(text, "./master.cf")[0]
    assert entry.argv[7:] == ["cmd", "-v", "-o", "a=1", "-o", "b=2", "-v", "-o", "b=3", "arg",
                              "with space"]
    assert entry.params == {"a": "1", "b": "3"}
    assert format_entry(entry, fold=False) == (
        "x          unix  -       -       n       -       -       cmd -v -o a=1 -o b=2 -v "
        "-o b=3 arg {with space}\n")


@pytest.mark.parametrize("text,message", [
    ("smtp inet n - n -\n", "file ./master.cf: line 1: bad field count"),
    ("smtp tcp n - n - - smtpd\n", 'invalid type field "tcp" in "smtp tcp n - n - - smtpd"'),
    ("smtp inet x - n - - smtpd\n",
     'invalid private field "x" in "smtp inet x - n - - smtpd"'),
    ("smtp inet n - n 1x - smtpd\n",
     'invalid wakeup field "1x" in "smtp inet n - n 1x - smtpd"'),
    ("smtp inet n - n - many smtpd\n",
     'invalid process_limit field "many" in "smtp inet n - n - many smtpd"'),
])
def test_bad_entries(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_master_cf(text, "./master.cf")
    assert info.value.message == message


def test_missing_master_cf(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file or directory"):
        read_master_cf(tmp_path)


def test_fields_and_folding() -> None:
    entry = parse_master_cf("sub inet n - y - - smtpd -o a=1 -o b=2\n", "./m")[0]
    assert format_field(entry, 7, False, False) == "sub/inet/command = smtpd -o a=1 -o b=2\n"
    assert format_field(entry, 4, True, False) == "y\n"
    assert format_entry(entry, fold=True).splitlines()[1:] == ["    -o a=1", "    -o b=2"]
    assert fold_line("a  =\t b   c ") == "a = b c\n"
    assert fold_line("x = " + "word " * 30, fold=True).splitlines()[1].startswith("    word")


MASTER = ("smtp      inet  n       -       y       -       -       smtpd\n"
          "  # kept\n"
          "  -o a=1\n"
          "pickup    unix  n       -       y       60      1       pickup\n")


def test_edit_field_param_entry() -> None:
    new = edit_master_cf(MASTER, "./master.cf", "field", "edit", ["smtp/inet/chroot=n"], print)
    assert new.splitlines()[:3] == [
        "  # kept", "smtp       inet  n       -       n       -       -       smtpd",
        "    -o a=1"]
    new = edit_master_cf(MASTER, "./master.cf", "param", "exclude", ["smtp/inet/a"], print)
    assert "-o a=1" not in new
    new = edit_master_cf(MASTER, "./master.cf", "entry", "comment", ["smtp/inet"], print)
    assert new.splitlines()[:3] == [
        "#smtp      inet  n       -       y       -       -       smtpd", "  # kept", "#  -o a=1"]
    new = edit_master_cf(MASTER, "./master.cf", "entry", "edit",
                         ["pickup/unix=pickup unix n - n 30 1 pickup"], print)
    assert new.endswith("pickup     unix  n       -       n       30      1       pickup\n")


def test_edit_diagnostics() -> None:
    warnings: list[str] = []
    edit_master_cf(MASTER, "./master.cf", "param", "edit", ["nosuch/unix/a=1"], warnings.append)
    assert warnings == ['unmatched service_name/type: "nosuch/unix/a=1"']
    for kind, args, message in [
        ("field", ["smtp/inet/*=x"], "-Fe does not accept wild-card field name"),
        ("field", ["smtp/inet/bogus=x"], 'invalid service attribute name: "bogus"'),
        ("field", ["smtp/inet/chroot=a b"], "-Fe does not accept whitespace in non-command field"),
        ("param", ["smtp/inet/a=x y"], "-Pe does not accept whitespace in parameter value"),
        ("entry", ["smtp=x"], "-Me, -MX or -M# requires service_name/type"),
        ("entry", ["x/unix=x unix"], 'bad field count: "x/unix=x unix"'),
    ]:
        with pytest.raises(ConfigError) as info:
            edit_master_cf(MASTER, "./master.cf", kind, "edit", args, print)
        assert info.value.message == message
