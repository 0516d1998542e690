"""The Dovecot-like LMTP server: the sans-IO core, the store behind it, the adapter on both networks."""

from __future__ import annotations

import asyncio
import smtplib
import time
from pathlib import Path
from typing import Any

import pytest

from simlab.mua import MUA
from simlab.postfix.common.context import LAB_EPOCH
from simlab.proto.actions import Close, ConnectionInfo
from simlab.proto.lmtp_delivery import LmtpSettings, added_headers, message_date
from simlab.proto.lmtp_server import TRANSITIONS, LmtpServer, State, diagram
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root
from simlab.store.delivery import DeliverSettings, MailDeliverer
from simlab.store.lmtpd import ProcessPool, lmtp_handler
from simlab.store.mailstore import MailStore
from simlab.store.mbox import Mbox
from simlab.store.node import StoreNode
from simlab.store.quota import Quota

CONN = ConnectionInfo("10.0.0.25", 40001, "10.0.0.30", 24)
MSG = (b"From: alice@example.com\r\nSubject: hi\r\nMessage-ID: <1@pc.example.com>\r\n\r\n"
       b".leading dot\r\nbye\r\n")
WIRE = MSG.replace(b"\n.", b"\n..") + b".\r\n"     # dot-stuffed, as DATA sends it


class Lab:
    """A store root with erin and frank, a deliverer and a core factory."""

    def __init__(self, root: Path, mail_location: str = "mbox:~/mail:INBOX=/var/mail/%u") -> None:
        init_root(root, "store.example.com", users=["erin", "frank"])
        self.root = root
        self.now = LAB_EPOCH
        self.logs: list[str] = []
        self.store = MailStore(root, root / "etc/dovecot/users", "store.example.com", clock=self.clock,
                               first_pid=31090)
        self.quota = Quota(root / "etc/dovecot/users")
        self.deliverer = MailDeliverer(self.store, DeliverSettings(
            hostname="store.example.com", mail_location=mail_location), self.log, self.quota)

    def clock(self) -> float:
        return self.now

    def log(self, program: str, text: str) -> None:
        self.logs.append(f"{program}: {text}")

    def core(self, **settings: Any) -> LmtpServer:
        return LmtpServer(self.deliverer, CONN, self.clock, self.log, pid=31090,
                          settings=LmtpSettings(hostname="store.example.com", **settings))


def talk(core: LmtpServer, *chunks: bytes) -> list[str]:
    """Feed CHUNKS one by one; the reply lines the core sent, greeting included."""
    out = core.data_to_send()
    for chunk in chunks:
        core.receive_data(chunk)
        out += core.data_to_send()
    return out.decode().splitlines()


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path / "store")


def test_lmtp_server_replies_once_per_accepted_recipient(lab: Lab) -> None:
    core = lab.core()
    lines = talk(core, b"LHLO mail.example.com\r\n", b"MAIL FROM:<alice@example.com>\r\n",
                 b"RCPT TO:<erin@example.com>\r\n", b"RCPT TO:<nosuch@example.com>\r\n",
                 b"RCPT TO:<frank+lists@example.com>\r\n", b"DATA\r\n", WIRE, b"QUIT\r\n")
    sid = core.session
    assert lines == [
        "220 store.example.com Dovecot (Debian) ready.",
        "250-store.example.com", "250-8BITMIME", "250-CHUNKING", "250-ENHANCEDSTATUSCODES",
        "250 PIPELINING",
        "250 2.1.0 OK",
        "250 2.1.5 OK",
        "550 5.1.1 <nosuch@example.com> User doesn't exist: nosuch@example.com",
        "250 2.1.5 OK",
        "354 OK",
        f"250 2.0.0 <erin@example.com> {sid} Saved",
        f"250 2.0.0 <frank+lists@example.com> {sid}:2 Saved",
        "221 2.0.0 Bye",
    ]
    assert len(sid) == 22 and core.state is State.CLOSED
    assert isinstance(core.next_action(), Close)
    erin = Mbox(lab.root / "var/mail/erin").messages()
    assert len(erin) == 1 and b"\n.leading dot\nbye\n" in erin[0].data
    assert len(Mbox(lab.root / "var/mail/frank").messages()) == 1
    assert lab.logs == [
        "lmtp(31090): Info: Connect from 10.0.0.25",
        f"lmtp(erin)<31090><{sid}>: Info: msgid=<1@pc.example.com>: saved mail to INBOX",
        f"lmtp(frank)<31090><{sid}:2>: Info: msgid=<1@pc.example.com>: saved mail to INBOX",
        "lmtp(31090): Info: Disconnect from 10.0.0.25: Client has quit the connection (state=READY)",
    ]


