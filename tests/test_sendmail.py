"""sendmail/postdrop into the maildrop (also while Postfix is stopped), and pickup later."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from _queue_lab import run
from simlab import Network
from simlab.postfix.commands import postcat, sendmail
from simlab.postfix.commands.cmdutil import load_context
from simlab.postfix.common.queue import QueueStore
from simlab.postfix.master import current_process, services
from simlab.postfix.system import PostfixSystem
from simlab.sim.rootfs import init_root

DOWN = "postdrop: warning: unable to look up public/pickup: No such file or directory\n"


class Qmgr:
    """Stands in for qmgr: these tests stop at the incoming queue."""

    def __init__(self, ctx: Any, svc: Any) -> None:
        self.pid = current_process().pid

    async def run(self) -> None:
        await asyncio.Event().wait()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_root(tmp_path / "mail", "mail.example.com")


def maildrop(root: Path) -> tuple[QueueStore, list[str]]:
    store = QueueStore(load_context(root))
    return store, store.list("maildrop")


def test_sendmail_drops_mail_while_postfix_is_stopped(root: Path) -> None:
    rc, out, err = run(sendmail, ["--root", str(root), "-f", "bob@example.com", "alice@example.com"],
                       "Subject: via sendmail\r\n\r\nbody line\r\n.\r\nnot read\r\n")
    assert (rc, out, err) == (0, "", DOWN)
    store, ids = maildrop(root)
    assert len(ids) == 1
    qf = store.read("maildrop", ids[0])
    assert qf.sender == "bob@example.com" and [r.address for r in qf.recipients] == ["alice@example.com"]
    assert qf.content == b"Subject: via sendmail\n\nbody line\n"
    assert qf.fullname == "root" and qf.attrs["rewrite_context"] == "local"
    assert oct(store.locate("maildrop", ids[0]).stat().st_mode & 0o777) == "0o444"
    text = run(postcat, ["--root", str(root), "-q", ids[0]])[1]
    assert text.startswith(f"*** ENVELOPE RECORDS maildrop/{ids[0]} ***\nmessage_arrival_time: ")
    assert "sender_fullname: root\nsender: bob@example.com\n" in text


def test_sendmail_t_extracts_recipients_and_i_keeps_dots(root: Path) -> None:
    msg = "To: alice@example.com, Bob <bob@example.com>\nCc: carol@example.com\nSubject: sendmail -t\n\nbody\n.\nafter\n"
    assert run(sendmail, ["--root", str(root), "-t", "-i"], msg)[0] == 0
    store, ids = maildrop(root)
    qf = store.read("maildrop", ids[0])
    assert [(r.address, r.extracted) for r in qf.recipients] == \
        [("alice@example.com", True), ("bob@example.com", True), ("carol@example.com", True)]
    assert qf.sender == "root" and qf.content.endswith(b"body\n.\nafter\n")


def test_sendmail_without_recipients(root: Path) -> None:
    rc, _, err = run(sendmail, ["--root", str(root)], "Subject: x\n\ny\n")
    assert rc == 75 and err == ("sendmail: fatal: root(0): Recipient addresses must be specified on the "
                                "command line or via the -t option\n")
    rc, _, err = run(sendmail, ["--root", str(root), "-t"], "Subject: x\n\ny\n")
    assert rc == 75 and err == "sendmail: fatal: root(0): No recipient addresses found in message header\n"
    assert maildrop(root)[1] == []


def test_sendmail_bv_sends_a_probe(root: Path) -> None:
    rc, out, _ = run(sendmail, ["--root", str(root), "-bv", "alice@example.com", "nosuch@example.com"],
                     "Subject: x\n\ny\n")
    assert rc == 0 and out == "Mail Delivery Status Report will be mailed to <root>.\n"
    store, ids = maildrop(root)
    qf = store.read("maildrop", ids[0])
    assert qf.attrs["trace_flags"] == "512"
    assert qf.content == b"From: root\nSubject: probe\nTo:\talice@example.com,\n\tnosuch@example.com\n"


@pytest.fixture
def virtual(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Network, PostfixSystem]:
    monkeypatch.setitem(services.DAEMONS, "qmgr", Qmgr)
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    init_root(host.root, "mail.example.com")
    return net, PostfixSystem.for_host(host)


def test_pickup_takes_maildrop_mail_after_start(virtual: Any) -> None:
    net, pf = virtual
    res = pf.command("sendmail", "-f", "bob@example.com", "alice@example.com", stdin="Subject: via sendmail\n\nbody line\n")
    assert res.rc == 0 and res.stderr == DOWN
    [drop_id] = pf.store.list("maildrop")
    net.run(until=60)
    net.run_sync(pf.start())
    net.run(until=net.now + 1)
    assert pf.store.list("maildrop") == []
    [qid] = pf.store.list("incoming")
    log = "\n".join(pf.ctx.log.lines)
    pickup_pid = [p.pid for p in pf.processes() if p.command == "pickup"][0]
    assert f"postfix/pickup[{pickup_pid}]: {qid}: uid=0 from=<bob@example.com>" in log
    qf = pf.store.read("incoming", qid)
    assert qf.content.startswith(("Received: by mail.example.com (Postfix, from userid 0)\n"
                                  f"\tid {qid}; Tue, 24 Nov 2026 13:36:50 +0000 (UTC)\n").encode())
    assert b"Subject: via sendmail\n" in qf.content and qf.arrival == pytest.approx(1795527410.0)
    assert drop_id != qid


def test_submission_while_running_is_picked_up_at_once(virtual: Any) -> None:
    net, pf = virtual
    net.run_sync(pf.start())
    res = pf.command("sendmail", "-t", stdin="To: alice@example.com\nSubject: now\n\nhi\n")
    assert res.rc == 0 and res.stderr == ""
    net.run(until=net.now + 0.01)
    assert pf.store.list("maildrop") == [] and len(pf.store.list("incoming")) == 1


def test_requeued_mail_is_logged_with_its_old_id(virtual: Any) -> None:
    net, pf = virtual
    net.run_sync(pf.start())
    pf.command("sendmail", "alice@example.com", stdin="Subject: one\n\nx\n")
    net.run(until=net.now + 0.01)
    [old] = pf.store.list("incoming")
    pf.store.move(old, "incoming", "hold")
    res = pf.command("postsuper", "-r", old)
    assert res.stderr == f"postsuper: {old}: requeued\npostsuper: Requeued: 1 message\n"
    pf.command("postqueue", "-f")
    net.run(until=net.now + 0.01)
    [new] = pf.store.list("incoming")
    assert any(line.endswith(f"{new}: uid=101 from=<root@example.com> orig_id={old}") for line in pf.ctx.log.lines)
