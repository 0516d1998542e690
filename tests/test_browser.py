"""The SMTP console page in a real browser: headless Chromium, driven by Playwright.

Needs Debian's ``chromium`` (/usr/bin/chromium) and ``playwright`` from PyPI; Playwright only
drives that binary (``executable_path``), it never downloads a browser of its own.

- JupyterLab on 127.0.0.1 opens notebooks/smtp-console.ipynb; Run -> Run All Cells; an SMTP
  dialog is typed into the console; the composer sends a message and Bob's mailbox shows both.
- Chapter 2 (notebooks/02-prerequisites.ipynb) runs in JupyterLab; the book's telnet session,
  with the exercise's refused recipient, is typed into its SMTP console, and the exercise's
  check cell, run again with Shift+Enter as a student would, shows success.
- Voilà (when installed) serves the same notebook as a stand-alone page, as in class.

Assertions are on what the page shows; screenshots go to the test's tmp_path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "smtp-console.ipynb"
CHAPTER2 = NOTEBOOK.with_name("02-prerequisites.ipynb")
SERVER_START_S = 40.0
UI_TIMEOUT_MS = 30_000
RUN_ALL_TIMEOUT_MS = 60_000       # a whole chapter, simlab serve included

if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright; no browser download)")
expect = sync_api.expect


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_answers(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200 and "started" in json.load(resp)
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False
    return probe


def port_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            return False
    return probe


@contextmanager
def server(cmd: list[str], tmp_path: Path, ready: Callable[[], bool], notebook: Path = NOTEBOOK) -> Iterator[None]:
    """Run ``cmd`` in tmp_path/root (holding a copy of ``notebook``) with private Jupyter dirs until the block ends."""
    root, config, runtime = tmp_path / "root", tmp_path / "config", tmp_path / "runtime"
    for d in (root, config / "labconfig", runtime):
        d.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, root / notebook.name)
    # the news toast would cover the page
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(runtime), MPLBACKEND="Agg",
               SIMLAB_NOTEBOOK_TMP=str(tmp_path))
    env.pop("JUPYTER_DATA_DIR", None)     # the default data path holds the venv's python3 kernel spec
    log = tmp_path / f"{Path(cmd[2] if cmd[1] == '-m' else cmd[0]).name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not ready():
            if time.monotonic() > deadline:
                pytest.fail(f"{cmd[:3]} did not answer within {SERVER_START_S:g} s:\n{tail(log)}")
            try:
                rc = proc.wait(timeout=0.25)      # doubles as the pause between two probes
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"{cmd[:3]} exited with {rc} before answering:\n{tail(log)}")
        yield
    finally:
        proc.terminate()                  # both servers shut their kernels down on SIGTERM
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


@contextmanager
def browser_page() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1400})
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


class Console:
    """The SMTP console widget on a page (or inside one cell of it)."""

    def __init__(self, page, root=None) -> None:  # noqa: ANN001 - a playwright Page and Locator
        self.page = page
        root = root or page
        self.transcript = root.locator(".widget-html", has_text="S: 220 mail.example.com ESMTP").first
        expect(self.transcript).to_be_visible()
        # the first console on the page is the SMTP one (later cells may add POP3/IMAP consoles)
        self.line = root.locator(".widget-text input[placeholder^='type a command']").first
        expect(self.line).to_be_visible()

    def say(self, text: str, answer: str | re.Pattern[str] | None = None) -> None:
        self.line.fill(text)
        self.line.press("Enter")
        expect(self.line).to_have_value("")          # the kernel took the line and cleared the field
        if answer:
            expect(self.transcript).to_contain_text(answer)


def jupyterlab(tmp_path: Path, notebook: Path = NOTEBOOK):  # noqa: ANN201 - the server's context manager and url
    """JupyterLab on a free port of 127.0.0.1 with a token, serving a copy of ``notebook``."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp_path / 'root'}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
           f"--LabApp.user_settings_dir={tmp_path / 'settings'}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    url = f"http://127.0.0.1:{port}"
    return (server(cmd, tmp_path, api_answers(f"{url}/api/status?token={token}"), notebook),
            f"{url}/lab/tree/{notebook.name}?token={token}")


