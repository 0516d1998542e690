"""environment.yml (conda/Binder) and pyproject.toml must ask for the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def normalise(req: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)", req)
    assert m, req
    name = re.sub(r"[-_.]+", "-", m.group(1).lower())
    spec = ",".join(sorted(s.strip() for s in m.group(2).split(",") if s.strip()))
    return name, spec


def environment_pip_list() -> list[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    out, in_pip = [], False
    for line in lines:
        if re.match(r"\s*-\s*pip:\s*$", line):
            in_pip = True
            continue
        if in_pip:
            m = re.match(r"\s{4,}-\s*(.+?)\s*$", line)
            if not m:
                break
            out.append(m.group(1))
    return out


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = environment_pip_list()
    assert "-e ." in pip
    conda = {normalise(r) for r in pip if r != "-e ."}
    assert conda == {normalise(r) for r in project["dependencies"]}


def test_environment_yml_pins_python_and_conda_forge() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert "conda-forge" in text and re.search(r"-\s*python=3\.1[1-9]", text)
    assert not (ROOT / "binder").exists()  # repo2docker would ignore the top-level file
