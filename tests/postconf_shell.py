"""NAME
    postconf_shell - run the reference battery's shell command lines against simlab

SUMMARY
    stdout, stderr, rc = run_cmdline("postconf -c . -e x=1; echo rc=$?; cat main.cf", folder)

DESCRIPTION
    The postconf cases in tests/data/postconf/cases.json were recorded as small
    shell command lines. This helper understands exactly the forms they use:
    "postconf ARGS", "echo rc=$?", "cat FILE", "cat -A FILE", ";" sequences,
    "2>&1", "| head -N" and "| cat -A". postconf runs in-process through
    simlab.postfix.commands.postconf.main, in ``folder``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
from pathlib import Path

from simlab.postfix.commands.postconf import main as postconf_main
from simlab.postfix.config import HostFacts

FACTS = HostFacts(process_id=30416)


def _cat_a(data: bytes) -> str:
    """cat -A: ^X for control characters, M- for bytes >= 128, $ at each line end."""
    out = []
    for b in data:
        if b == 10:
            out.append("$\n")
            continue
        prefix = ""
        if b >= 128:
            prefix, b = "M-", b - 128
        if b < 32:
            out.append(prefix + "^" + chr(b + 64))
        elif b == 127:
            out.append(prefix + "^?")
        else:
            out.append(prefix + chr(b))
    return "".join(out)


def _run_one(words: list[str], folder: Path, last_rc: int) -> tuple[str, str, int]:
    if words[0] == "postconf":
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = postconf_main(words[1:], facts=FACTS)
        finally:
            os.chdir(cwd)
        return out.getvalue(), err.getvalue(), rc
    if words[0] == "echo":
        return " ".join(w.replace("$?", str(last_rc)) for w in words[1:]) + "\n", "", 0
    if words[0] == "cat":
        if words[1] == "-A":
            return _cat_a((folder / words[2]).read_bytes()), "", 0
        return (folder / words[1]).read_bytes().decode("utf-8", "surrogateescape"), "", 0
    raise ValueError(f"unsupported command: {words}")


def run_cmdline(cmdline: str, folder: Path) -> tuple[str, str, int]:
    stdout, stderr, rc = "", "", 0
    for part in cmdline.split(";"):
        part = part.strip()
        if not part:
            continue
        pipeline = [p.strip() for p in part.split("|")]
        words = shlex.split(pipeline[0])
        merge = "2>&1" in words
        words = [w for w in words if w != "2>&1"]
        out, err, rc = _run_one(words, folder, rc)
        if merge:
            out, err = out + err, ""
        for stage in pipeline[1:]:
            head = shlex.split(stage)
            if head == ["cat", "-A"]:
                out = _cat_a(out.encode("utf-8", "surrogateescape"))
            elif head[0] == "head":
                count = int(head[1].lstrip("-"))
                out = "".join(out.splitlines(keepends=True)[:count])
            else:
                raise ValueError(f"unsupported pipe: {stage}")
            rc = 0
        stdout += out
        stderr += err
    return stdout, stderr, rc


def step_params(cases: list[dict], known_differences: dict[str, str]) -> list:
    """One pytest param per step of measured cases, id "<case>-<step>"; a step named in
    known_differences is a strict xfail with that reason."""
    import pytest
    params = []
    for case in cases:
        for index in range(len(case["steps"])):
            ident = f"{case['case']}-{index}"
            marks = [pytest.mark.xfail(strict=True, reason=known_differences[ident])] \
                if ident in known_differences else []
            params.append(pytest.param(case, index, id=ident, marks=marks))
    return params