def run_all(page, url: str) -> None:  # noqa: ANN001 - a playwright Page
    page.goto(url)
    # the toolbar says idle before a kernel exists; the status bar names the kernel once it runs
    expect(page.get_by_text(re.compile(r"\(ipykernel\) \| Idle"))).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item:visible").filter(
        has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))).click()


def test_smtp_console_page_in_jupyterlab(tmp_path: Path) -> None:
    lab, url = jupyterlab(tmp_path)
    with lab, browser_page() as page:
        run_all(page, url)
        # the page also holds POP3 and IMAP consoles: work inside the SMTP console's output only
        smtp = page.locator(".jp-OutputArea-output").filter(has_text="S: 220 mail.example.com ESMTP").first
        console = Console(page, root=smtp)
        console.say("EHLO client.example.com", "S: 250-PIPELINING")
        console.say("MAIL FROM:<alice@example.com>", "S: 250 2.1.0 Ok")
        console.say("RCPT TO:<bob@example.com>", "S: 250 2.1.5 Ok")
        console.say("DATA", "S: 354 End data with <CR><LF>.<CR><LF>")
        console.say("Subject: typed in the browser")
        smtp.locator("button.jupyter-button", has_text="empty line").click()
        expect(console.transcript).to_contain_text(re.compile(r"C: Subject: typed in the browser\s+[\d.]+\s+C:\s*$"))
        console.say("Hello Bob, this came through the SMTP console.")
        console.say(".", "250 2.0.0 Ok: queued as")
        expect(page.get_by_text(re.compile(r"^S: 250 2\.0\.0 Ok: queued as \w+$"))).to_be_visible()
        expect(smtp.locator(".widget-html", has_text="The envelope the server holds")).to_contain_text(
            "bob@example.com")
        console.say("QUIT", "S: 221 2.0.0 Bye")
        expect(page.get_by_text("S: 221 2.0.0 Bye")).to_be_in_viewport()   # the transcript keeps the end in sight
        expect(smtp.locator(".widget-html", has_text="Tutor")).to_contain_text("Next: The session is over")
        smtp.screenshot(path=str(tmp_path / "console.png"))
        page.screenshot(path=str(tmp_path / "page-console.png"))

        send = page.locator("button.jupyter-button.mod-primary").filter(has_text=re.compile(r"^Send$"))
        send.click()
        expect(page.get_by_text(re.compile(r"Accepted: queued as \w+"))).to_be_visible()
        expect(page.get_by_text("Mailbox: bob on mail.example.com, read over IMAP (port 143)")).to_be_visible()
        page.locator("button.jupyter-button", has_text="Read mailbox").click()
        messages = page.locator(".widget-select select")
        expect(messages.locator("option")).to_have_count(2)
        expect(messages.locator("option").nth(1)).to_have_text("2. alice@example.com — Hello from the composer")
        view = page.locator(".widget-html", has_text="flags:")
        expect(view).to_contain_text("typed in the browser")          # message 1: the console's
        expect(view).to_contain_text("Hello Bob, this came through the SMTP console.")
        messages.select_option(index=1)
        expect(view).to_contain_text("this one was sent by a mail program")
        expect(view).to_contain_text(re.compile(r"Delivered-To:\s*bob@example.com"))  # added at delivery
        page.locator(".jp-OutputArea-output", has=send).screenshot(path=str(tmp_path / "composer.png"))
        page.screenshot(path=str(tmp_path / "page-composer.png"))
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0


# The book's session (chapter 2, concept 19) as exercise 4 wants it: bob gets 250, mallory 550, a message queued.
BOOK_SESSION: list[tuple[str, str]] = [
    ("HELO mail.oreilly.com", r"S: 250 mail\.example\.com"),
    ("MAIL FROM:<service@oreilly.com>", r"S: 250 2\.1\.0 Ok"),
    ("RCPT TO:<bob@example.com>", r"S: 250 2\.1\.5 Ok"),
    ("RCPT TO:<mallory@example.com>", r"S: 550 5\.1\.1 <mallory@example\.com>: Recipient address rejected: .+"),
    ("DATA", r"S: 354 End data with <CR><LF>\.<CR><LF>"),
    ("Date: Mon, 8 Apr 2003 15:38:21 -0500", ""),
    ("From: Customer Service <service@oreilly.com>", ""),
    ("To: <bob@example.com>", ""),
    ("Reply-To: <service@oreilly.com>", ""),
    ("Message-ID: <01a4e2238200842@mail.oreilly.com>", ""),
    ("Subject: Have you read RFC 2822?", ""),
    ("", ""),
    ("This is the start of the body of the message. It could continue for many lines, but it doesn't.", ""),
    (".", r"S: 250 2\.0\.0 Ok: queued as \w+"),
    ("quit", r"S: 221 2\.0\.0 Bye"),
]