def test_lmtp_server_adds_return_path_delivered_to_and_received(lab: Lab) -> None:
    core = lab.core()
    lab.now = LAB_EPOCH + 3
    talk(core, b"LHLO mail.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<erin@example.com>\r\n"
               b"DATA\r\n" + WIRE)
    data = Mbox(lab.root / "var/mail/erin").messages()[0].data.decode()
    assert data.startswith(
        "Return-Path: <alice@example.com>\n"
        "Delivered-To: erin@example.com\n"
        "Received: from mail.example.com ([10.0.0.25])\n"
        "\tby store.example.com with LMTP\n"
        f"\tid {core.session}\n"
        "\t(envelope-from <alice@example.com>)\n"
        "\tfor <erin@example.com>; Tue, 24 Nov 2026 13:36:53 +0000\n"
        "From: alice@example.com\n")
    many = added_headers("", ["a@x", "b@x"], "", "10.0.0.1", "h", "ID", LAB_EPOCH).decode()
    assert "Delivered-To" not in many and "for <" not in many
    assert many.endswith("\tid ID\n\t(envelope-from <>); Tue, 24 Nov 2026 13:36:50 +0000\n")
    assert "Received: from unknown ([10.0.0.1])" in many
    assert message_date(LAB_EPOCH) == "Tue, 24 Nov 2026 13:36:50 +0000"


@pytest.mark.parametrize("lines, reply", [
    (b"EHLO mail.example.com\r\n", "500 5.5.1 Unknown command"),
    (b"LHLO\r\n", "501 5.5.4 Missing hostname"),
    (b"RCPT TO:<erin@example.com>\r\n", "503 5.5.0 MAIL needed first"),
    (b"DATA\r\n", "503 5.5.0 MAIL needed first"),
    (b"MAIL FROM:<a@x.example>\r\nDATA\r\n", "554 5.5.0 No valid recipients"),
    (b"MAIL FROM:<a@x.example>\r\nMAIL FROM:<a@x.example>\r\n", "503 5.5.0 MAIL already given"),
    (b"MAIL TO:<a@x.example>\r\n", "501 5.5.4 Invalid parameters"),
    (b"MAIL FROM: <a@x.example>\r\n", "501 5.5.4 Invalid FROM: Unexpected whitespace before path"),
    (b"MAIL FROM:a@x.example\r\n", "501 5.5.4 Invalid FROM: Missing '<' at beginning of path"),
    (b"MAIL FROM:<a@x.example> SMTPUTF8\r\n", "555 5.5.4 Unsupported parameter 'SMTPUTF8'"),
    (b"MAIL FROM:<>\r\nRCPT TO:<>\r\n", "501 5.5.4 Invalid TO: Null path not allowed"),
    (b"VRFY erin\r\n", "252 2.3.3 Try RCPT instead"),
    (b"NOOP\r\n", "250 2.0.0 OK"),
    (b"MAIL FROM:<a@x.example>\r\nRSET\r\n", "250 2.0.0 OK"),
])
def test_lmtp_server_refusals_use_dovecot_texts(lab: Lab, lines: bytes, reply: str) -> None:
    out = talk(lab.core(), lines)
    assert out[-1] == reply


