"""The mail client reading erin's mailbox from the Dovecot lookalike over POP3 and IMAP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from simlab.mua import MUA, MailClientError
from simlab.postfix.common.context import LAB_EPOCH, VirtualClock
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root
from simlab.store.mbox import Mbox

pop3d = pytest.importorskip("simlab.store.pop3d")
from simlab.proto.imap import ImapServer  # noqa: E402
from simlab.store.adapter import connection_info, run_core  # noqa: E402
from simlab.store.mailstore import MailStore  # noqa: E402


@pytest.fixture
def lab() -> Any:
    net = Network(seed=3)
    mail = net.host("mail.example.com", ip="10.0.0.25")
    pc = net.host("pc.example.com", ip="10.0.0.10")
    init_root(mail.root, "mail.example.com", users=["erin"])
    box = Mbox(mail.path("/var/mail/erin"))
    box.path.parent.mkdir(parents=True, exist_ok=True)
    box.append(b"From: bob@example.com\nTo: erin@example.com\nSubject: first\n\nhello erin\n",
               "bob@example.com", LAB_EPOCH)
    box.append(b"From: carol@example.com\nSubject: second\n\n.leading dot\n", "carol@example.com",
               LAB_EPOCH + 60)
    clock = VirtualClock(net.loop).now
    store = MailStore(mail.root, mail.path("/etc/dovecot/users"), mail.name, clock=clock)
    logs: list[str] = []

    def log(program: str, text: str) -> None:
        logs.append(f"{program}: {text}")

    mail.listen_streams(110, pop3d.pop3_handler(store, clock, log), component="pop3")

    async def imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await run_core(ImapServer(store, connection_info(writer), clock, log), reader, writer)

    mail.listen_streams(143, imap, component="imap")
    erin = MUA(net, pc, "erin@example.com", smtp=("10.0.0.25", 25), user="erin", password="erin-pw")
    yield net, erin
    net.close()


def test_mua_pop3_keep_then_delete(lab: Any) -> None:
    net, erin = lab
    inbox = erin.pop3_fetch_sync(keep=True)
    assert [m.header("Subject") for m in inbox] == ["first", "second"]
    assert inbox[1].message.get_content() == ".leading dot\n"
    assert len(erin.pop3_fetch_sync(keep=False)) == 2
    assert erin.pop3_fetch_sync() == []
    erin.password = "wrong"
    with pytest.raises(MailClientError, match=r"Authentication failed"):
        erin.pop3_fetch_sync()


def test_mua_imap_folders_flags_and_store(lab: Any) -> None:
    net, erin = lab
    assert "INBOX" in erin.imap_folders_sync()
    inbox = erin.imap_list_sync("INBOX")
    assert [m.header("Subject") for m in inbox] == ["first", "second"]
    assert all("\\Seen" not in m.flags for m in inbox)           # BODY.PEEK marks nothing
    erin.imap_store_sync(inbox[0].uid, ["\\Flagged", "\\Seen"])
    again = erin.imap_list_sync()
    assert {"\\Flagged", "\\Seen"} <= again[0].flags and "\\Seen" not in again[1].flags
    table = erin.inbox_table()
    assert table[0]["subject"] == "first" and "\\Flagged" in table[0]["flags"]