def test_chapter2_telnet_exercise_in_jupyterlab(tmp_path: Path) -> None:
    lab, url = jupyterlab(tmp_path, CHAPTER2)
    with lab, browser_page() as page:
        run_all(page, url)
        check = page.locator(".jp-CodeCell").filter(
            has=page.locator(".jp-InputArea-editor", has_text=re.compile(r"^\s*ex4\.check\(world\);?\s*$")))
        expect(check).to_have_count(1)
        # Run All is over when the last cell, the quiz, is on the page; the untouched exercise does not pass yet
        expect(page.get_by_text("Chapter 2 quiz")).to_be_visible(timeout=RUN_ALL_TIMEOUT_MS)
        expect(check.locator(".jp-OutputArea-output")).to_contain_text("Not yet")

        cell = page.locator(".jp-CodeCell", has=page.locator("input[placeholder^='type a command']"))
        expect(cell).to_have_count(1)
        console = Console(page, cell)          # it shows the book's session, typed by the notebook
        rows = console.transcript.locator("span")

        def typed(line: str, reply: str) -> None:
            """Type ``line``; the transcript gains one more row ``reply`` (or echoes the line)."""
            row = rows.filter(has_text=re.compile("^" + (reply or re.escape(f"C: {line}".rstrip())) + r"\s*$"))
            before = row.count()
            if line:
                console.say(line)
            else:
                cell.locator("button.jupyter-button", has_text="empty line").click()
            expect(row).to_have_count(before + 1)

        cell.locator("button.jupyter-button", has_text=re.compile(r"^Connect$")).click()
        expect(rows.filter(has_text=re.compile(r"^S: 220 mail\.example\.com ESMTP"))).to_have_count(2)
        for line, reply in BOOK_SESSION:
            typed(line, reply)
        expect(cell.locator(".widget-html", has_text="Tutor")).to_contain_text("Next: The session is over")
        cell.locator(".jp-OutputArea-output", has=page.locator("input[placeholder^='type a command']")).screenshot(
            path=str(tmp_path / "ch2-console.png"))

        # the student runs the check cell again: click into it, Shift+Enter
        check.locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        result = check.locator(".jp-OutputArea-output")
        expect(result).to_contain_text("Well done: the check passes.")
        expect(result).to_have_count(1)                                      # shown once, not twice
        expect(result.locator("div[style*='color:#2ca02c']")).to_be_visible()  # in green
        check.screenshot(path=str(tmp_path / "ch2-check.png"))
        page.screenshot(path=str(tmp_path / "page-ch2.png"))
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0


@pytest.mark.skipif(importlib.util.find_spec("voila") is None, reason="voila is not installed (the course extra)")
def test_smtp_console_page_in_voila(tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", "--Voila.ip=127.0.0.1",
           f"--port={port}", "--Voila.port_retries=0"]
    with server(cmd, tmp_path, port_open(port)), browser_page() as page:
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_role("heading", name="Talk to a mail server yourself: the SMTP console")).to_be_visible()
        console = Console(page)
        console.say("EHLO projector.example.com", "S: 250-PIPELINING")
        console.say("RCPT TO:<bob@example.com>", "S: 503 5.5.1 Error: need MAIL command")
        expect(page.locator(".widget-html", has_text="Tutor").first).to_contain_text("503")
        assert page.get_by_text("ComposerModel(").count() == 0          # a page for class: no code
        expect(page.locator("button.jupyter-button", has_text="Read mailbox")).to_be_visible()
        page.screenshot(path=str(tmp_path / "voila.png"), full_page=True)
