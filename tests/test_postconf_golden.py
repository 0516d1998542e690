"""Golden tests: simlab postconf against real Postfix 3.7 captures.

Every step of tests/data/postconf/cases.json (20 cases recorded as
``postconf -c .`` in a folder holding only the input files) and the lab's
``postconf -n/-M/-P/-d`` must match byte for byte. Where the README says real
Postfix varies (the number and order of repeated warnings), stderr is compared
as a multiset of lines.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from postconf_shell import FACTS, run_cmdline  # noqa: E402

from simlab.postfix.commands.postconf import main  # noqa: E402

DATA = Path(__file__).parent / "data" / "postconf"
CASES = json.loads((DATA / "cases.json").read_text())
# Steps whose warnings real Postfix prints in hash-table order (README item 25).
ORDER_VARIES = {"unknown_parameter"}

STEPS = [pytest.param(case, index, id=f"{case['case']}-{index}")
         for case in CASES for index in range(len(case["steps"]))]


def _setup(case: dict, folder: Path) -> None:
    for name, text in case["input_files"].items():
        (folder / name).write_text(text)
    if case["master_cf_default"] is not None and "master.cf" not in case["input_files"]:
        (folder / "master.cf").write_text(case["master_cf_default"])


@pytest.mark.parametrize("case,index", STEPS)
def test_reference_case(case: dict, index: int, tmp_path: Path) -> None:
    _setup(case, tmp_path)
    for step in case["steps"][:index]:
        run_cmdline(_with_dir(step["cmd"]), tmp_path)
    step = case["steps"][index]
    out, err, rc = run_cmdline(_with_dir(step["cmd"]), tmp_path)
    assert out == step["stdout"]
    assert rc == step["rc"]
    if case["case"] in ORDER_VARIES:
        assert sorted(err.splitlines()) == sorted(step["stderr"].splitlines())
    else:
        assert err == step["stderr"]


def _with_dir(cmd: str) -> str:
    # The -m/-l/-a/-A steps were recorded without -c (they read /etc/postfix).
    return cmd if " -c " in cmd else cmd.replace("postconf", "postconf -c .", 1)


def _lab_root(tmp_path: Path) -> Path:
    folder = tmp_path / "etc" / "postfix"
    folder.mkdir(parents=True)
    for name in ("main.cf", "master.cf"):
        shutil.copy(DATA / "lab" / name, folder / name)
    return tmp_path


def _postconf(*args: str) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args), facts=FACTS)
    return out.getvalue(), err.getvalue(), rc


@pytest.mark.parametrize("option,reference", [
    ("-n", "postconf-n-lab.txt"), ("-M", "postconf-M-lab.txt"),
    ("-P", "postconf-P-lab.txt"), ("-d", "postconf-d.txt"),
])
def test_lab(option: str, reference: str, tmp_path: Path) -> None:
    root = _lab_root(tmp_path)
    out, err, rc = _postconf("--root", str(root), option)
    assert (out, err, rc) == ((DATA / reference).read_text(), "", 0)


def test_lab_all_parameters_is_d_with_lab_values(tmp_path: Path) -> None:
    root = _lab_root(tmp_path)
    out, err, rc = _postconf("--root", str(root))
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 958
    assert "myhostname = mail.example.com" in lines
    assert "minimal_backoff_time = 5s" in lines
    assert "labpipe_time_limit = $command_time_limit" in lines
