"""The reference battery's SMTP scenarios over real loopback sockets, against ``simlab serve``.

One ``simlab serve`` process runs the lab host (postfix_lab.make_root: the lab's
main.cf, master.cf and tables). Its port-25 service moves to a free port with
--smtp; the lab's four other smtpd listeners (127.0.0.1:2525, 2527, 2523,
2522 in master.cf) move together with --port-offset N to ports that are free.
Every scenario is replayed with Python's smtplib: each recorded client chunk
is sent as is (``SMTP.send``), and the replies Postfix sent before the next
chunk are read with ``SMTP.getreply``; the server lines must be Postfix's,
queue ids aside. A handful of plain transactions go through Debian's swaks
too (``--no-data-fixup``: the recorded message bytes): the server lines of
its transcript must be Postfix's, qmgr must log the reference's size, and
the mailboxes on disk must receive what Postfix delivered (dates and queue
ids aside).

The lab's smtp-sinks are not started here: relayed mail waits in the queue,
which does not change any server line.
"""

from __future__ import annotations

import re
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from _delivery_lab import normalize, split_mbox
from postfix_lab import LISTENERS, load, make_root, mask, scenarios
from servehelper import Served

SCENARIOS = [p.stem for p in scenarios()]


def free_offset(ports: list[int], tries: int = 200) -> int:
    """An N such that every port + N is free on 127.0.0.1 now."""
    import random
    rng = random.Random()
    for _ in range(tries):
        n = rng.randrange(10000, 60000 - max(ports))
        socks = []
        try:
            for p in ports:
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p + n))
            return n
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range for the lab's listeners")


class Lab:
    """The served lab and the real port of each of its listeners."""

    def __init__(self, served: Served, offset: int) -> None:
        self.served = served
        self.offset = offset

    def port(self, listener: str) -> int:
        port = LISTENERS[listener]
        return self.served.ports["smtp"] if port == 25 else port + self.offset


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = make_root(tmp_path_factory.mktemp("serve"))
    others = [p for p in LISTENERS.values() if p != 25]
    offset = free_offset(others)
    with Served(root, extra_args=("--port-offset", str(offset))) as served:
        yield Lab(served, offset)


def reply_lines(code: int, message: bytes) -> list[str]:
    """The lines of one reply, rebuilt from what smtplib returns."""
    texts = message.decode("utf-8", "surrogateescape").split("\n")
    out = []
    for i, text in enumerate(texts):
        sep = "-" if i < len(texts) - 1 else " "
        out.append(f"{code:03d}{sep}{text}" if text else f"{code:03d}")
    return out


def smtplib_replay(port: int, scenario: dict[str, Any], timeout: float = 20.0) -> tuple[list[str], list[str]]:
    """Replay the scenario's client chunks with smtplib; returns (expected, got) server lines."""
    client = smtplib.SMTP(timeout=timeout)
    client._host = "127.0.0.1"        # what connect() sets; the connection is opened by hand so that
    client.sock = socket.create_connection(("127.0.0.1", port), timeout)  # a client may talk first
    expected: list[str] = []
    got: list[str] = []

    def catch_up() -> None:
        while len(got) < len(expected):
            if client.sock is None:
                got.append("<EOF>")
                continue
            try:
                code, message = client.getreply()
            except smtplib.SMTPServerDisconnected:
                got.append("<EOF>")
                continue
            got.extend(reply_lines(code, message))

    try:
        for step in scenario["transcript"]:
            if step["dir"] == "S" and "line" in step:
                expected.append(step["line"])
            elif step["dir"] == "S" and step.get("event") == "connection closed by server":
                expected.append("<EOF>")
            elif step["dir"] == "C" and "data" in step:
                catch_up()
                if client.sock is not None:
                    try:
                        client.send(step["data"].encode("utf-8", "surrogateescape"))
                    except smtplib.SMTPServerDisconnected:
                        pass          # the server hung up first, as it did for Postfix ("Broken pipe")
            elif step["dir"] == "C" and step.get("event") == "client closed connection":
                catch_up()
                client.close()
        catch_up()
    finally:
        client.close()
    return expected, got


@pytest.mark.parametrize("name", SCENARIOS)
def test_serve_server_lines(lab: Lab, name: str) -> None:
    lab.served.drain()
    sc = load(name)
    expected, got = smtplib_replay(lab.port(sc["listener"]), sc)
    assert [mask(x) for x in got] == [mask(x) for x in expected]


