"""Run ``simlab serve`` as a real process on 127.0.0.1 for a test, and stop it afterwards.

Readiness is explicit: the server prints ``simlab serve: ready`` on stderr once every
listener is bound; with ``-v`` every maillog line follows on stderr, so a test waits for a
delivery by reading lines until the one it needs (``wait_log``), never by sleeping.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SERVICES = ("smtp", "submission", "pop3", "imap")


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Served:
    """A running ``simlab serve --root ROOT -v`` with its ports and its stderr lines."""

    def __init__(self, root: Path, timeout: float = 20.0, extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.ports = dict(zip(SERVICES, free_ports(len(SERVICES))))
        args = [sys.executable, "-m", "simlab", "serve", "--root", str(root), "-v", *extra_args]
        for name, port in self.ports.items():
            args += [f"--{name}", f"127.0.0.1:{port}"]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.lines: list[str] = []
        self._sel = selectors.DefaultSelector()
        assert self.proc.stderr is not None
        self._sel.register(self.proc.stderr, selectors.EVENT_READ)
        self._buf = b""
        self.wait_for(r"simlab serve: ready", timeout)

    def _read_line(self, deadline: float) -> str | None:
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                return None
            chunk = os.read(self.proc.stderr.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                return None
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        text = line.decode("utf-8", "replace")
        self.lines.append(text)
        return text

    def drain(self) -> None:
        """Take in what the server wrote so far, without waiting (a long run must not fill the pipe)."""
        while self._sel.select(0):
            chunk = os.read(self.proc.stderr.fileno(), 65536)  # type: ignore[union-attr]
            if not chunk:
                return
            self._buf += chunk
            while b"\n" in self._buf:
                line, self._buf = self._buf.split(b"\n", 1)
                self.lines.append(line.decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float = 20.0, start: int = 0) -> str:
        """Block until a stderr line matches ``pattern`` (also one already read after ``start``)."""
        rx = re.compile(pattern)
        for line in self.lines[start:]:
            if rx.search(line):
                return line
        deadline = time.monotonic() + timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; got:\n" + "\n".join(self.lines))
            if rx.search(line):
                return line

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.wait_for(r"simlab serve: stopped", timeout=20)
            finally:
                self.proc.wait(timeout=20)
        self._sel.close()
        return self.proc.returncode

    def __enter__(self) -> "Served":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
