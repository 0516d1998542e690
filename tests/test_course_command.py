"""`./dev course` (the README's first command) opens JupyterLab on the tour notebook."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from servehelper import free_ports

ROOT = Path(__file__).resolve().parent.parent


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kw):  # noqa: ANN002, ANN003 - urllib's signature
        return None


def test_dev_course_opens_the_tour(tmp_path: Path) -> None:
    port, token = free_ports(1)[0], secrets.token_hex(8)
    args = ["./dev", "course", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        opener = urllib.request.build_opener(NoRedirect)
        # JupyterLab prints its "is running at" URL before its socket listens (measured: a request
        # right after that line can be refused), so there is no readiness line to wait for: poll, bounded
        deadline = time.monotonic() + 60
        while True:
            try:
                opener.open(f"http://127.0.0.1:{port}/?token={token}", timeout=5)
            except urllib.error.HTTPError as e:
                if e.code == 302:
                    location = e.headers["Location"]
                    break
                raise
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.2)
        assert location.startswith("/lab/tree/00-lab-tour.ipynb") or "/lab/tree/00-lab-tour.ipynb" in location
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/00-lab-tour.ipynb?content=0&token={token}",
                                    timeout=10) as r:
            assert b'"name": "00-lab-tour.ipynb"' in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
