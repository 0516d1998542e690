"""``simlab demo [NAME] [--seed N] [--trace FILE]``: what it prints, and the same bytes every time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simlab.cli import main
from simlab.scenarios.demos import DEMOS


def demo(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["demo", *args]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_tour_prints_both_dialogs_the_maillogs_and_the_mailbox(capsys: pytest.CaptureFixture[str]) -> None:
    out = demo(capsys)
    assert "dialog c1 at t=0.002 s: alice-pc.example.com -> mail.example.com port 587 (submission)" in out
    assert "dialog c2" in out and "mail.example.com -> mail.oreilly.com port 25 (smtp)" in out
    for line in ("S: 220 mail.example.com ESMTP Postfix", "C: EHLO alice-pc.example.com",
                 "S: 235 2.7.0 Authentication successful", "C: RCPT TO:<erin@oreilly.com>",
                 "S: 354 End data with <CR><LF>.<CR><LF>", "S: 220 mail.oreilly.com ESMTP Postfix",
                 "S: 221 2.0.0 Bye", "== maillog of mail.example.com ==", "== maillog of mail.oreilly.com =="):
        assert line in out, line
    assert out.count("S: 250 2.0.0 Ok: queued as ") == 2
    assert "postfix/local[" in out and "status=sent (delivered to mailbox)" in out
    assert "Delivered-To: erin@oreilly.com" in out


def run_cli(tmp: Path, name: str, seed: str, hashseed: str) -> tuple[bytes, bytes]:
    trace = tmp / f"{name}-{seed}-{hashseed}.jsonl"
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    args = [sys.executable, "-m", "simlab", "demo", "--seed", seed, "--trace", str(trace)]
    done = subprocess.run(args, capture_output=True, env=env, check=True, timeout=120)
    assert done.stderr == b""
    return trace.read_bytes(), done.stdout.replace(str(trace).encode(), b"FILE")


def test_same_seed_writes_byte_identical_traces(tmp_path: Path) -> None:
    first, out1 = run_cli(tmp_path, "tour", "7", "1")
    second, out2 = run_cli(tmp_path, "tour", "7", "2")
    assert first == second and out1 == out2
    events = [json.loads(line) for line in first.decode().splitlines()]
    kinds = {e["kind"] for e in events}
    assert {"connect", "send", "dns", "log"} <= kinds
    assert all(events[i]["t"] <= events[i + 1]["t"] for i in range(len(events) - 1))
    other, _ = run_cli(tmp_path, "tour", "8", "1")
    assert other != first                                  # the seed matters (message ids, queue ids)


@pytest.mark.parametrize("name", [n for n in DEMOS if n != "tour"])
def test_each_demonstration_runs(name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    trace = tmp_path / "t.jsonl"
    out = demo(capsys, name, "--seed", "1", "--trace", str(trace))
    assert out.startswith(f"simlab demo {name} ")
    assert trace.stat().st_size > 0 and f"events written to {trace}" in out
    expected = {
        "telnet": ["$ telnet mail.example.com 25", "HELO mail.oreilly.com\n250 mail.example.com\n",
                   "DATA\n354 End data with <CR><LF>.<CR><LF>\n", "quit\n221 2.0.0 Bye\n"
                   "Connection closed by foreign host.", "Subject: Have you read RFC 2822?",
                   "Return-Path: <service@oreilly.com>"],
        "reject-vs-bounce": ["refused during the dialog: nosuch@example.com: 550 5.1.1",
                             "S: 550 5.1.1 <nosuch@oreilly.com>: Recipient address rejected",
                             "status=bounced (host mail.oreilly.com[10.0.1.25] said: 550 5.1.1",
                             "Subject: Undelivered Mail Returned to Sender", "Action: failed", "backscatter"],
        "address-classes": ["alice@example.com        local", "carol@vmail.example      virtual_mailbox",
                            "x@relay.example          relay            smtp       [127.0.0.1]:2526",
                            "user@other.example       default          error      no outbound in this lab",
                            "info@alias.example -> alice@example.com (local -> local)"],
        "queue": ["maximal_queue_lifetime = 5d", "(connect to mail.oreilly.com[10.0.1.25]:25: Connection timed out)",
                  "      2     0d 00:10:30       600s  deferred:", "status=expired, returned to sender",
                  "Status: 4.4.1"],
    }[name]
    for text in expected:
        assert text in out, text


def test_unknown_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "nosuch"])
    assert exc.value.code == 2
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err
