"""``simlab serve`` runs qmgr and the delivery agents in a second process, as Postfix runs its programs."""

from __future__ import annotations

import os
import re
import select
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest

from simlab.sim.rootfs import init_root

from servehelper import Served

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir() or not hasattr(os, "pidfd_open"),
                                reason="needs Linux /proc and pidfd_open")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_root(tmp_path / "mail.example.com", "mail.example.com", users=["alice", "bob"])


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def delivery_process(served: Served) -> int:
    found = [p for p in children(served.proc.pid)
             if b"--delivery-process" in Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(found) == 1, found
    return found[0]


def wait_gone(pid: int, timeout: float = 20.0) -> bool:
    """Block until process ``pid`` (not our child) has exited: its pidfd becomes readable."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


def send(served: Served, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"]) as s:
        assert s.sendmail("bob@example.com", ["alice@example.com"], f"Subject: {subject}\r\n\r\nbody\r\n") == {}


def test_qmgr_and_local_run_in_the_second_process_and_the_log_has_one_start(root: Path) -> None:
    with Served(root) as s:
        second = delivery_process(s)
        send(s, "split")
        sent = s.wait_for(r"postfix/local\[\d+\]: \w+: to=<alice@example.com>.*status=sent")
        s.wait_for(r"postfix/qmgr\[\d+\]: \w+: removed")
    log = (root / "var/log/mail.log").read_text()
    assert log.count("starting the Postfix mail system") == 1
    assert len(re.findall(r"postfix/master\[\d+\]: daemon started", log)) == 1
    assert len(re.findall(r"postfix/master\[\d+\]: terminating on signal 15", log)) == 1
    smtpd_pid = int(re.search(r"postfix/smtpd\[(\d+)\]: connect from", log).group(1))
    qmgr_pid = int(re.search(r"postfix/qmgr\[(\d+)\]", log).group(1))
    local_pid = int(re.search(r"postfix/local\[(\d+)\]", sent).group(1))
    assert smtpd_pid < 60200 <= qmgr_pid and local_pid >= 60200    # two processes, two pid ranges
    assert "Subject: split" in (root / "var/mail/alice").read_text()
    assert wait_gone(second)


def test_postfix_reload_is_a_sighup_that_both_processes_survive(root: Path) -> None:
    with Served(root) as s:
        second = delivery_process(s)
        r = subprocess.run([sys.executable, "-m", "simlab", "postfix", "--root", str(root), "reload"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        s.wait_for(r"postfix/master\[\d+\]: reload -- version")
        assert s.proc.poll() is None and delivery_process(s) == second
        send(s, "after reload")
        s.wait_for(r"to=<alice@example.com>.*status=sent")
    assert "Subject: after reload" in (root / "var/mail/alice").read_text()


def test_a_killed_delivery_process_is_logged_and_started_again(root: Path) -> None:
    with Served(root) as s:
        first = delivery_process(s)
        os.kill(first, signal.SIGKILL)
        s.wait_for(rf"postfix/master\[\d+\]: warning: process /usr/lib/postfix/sbin/qmgr pid {first} exit status -9")
        send(s, "after the crash")
        s.wait_for(r"to=<alice@example.com>.*status=sent")
        assert delivery_process(s) != first
    assert "Subject: after the crash" in (root / "var/mail/alice").read_text()


def test_the_second_process_never_outlives_the_first(root: Path) -> None:
    s = Served(root)
    second = delivery_process(s)
    s.proc.kill()               # no clean stop: the pipe closes with the process
    s.proc.wait(timeout=20)
    assert wait_gone(second)
    s.stop()


def test_one_process_keeps_everything_in_one(root: Path) -> None:
    with Served(root, extra_args=("--one-process",)) as s:
        assert children(s.proc.pid) == []
        send(s, "one process")
        line = s.wait_for(r"postfix/qmgr\[(\d+)\]: \w+: from=<bob@example.com>")
        assert int(re.search(r"qmgr\[(\d+)\]", line).group(1)) < 60200
        s.wait_for(r"to=<alice@example.com>.*status=sent")