def test_lmtp_server_state_follows_the_transition_table(lab: Lab) -> None:
    core = lab.core()
    seen = [core.state]
    for line in (b"LHLO m.example\r\n", b"RCPT TO:<erin@example.com>\r\n", b"MAIL FROM:<a@x.example>\r\n",
                 b"RCPT TO:<nosuch@example.com>\r\n", b"RCPT TO:<erin@example.com>\r\n", b"DATA\r\n",
                 WIRE, b"MAIL FROM:<a@x.example>\r\n", b"RSET\r\n", b"QUIT\r\n"):
        core.receive_data(line)
        seen.append(core.state)
    assert [s.value for s in seen] == ["HELO", "READY", "READY", "MAIL FROM", "MAIL FROM", "RCPT TO",
                                       "DATA", "READY", "MAIL FROM", "READY", "CLOSED"]
    assert all(TRANSITIONS[(a, ev)] == b for (a, ev), b in TRANSITIONS.items())
    dot = diagram()
    assert '"RCPT TO" -> "DATA" [label="DATA"]' in dot and "connection lost" not in dot


def test_lmtp_server_bdat_chunks_and_one_reply_per_recipient(lab: Lab) -> None:
    core = lab.core()
    first, second = MSG[:20], MSG[20:]
    lines = talk(core, b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n"
                       b"RCPT TO:<frank@example.com>\r\n",
                 b"BDAT %d\r\n" % len(first) + first, b"BDAT %d LAST\r\n" % len(second) + second,
                 b"DATA\r\n")
    assert lines[-4:] == [f"250 2.0.0 Added {len(first)} octets",
                          f"250 2.0.0 <erin@example.com> {core.session} Saved",
                          f"250 2.0.0 <frank@example.com> {core.session}:2 Saved",
                          "503 5.5.0 MAIL needed first"]
    assert Mbox(lab.root / "var/mail/erin").messages()[0].data.endswith(b"\n\n.leading dot\nbye\n")


def test_lmtp_server_full_mailbox_552_after_data(lab: Lab) -> None:
    lab.quota.set("erin", "100")
    core = lab.core()
    lines = talk(core, b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n"
                       b"RCPT TO:<frank@example.com>\r\nDATA\r\n" + WIRE)
    assert lines[-2:] == [
        "552 5.2.2 <erin@example.com> Quota exceeded (mailbox for user is full)",
        f"250 2.0.0 <frank@example.com> {core.session}:2 Saved"]
    assert f"lmtp(erin)<31090><{core.session}>: Info: msgid=<1@pc.example.com>: save failed to INBOX: " \
           "Quota exceeded (mailbox for user is full)" in lab.logs
    assert not (lab.root / "var/mail/erin").exists() or not Mbox(lab.root / "var/mail/erin").messages()


