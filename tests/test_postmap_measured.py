"""Measured postmap/postalias cases: simlab against real Postfix 3.7.11 beyond the reference.

tests/data/maps/measured_cases.json has the format of the reference
aliases/cases.json. Each case ran real postmap/postalias commands under bash
in an empty scratch folder holding its input files, with MAIL_CONFIG naming a
private folder that holds the lab main.cf (so YP_MASTER_NAME is
mail.example.com); here the same command lines run with simlab's programs on
PATH (the shims and lab root of tests/test_postmap_golden.py).

Masked: the build time YP_LAST_MODIFIED was replaced by the reference's
capture time, which the shims pin. The input files were dated one hour back
before every step, so real Postfix did not re-read a just-written texthash or
regexp file (it re-reads files modified within the last second). Each case
ran six times; any other outcome seen is kept under "alternatives". The
capture's main.cf had maillog_file emptied, so that it never wrote into the
lab's log; that changes nothing on stdout or stderr.

inline: tables list entries in random hash order: those steps (SORTED_STDOUT)
compare sorted stdout lines.

Cases simlab still gets wrong are listed in KNOWN_DIFFERENCES (strict xfail).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from postconf_shell import step_params  # noqa: E402
from test_postmap_golden import lab  # noqa: E402,F401  (fixture)

CASES = json.loads((Path(__file__).parent / "data" / "maps" / "measured_cases.json").read_text())
# inline: tables list their entries in hash-table order (random per process).
SORTED_STDOUT = {"inline_static_edges-7"}
KNOWN_DIFFERENCES: dict[str, str] = {}

PARAMS = step_params(CASES, KNOWN_DIFFERENCES)


def _bash(cmd: str, scratch: Path, env: dict[str, str]) -> tuple[str, str, int]:
    got = subprocess.run(["bash", "-c", cmd], cwd=scratch, env=env, capture_output=True,
                         timeout=120)
    return (got.stdout.decode("utf-8", "surrogateescape"),
            got.stderr.decode("utf-8", "surrogateescape"), got.returncode)


@pytest.mark.parametrize("case,index", PARAMS)
def test_measured_case(case: dict, index: int, lab: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    scratch, env = lab
    for name, text in case["input_files"].items():
        (scratch / name).write_bytes(text.encode("utf-8", "surrogateescape"))
    for step in case["steps"][:index]:
        _bash(step["cmd"], scratch, env)
    step = case["steps"][index]
    got = _bash(step["cmd"], scratch, env)
    outcomes = [(w["stdout"], w["stderr"], w["rc"]) for w in [step] + step.get("alternatives", [])]
    if f"{case['case']}-{index}" in SORTED_STDOUT:
        got = (_sorted(got[0]),) + got[1:]
        outcomes = [(_sorted(o[0]),) + o[1:] for o in outcomes]
    assert got in outcomes, f"{step['cmd']}\n got: {got!r}\nwant: {outcomes[0]!r}"


def _sorted(text: str) -> str:
    return "".join(sorted(text.splitlines(True)))