# -- swaks -------------------------------------------------------------------------------------
def plain_transaction(sc: dict[str, Any]) -> dict[str, Any] | None:
    """EHLO, MAIL, RCPT..., [DATA, message], QUIT, one command per write: what swaks sends."""
    chunks = [t["data"] for t in sc["transcript"] if "data" in t]
    if len(chunks) < 4 or chunks[-1] != "QUIT\r\n":
        return None
    helo = re.fullmatch(r"EHLO (\S+)\r\n", chunks[0])
    mail = re.fullmatch(r"MAIL FROM:<([^>]*)>\r\n", chunks[1])
    rcpts = [re.fullmatch(r"RCPT TO:<([^>]+)>\r\n", c) for c in chunks[2:-1]]
    n = next((i for i, m in enumerate(rcpts) if m is None), len(rcpts))
    rest = chunks[2 + n:-1]
    if not helo or not mail or n == 0:
        return None
    if rest and (len(rest) != 2 or rest[0] != "DATA\r\n" or not rest[1].endswith("\r\n.\r\n")):
        return None
    message = rest[1] if rest else None
    return {"helo": helo.group(1), "from": mail.group(1), "to": [m.group(1) for m in rcpts[:n]],
            "data": message[:-2] if message else None}        # swaks -ndf adds the last CRLF


SWAKS = ["07_local_user_no_headers", "08_local_user_from_outside", "16_virtual_alias_multi",
         "22_address_forms_local", "26_unknown_virtual_mailbox", "68_null_sender"]


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is installed by ./dev test")
@pytest.mark.parametrize("name", SWAKS)
def test_serve_swaks_transcript(lab: Lab, tmp_path: Path, name: str) -> None:
    lab.served.drain()
    sc = load(name)
    tx = plain_transaction(sc)
    assert tx is not None, "not a transaction swaks sends byte for byte"
    args = ["swaks", "--server", "127.0.0.1", "--port", str(lab.port(sc["listener"])),
            "--helo", tx["helo"], "--from", tx["from"] or "<>", "--to", ",".join(tx["to"]),
            "--timeout", "20"]
    if tx["data"] is not None:
        body = tmp_path / "message"
        body.write_bytes(tx["data"].encode("utf-8", "surrogateescape"))
        args += ["--no-data-fixup", "--data", f"@{body}"]      # the bytes as they are
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    server = [ln[4:] for ln in out.stdout.splitlines() if ln.startswith(("<-  ", "<** "))]
    sent = [ln[4:] for ln in out.stdout.splitlines() if ln.startswith(" -> ")]
    expected = [t["line"] for t in sc["transcript"] if "line" in t]
    assert sent[:2] == [f"EHLO {tx['helo']}", f"MAIL FROM:<{tx['from']}>"], out.stdout
    assert [mask(x) for x in server] == [mask(x) for x in expected], out.stdout
    queued = re.search(r"queued as (\w+)", out.stdout)
    if not queued:
        return
    qid = queued.group(1)
    # the same bytes as the reference client sent: qmgr logs the same size
    ref_size = re.search(r"size=(\d+)", next(ln for ln in sc["mail_log"] if "(queue active)" in ln)).group(1)
    assert f"size={ref_size}," in lab.served.wait_for(rf"{qid}: from=<[^>]*>, size=\d+")
    # and the mailboxes on disk get what Postfix wrote (this message's part of each file)
    lab.served.wait_for(rf"{qid}: removed")
    for dl in sc["deliveries"]:
        mine = split_mbox((lab.served.root / dl["file"]).read_text())
        ours = sorted(normalize(m) for m in mine if f" id {qid}\n" in m or f" id {qid};" in m)
        assert ours == sorted(normalize(m) for m in split_mbox(dl["content"])), dl["file"]


def test_plain_transaction_shapes() -> None:
    assert plain_transaction(load("07_local_user_no_headers"))["to"] == ["alice@example.com"]
    assert plain_transaction(load("26_unknown_virtual_mailbox"))["data"] is None
    assert plain_transaction(load("71_bdat_chunking")) is None
    assert plain_transaction(load("28_relay_denied_outside")) is None


def test_serve_moves_every_lab_listener(lab: Lab) -> None:
    ready = next(ln for ln in lab.served.lines if ln.startswith("simlab serve: ready"))
    for listener in LISTENERS:
        assert f"127.0.0.1:{lab.port(listener)}," in ready + ",", listener
    assert "127.0.0.1:2525," not in ready + ","       # master.cf's port is not taken
