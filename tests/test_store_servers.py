"""pop3d and imapd on real loopback sockets (poplib, imaplib) and on the virtual network."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import time
from pathlib import Path

from dovecot_harness import LogCollector, lab_root

from simlab.sim.network import Network
from simlab.store.imapd import imap_handler
from simlab.store.mailstore import MailStore
from simlab.store.pop3d import pop3_handler

LAB_EPOCH = 1795527605.0


def _serve_and_run(root: Path, client) -> LogCollector:  # type: ignore[no-untyped-def]
    """Servers on 127.0.0.1 (ephemeral ports) in this loop; the blocking client in an executor."""
    log = LogCollector()
    store = MailStore(root, root / "etc/dovecot/users", "mail.example.com", clock=time.time)

    async def main() -> None:
        pop = await asyncio.start_server(pop3_handler(store, time.time, log), "127.0.0.1", 0)
        imap = await asyncio.start_server(imap_handler(store, time.time, log), "127.0.0.1", 0)
        ports = pop.sockets[0].getsockname()[1], imap.sockets[0].getsockname()[1]
        try:
            await asyncio.get_running_loop().run_in_executor(None, client, *ports)
        finally:
            pop.close()
            imap.close()
            await pop.wait_closed()
            await imap.wait_closed()

    asyncio.run(main())
    return log


def test_servers_poplib_reads_and_deletes(tmp_path: Path) -> None:
    root = lab_root(tmp_path)
    seen: dict[str, object] = {}

    def client(pop_port: int, _imap_port: int) -> None:
        box = poplib.POP3("127.0.0.1", pop_port, timeout=10)
        seen["welcome"] = box.getwelcome()
        seen["capa"] = box.capa()
        box.user("erin")
        box.pass_("erin-pw")
        seen["stat"] = box.stat()
        seen["retr"] = box.retr(2)
        seen["top"] = box.top(1, 0)
        box.dele(1)
        seen["quit"] = box.quit()

    log = _serve_and_run(root, client)
    assert seen["welcome"] == b"+OK Dovecot (Debian) ready."
    assert "UIDL" in seen["capa"] and seen["capa"]["SASL"] == ["PLAIN", "LOGIN"]  # type: ignore[index,operator]
    assert seen["stat"] == (2, 998)
    assert seen["retr"][1][-1] == b"With a blank line above."  # type: ignore[index]
    assert seen["quit"] == b"+OK Logging out, messages deleted."
    assert "Subject: First message" not in (root / "var/mail/erin").read_text()
    assert log[0].startswith("pop3-login: Info: Login: user=<erin>, method=PLAIN, rip=127.0.0.1")
    assert "Disconnected: Logged out top=1/" in log[1] and "del=1/2, size=998" in log[1]


def test_servers_imaplib_session(tmp_path: Path) -> None:
    root = lab_root(tmp_path)
    seen: dict[str, object] = {}

    def client(_pop_port: int, imap_port: int) -> None:
        m = imaplib.IMAP4("127.0.0.1", imap_port, timeout=10)
        seen["caps"] = m.capabilities
        seen["login"] = m.login("erin", "erin-pw")
        typ, data = m.select("INBOX")
        seen["select"] = (typ, list(data))      # imaplib keeps appending to that list
        seen["search"] = m.search(None, "UNSEEN")
        seen["fetch"] = m.fetch("2", "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        seen["append"] = m.append("INBOX", "(\\Seen)", None, b"Subject: hi\r\n\r\nhello\r\n")
        seen["create"] = m.create("Archive")
        seen["copy"] = m.copy("1:2", "Archive")
        seen["list"] = m.list()
        seen["store"] = m.store("1", "+FLAGS", "(\\Deleted)")
        seen["expunge"] = m.expunge()
        seen["status"] = m.status("INBOX", "(MESSAGES UNSEEN)")
        m.logout()

    log = _serve_and_run(root, client)
    assert "IDLE" in seen["caps"] and "AUTH=PLAIN" in seen["caps"]  # type: ignore[operator]
    assert seen["login"] == ("OK", [b"Logged in"])
    assert seen["select"] == ("OK", [b"2"])
    assert seen["search"] == ("OK", [b"1 2"])
    assert seen["fetch"][1][0] == (  # type: ignore[index]
        b"2 (UID 2 RFC822.SIZE 499 BODY[HEADER.FIELDS (SUBJECT)] {27}", b"Subject: Second message\r\n\r\n")
    assert seen["append"][1][0].startswith(b"[APPENDUID ")  # type: ignore[index]
    assert seen["copy"][1][0].startswith(b"[COPYUID ") and b"1:2 1:2]" in seen["copy"][1][0]  # type: ignore[index]
    assert seen["list"][1] == [b'(\\HasNoChildren) "/" INBOX',  # type: ignore[index]
                               b'(\\NoInferiors \\Marked) "/" Archive']
    assert seen["expunge"] == ("OK", [b"1"])
    assert seen["status"] == ("OK", [b"INBOX (MESSAGES 2 UNSEEN 1)"])
    assert "Disconnected: Logged out in=" in log[-1] and "deleted=1 expunged=1" in log[-1]


def test_servers_on_the_virtual_network_spend_virtual_time(tmp_path: Path) -> None:
    net = Network(seed=1, workdir=tmp_path / "net")
    mail = net.host("mail.example.com", "10.0.0.25")
    pc = net.host("pc.example.com", "10.0.0.2")
    root = lab_root(tmp_path)

    def clock() -> float:
        return LAB_EPOCH + net.loop.time()

    log = LogCollector()
    store = MailStore(root, root / "etc/dovecot/users", mail.name, clock=clock)
    mail.listen_streams(110, pop3_handler(store, clock, log), component="pop3")
    mail.listen_streams(143, imap_handler(store, clock, log), component="imap")

    async def session() -> list[bytes]:
        lines = []
        reader, writer = await pc.open_connection("10.0.0.25", 110, component="mua")
        lines.append(await reader.readline())
        for command in (b"USER erin", b"PASS wrong", b"USER erin", b"PASS erin-pw", b"STAT", b"QUIT"):
            writer.write(command + b"\r\n")
            lines.append(await reader.readline())
        writer.close()
        reader, writer = await pc.open_connection("10.0.0.25", 143, component="mua")
        await reader.readline()
        writer.write(b"a LOGIN erin erin-pw\r\nb EXAMINE INBOX\r\nc LOGOUT\r\n")
        while not (line := await reader.readline()).startswith(b"c "):
            lines.append(line)
        lines.append(line)
        return lines

    started = time.monotonic()
    lines = net.run_sync(session())
    assert time.monotonic() - started < 5           # 2 s failure delay + 4 s penalty: virtual
    assert lines[2] == b"-ERR [AUTH] Authentication failed.\r\n"
    assert lines[5] == b"+OK 2 998\r\n"
    assert net.now >= 6.0
    assert lines[-1].startswith(b"c OK Logout completed (0.001 + 0.000 secs)")
    assert "rip=10.0.0.2, lip=10.0.0.25, mpid=" in log[0] and "secured" not in log[0]
    net.close()