def test_lmtp_server_quota_checked_at_rcpt_and_tempfail(lab: Lab) -> None:
    talk(lab.core(), b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n"
                     b"DATA\r\n" + WIRE)
    lab.quota.set("erin", lab.deliverer.usage("erin"))
    lines = talk(lab.core(rcpt_check_quota=True),
                 b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n")
    assert lines[-1] == "552 5.2.2 <erin@example.com> Quota exceeded (mailbox for user is full)"
    lines = talk(lab.core(rcpt_check_quota=True, quota_full_tempfail=True),
                 b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n")
    assert lines[-1] == "452 4.2.2 <erin@example.com> Quota exceeded (mailbox for user is full)"
    lines = talk(lab.core(quota_full_tempfail=True),
                 b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n"
                 b"DATA\r\n" + WIRE)
    assert lines[-2:] == ["354 OK",
                          "452 4.2.2 <erin@example.com> Quota exceeded (mailbox for user is full)"]


def test_quota_rules_from_the_users_file_and_sizes(lab: Lab) -> None:
    users = lab.root / "etc/dovecot/users"
    users.write_text("erin:{PLAIN}erin-pw::::::userdb_quota_rule=*:storage=1k\nfrank:{PLAIN}frank-pw\n")
    assert lab.quota.limit("erin") == 1024 and lab.quota.limit("frank") is None
    assert Quota(users, default="*:storage=10M").limit("frank") == 10 * 1024 * 1024
    lab.quota.set("frank", 0)
    assert lab.quota.limit("frank") is None          # 0 = no limit, as in Dovecot
    assert lab.deliverer.lookup("ERIN@example.com") == "erin"
    assert lab.deliverer.lookup("daemon@example.com") is None      # uid below first_valid_uid


def test_lmtp_server_into_maildir(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "store", mail_location="maildir:~/Maildir")
    talk(lab.core(), b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin@example.com>\r\n"
                     b"DATA\r\n" + WIRE)
    new = list((lab.root / "home/erin/Maildir/new").iterdir())
    assert len(new) == 1 and new[0].name.endswith(".store.example.com")
    assert new[0].read_bytes().startswith(b"Return-Path: <a@x.example>\nDelivered-To: erin@example.com\n")


def test_lmtp_server_idle_timeout_and_eof(lab: Lab) -> None:
    core = lab.core()
    core.data_to_send()
    assert core.next_action().timeout == 300.0  # type: ignore[union-attr]
    core.timeout()
    assert core.data_to_send() == b"421 4.4.2 store.example.com Disconnected for inactivity\r\n"
    core2 = lab.core()
    core2.receive_data(b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\n")
    core2.receive_data(b"")
    assert isinstance(core2.next_action(), Close)
    assert lab.logs[-1].endswith("Disconnect from 10.0.0.25: Connection closed (state=MAIL FROM)")


def _three_domains() -> tuple[Network, Any, Any, StoreNode, Any]:
    net = Network(seed=5)
    mail = net.host("mail.example.com", ip="10.0.0.25", users=["alice"])
    mx = net.host("mail.oreilly.com", ip="10.0.0.26", users=["bob", "carol"])
    store = StoreNode(net.host("store.oreilly.com", ip="10.0.0.30"), users=["bob"])
    pc = net.host("pc.example.com", ip="10.0.0.10")
    net.dns.mx("example.com", "mail.example.com")
    net.dns.mx("oreilly.com", "mail.oreilly.com")
    with open(mail.path("/etc/postfix/main.cf"), "a") as f:
        f.write("mynetworks = 10.0.0.0/24 127.0.0.0/8\n")
    with open(mx.path("/etc/postfix/main.cf"), "a") as f:
        f.write("mailbox_transport = lmtp:inet:store.oreilly.com:24\n")
    mail.start_postfix()
    mx.start_postfix()
    return net, mail, mx, store, pc


def test_lmtpd_behind_postfix_lmtp_then_pop3_and_imap() -> None:
    net, mail, mx, store, pc = _three_domains()
    alice = MUA(net, pc, "alice@example.com", smtp=("10.0.0.25", 25))
    assert alice.send_sync(to=["bob@oreilly.com", "carol@oreilly.com"], subject="Hi", body="hello\n").ok
    net.run(until=net.now + 60)
    log = net.trace.maillog("mail.oreilly.com")
    sent = [ln for ln in log if "postfix/lmtp[" in ln and "to=<bob@oreilly.com>" in ln]
    assert sent and "relay=store.oreilly.com[10.0.0.30]:24" in sent[0]
    assert "status=sent (250 2.0.0 <bob@oreilly.com> " in sent[0] and sent[0].endswith(" Saved)")
    assert any("to=<carol@oreilly.com>" in ln and "dsn=5.1.1, status=bounced (host store.oreilly.com"
               "[10.0.0.30] said: 550 5.1.1 <carol@oreilly.com> User doesn't exist: carol@oreilly.com "
               "(in reply to RCPT TO command))" in ln for ln in log)
    assert any("lmtp(bob)<" in ln and ": Info: msgid=<" in ln and "saved mail to INBOX" in ln
               for ln in store.log_lines())
    bob = MUA(net, pc, "bob@oreilly.com", smtp=("10.0.0.26", 25), user="bob", password="bob-pw",
              pop3=("10.0.0.30", 110), imap=("10.0.0.30", 143))
    over_imap = bob.imap_list_sync("INBOX")
    over_pop = bob.pop3_fetch_sync(keep=True)
    assert [m.header("Subject") for m in over_imap] == ["Hi"] == [m.header("Subject") for m in over_pop]
    raw = over_pop[0].raw.decode()
    assert raw.startswith("Return-Path: <alice@example.com>\nDelivered-To: bob@oreilly.com\n"
                          "Received: from mail.oreilly.com ([10.0.0.26])\n\tby store.oreilly.com with LMTP")
    assert raw.count("Received: from") == 3
    assert [m["Subject"] for m in store.messages("bob")] == ["Hi"]
    undelivered = mail.mailbox("alice")
    assert len(undelivered) == 1 and "carol@oreilly.com" in undelivered[0].as_string()
    net.close()


def test_lmtpd_reuses_an_idle_process_and_reads_settings_per_connection(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "store")
    pool = ProcessPool(iter(range(2000, 2100)).__next__)
    assert pool.take() == 2000 and pool.take() == 2001
    pool.give(2001)
    assert pool.take() == 2001
    net = Network(seed=1)
    host = net.host("store.example.com", ip="10.0.0.30")
    settings = {"now": LmtpSettings(hostname="one.example")}
    host.listen_streams(24, lmtp_handler(lab.deliverer, lab.clock, lab.log,
                                         settings=lambda: settings["now"]), component="lmtp")

    async def greeting() -> bytes:
        reader, writer = await host.open_connection("127.0.0.1", 24, component="client")
        line = await reader.readline()
        writer.close()
        return line

    assert net.run_sync(greeting()) == b"220 one.example Dovecot (Debian) ready.\r\n"
    net.run()
    settings["now"] = LmtpSettings(hostname="two.example")
    assert net.run_sync(greeting()) == b"220 two.example Dovecot (Debian) ready.\r\n"
    net.run()
    assert lab.logs[-1].endswith("Disconnect from 127.0.0.1: Connection closed (state=HELO)")
    net.close()


def test_lmtpd_on_a_real_socket_with_smtplib(tmp_path: Path) -> None:
    root = tmp_path / "store"
    init_root(root, "store.example.com", users=["erin"])
    logs: list[str] = []
    store = MailStore(root, root / "etc/dovecot/users", "store.example.com", clock=time.time)
    deliverer = MailDeliverer(store, DeliverSettings(hostname="store.example.com"),
                              lambda p, t: logs.append(f"{p}: {t}"))
    seen: dict[str, Any] = {}

    def client(port: int) -> None:
        with smtplib.LMTP("127.0.0.1", port) as lmtp:
            seen["lhlo"] = lmtp.ehlo("client.example")
            seen["refused"] = lmtp.sendmail("a@x.example", ["erin@example.com"], MSG)
            try:
                lmtp.sendmail("a@x.example", ["nosuch@example.com"], MSG)
            except smtplib.SMTPRecipientsRefused as exc:
                seen["nosuch"] = exc.recipients

    handle = lmtp_handler(deliverer, time.time, lambda p, t: logs.append(f"{p}: {t}"),
                          settings=LmtpSettings(hostname="store.example.com"))
    sessions: list[asyncio.Task[Any]] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sessions.append(asyncio.current_task())  # type: ignore[arg-type]
        await handle(reader, writer)

    async def main() -> None:
        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            await asyncio.get_running_loop().run_in_executor(None, client, port)
            await asyncio.gather(*sessions)
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    assert seen["lhlo"][0] == 250 and b"PIPELINING" in seen["lhlo"][1]
    assert seen["refused"] == {}
    assert seen["nosuch"] == {"nosuch@example.com": (
        550, b"5.1.1 <nosuch@example.com> User doesn't exist: nosuch@example.com")}
    assert len(Mbox(root / "var/mail/erin").messages()) == 1
    assert any("saved mail to INBOX" in line for line in logs)


def test_lmtp_server_saves_to_the_detail_folder_when_asked(lab: Lab) -> None:
    send = (b"LHLO m.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<erin+Lists@example.com>\r\n"
            b"DATA\r\n" + WIRE)
    talk(lab.core(save_to_detail_mailbox=True), send)
    assert lab.logs[-2].endswith("save failed to Lists: Mailbox doesn't exist: Lists")
    assert lab.logs[-1].endswith("saved mail to INBOX")
    lab.store.mailboxes("erin").create("Lists")
    talk(lab.core(save_to_detail_mailbox=True), send)
    assert lab.logs[-1].endswith("saved mail to Lists")
    talk(lab.core(), send)
    assert lab.logs[-1].endswith("saved mail to INBOX")
    assert len(Mbox(lab.root / "home/erin/mail/Lists").messages()) == 1
