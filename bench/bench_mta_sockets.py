"""NAME
    bench_mta_sockets - simlab serve under Postfix's smtp-source, against aiosmtpd's Sink

SUMMARY
    .venv/bin/python bench/bench_mta_sockets.py [--runs 3] [--messages 2000] [--sessions 10]
                                                [--size 2048]

DESCRIPTION
    Issue 4's real-socket benchmark. Each run makes a fresh host root
    (``simlab init``), starts ``simlab serve`` on free loopback ports and
    points Postfix's own load generator at it:

        smtp-source -s 10 -m N -l 2048 -f bench@example.net -t alice@example.com 127.0.0.1:PORT

    one new connection per message (smtp-source's default), 10 sessions at
    once, 2 KB messages, delivered by local(8) to /var/mail/alice. Two
    rates are measured: *accepted* (messages / wall time until smtp-source
    exits: every message had its 250) and *end to end* (until the queue is
    empty and the mailbox holds all N messages, which is checked).

    In the same run the same smtp-source command goes to aiosmtpd's bare
    ``Sink`` handler (``python -m aiosmtpd -n -c aiosmtpd.handlers.Sink``),
    the ceiling for a Python SMTP server on this machine. The goal: simlab's
    end-to-end rate >= 0.5 x the Sink's rate (medians).

    serve runs as its users run it: fsync before every 250, as Postfix does,
    and qmgr with the delivery agents in a second process (as Postfix runs
    its programs as processes); the same run with --one-process is printed
    beside it.

    smtp-source comes from Debian's ``postfix`` package, installed for the
    binary only: never start that Postfix (see bench/README.md).

    Not a test: run it by hand on a quiet machine and quote the medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
SENDER, RCPT, USER = "bench@example.net", "alice@example.com", "alice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: rc={proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def smtp_source(port: int, a: argparse.Namespace) -> float:
    """Run smtp-source once; returns its wall time."""
    cmd = ["smtp-source", "-s", str(a.sessions), "-m", str(a.messages), "-l", str(a.size),
           "-f", SENDER, "-t", RCPT, f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"smtp-source failed (rc={res.returncode}): {res.stderr.strip()[-300:]}")
    return wall


def queue_empty(root: Path) -> bool:
    spool = root / "var/spool/postfix"
    for q in ("maildrop", "incoming", "active", "deferred"):
        for _dirpath, _dirs, files in os.walk(spool / q):
            if any(not f.startswith(".") for f in files):
                return False
    return True


def mbox_count(path: Path) -> int:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    return data.startswith(b"From ") + data.count(b"\n\nFrom ")


def run_simlab(a: argparse.Namespace, extra: tuple[str, ...] = ()) -> tuple[float, float]:
    """(accepted/s, end-to-end/s) of one run against a fresh simlab serve."""
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp) / "mx"
        subprocess.run([PY, "-m", "simlab", "init", str(root), "--hostname", "mail.example.com",
                        "--user", USER], check=True, stdout=subprocess.DEVNULL)
        ports = {name: free_port() for name in ("smtp", "submission", "pop3", "imap")}
        cmd = [PY, "-m", "simlab", "serve", "--root", str(root), *extra]
        for name, port in ports.items():
            cmd += [f"--{name}", f"127.0.0.1:{port}"]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(ports["smtp"], server)
            t0 = time.perf_counter()
            wall = smtp_source(ports["smtp"], a)
            mbox = root / "var/mail" / USER
            deadline = time.perf_counter() + 600
            while not (queue_empty(root) and mbox_count(mbox) >= a.messages):
                if time.perf_counter() > deadline or server.poll() is not None:
                    raise RuntimeError("simlab serve did not deliver every message")
                time.sleep(0.02)
            e2e = time.perf_counter() - t0
            got = mbox_count(mbox)
            if got != a.messages:
                raise RuntimeError(f"mailbox holds {got} messages, expected {a.messages}")
        finally:
            stop(server)
    return a.messages / wall, a.messages / e2e


def run_sink(a: argparse.Namespace) -> float:
    """accepted/s of aiosmtpd's Sink handler under the same smtp-source command."""
    port = free_port()
    server = subprocess.Popen([PY, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                               "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server)
        wall = smtp_source(port, a)
    finally:
        stop(server)
    return a.messages / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1].strip())
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--size", type=int, default=2048)
    a = ap.parse_args()
    if shutil.which("smtp-source") is None:
        sys.exit("smtp-source not found: install Debian's postfix package for the binary (bench/README.md)")
    acc, e2e, sink, one = [], [], [], []
    for i in range(a.runs):
        r_acc, r_e2e = run_simlab(a)
        acc.append(r_acc)
        e2e.append(r_e2e)
        one.append(run_simlab(a, ("--one-process",))[1])
        sink.append(run_sink(a))
        print(f"run {i + 1}: simlab accepted {r_acc:7.0f}/s  end-to-end {r_e2e:7.0f}/s  "
              f"(--one-process {one[-1]:7.0f}/s)   aiosmtpd Sink {sink[-1]:7.0f}/s", flush=True)
    ma, me, ms = statistics.median(acc), statistics.median(e2e), statistics.median(sink)
    print()
    print(f"smtp-source -s {a.sessions} -m {a.messages} -l {a.size}, {a.runs} runs")
    print(f"{'server':<34}{'median msg/s':>13}{'min':>8}{'max':>8}")
    print(f"{'simlab serve, accepted':<34}{ma:>13.0f}{min(acc):>8.0f}{max(acc):>8.0f}")
    print(f"{'simlab serve, end to end (mbox)':<34}{me:>13.0f}{min(e2e):>8.0f}{max(e2e):>8.0f}")
    print(f"{'  the same, --one-process':<34}{statistics.median(one):>13.0f}{min(one):>8.0f}{max(one):>8.0f}")
    print(f"{'aiosmtpd Sink (baseline)':<34}{ms:>13.0f}{min(sink):>8.0f}{max(sink):>8.0f}")
    print(f"{'ratio end-to-end / Sink':<34}{me / ms:>13.2f}")
    print(f"{'ratio accepted / Sink':<34}{ma / ms:>13.2f}")
    print(f"goal: end-to-end >= 0.5 x Sink: {'met' if me / ms >= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
