"""dovecot-lda (deliver): a program of the host, run directly and as Postfix's mailbox_command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from simlab.mua import MUA
from simlab.postfix.commands_registry import CommandResult, find_command, run_command
from simlab.postfix.common.context import LAB_EPOCH
from simlab.postfix.pipe.agent import judge
from simlab.sim.faults import faults
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root
from simlab.store.delivery import DeliverSettings, MailDeliverer
from simlab.store.lda import EX_NOPERM, EX_NOUSER, EX_TEMPFAIL, EX_USAGE, register_lda, split_from_line
from simlab.store.mailstore import MailStore
from simlab.store.mbox import Mbox
from simlab.store.node import StoreNode
from simlab.store.quota import Quota

MSG = (b"From alice@example.com  Tue Nov 24 13:36:50 2026\n"
       b"Return-Path: <alice@example.com>\nDelivered-To: erin@example.com\n"
       b"From: alice@example.com\nSubject: lunch\nMessage-ID: <7@pc.example.com>\n\nsee you\n")


class Ctx:
    """What run_command needs of a Postfix context: the root and the clock."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def now(self) -> float:
        return LAB_EPOCH

    def path(self, unix_path: str) -> Path:
        return self.root / unix_path.lstrip("/")


@pytest.fixture
def lab(tmp_path: Path) -> Any:
    root = init_root(tmp_path / "mail", "mail.example.com", users=["erin", "frank"])
    logs: list[str] = []
    store = MailStore(root, root / "etc/dovecot/users", "mail.example.com", clock=lambda: LAB_EPOCH,
                      first_pid=4000)
    quota = Quota(root / "etc/dovecot/users")
    deliverer = MailDeliverer(store, DeliverSettings(hostname="mail.example.com"),
                              lambda p, t: logs.append(f"{p}: {t}"), quota)
    register_lda(root, deliverer)

    def deliver(*args: str, user: str = "erin", stdin: bytes = MSG) -> CommandResult:
        argv = ["/usr/lib/dovecot/deliver", *args]
        return asyncio.run(run_command(Ctx(root), argv, stdin=stdin, user=user, uid=1000, gid=1000,
                                       env={"USER": user, "HOME": f"/home/{user}"}))

    return root, deliverer, quota, logs, deliver


def test_lda_saves_into_inbox_and_logs_like_dovecot(lab: Any) -> None:
    root, deliverer, _, logs, deliver = lab
    assert find_command(root, "/usr/lib/dovecot/dovecot-lda") is not None
    result = deliver()
    assert (result.status, result.output) == (0, b"")
    msgs = Mbox(root / "var/mail/erin").messages()
    assert len(msgs) == 1 and msgs[0].data.startswith(b"Return-Path: <alice@example.com>\n")
    assert not msgs[0].data.startswith(b"From ")
    head = (root / "var/mail/erin").read_bytes().split(b"\n", 1)[0]
    assert head == b"From alice@example.com  Tue Nov 24 13:36:50 2026"
    assert len(logs) == 1 and logs[0].startswith("lda(erin)<4000><")
    assert logs[0].endswith(">: Info: msgid=<7@pc.example.com>: saved mail to INBOX")


def test_lda_envelope_sender_and_from_line() -> None:
    assert split_from_line(MSG)[0] == "alice@example.com"
    assert split_from_line(b"Subject: x\n\nbody\n") == (None, b"Subject: x\n\nbody\n")


def test_lda_user_unknown_is_ex_nouser_and_postfix_bounces(lab: Any) -> None:
    _, _, _, _, deliver = lab
    result = deliver("-d", "nosuch")
    assert result.status == EX_NOUSER == 67
    verdict = judge(result, "local", "/usr/lib/dovecot/deliver")
    assert (verdict.dsn, verdict.reason) == ("5.1.1", "user unknown")
    assert deliver("-d", "frank").status == 0


def test_lda_usage_errors(lab: Any) -> None:
    _, _, _, _, deliver = lab
    bad = deliver("-x")
    assert bad.status == EX_USAGE and bad.output.startswith(b"Usage: dovecot-lda [-c <config file>]")
    assert deliver("extra-arg").status == EX_USAGE


def test_lda_missing_folder_falls_back_to_inbox_unless_autocreate(lab: Any) -> None:
    root, _, _, logs, deliver = lab
    assert deliver("-m", "Lists").status == 0
    assert logs[-2].endswith("save failed to Lists: Mailbox doesn't exist: Lists")
    assert logs[-1].endswith("saved mail to INBOX")
    assert deliver("-m", "Lists", "-o", "lda_mailbox_autocreate=yes").status == 0
    assert logs[-1].endswith("saved mail to Lists")
    assert len(Mbox(root / "home/erin/mail/Lists").messages()) == 1


def test_lda_full_mailbox_exit_codes(lab: Any) -> None:
    root, _, quota, logs, deliver = lab
    quota.set("erin", "100")
    rejected = deliver("-e")
    assert rejected.status == EX_NOPERM == 77
    assert rejected.output == b"Quota exceeded (mailbox for user is full)\n"
    assert logs[-1].endswith(": Info: msgid=<7@pc.example.com>: rejected: Quota exceeded "
                             "(mailbox for user is full)")
    tempfail = deliver("-e", "-o", "quota_full_tempfail=yes")
    assert tempfail.status == EX_TEMPFAIL == 75
    verdict = judge(tempfail, "local", "/usr/lib/dovecot/deliver")
    assert (verdict.dsn, verdict.reason) == (
        "4.3.0", "temporary failure. Command output: Quota exceeded (mailbox for user is full) ")
    assert deliver().status == EX_TEMPFAIL       # no Postfix here to mail the rejection
    assert not (root / "var/mail/erin").exists()


def _mail_host(command: str) -> tuple[Network, Any, StoreNode, MUA]:
    net = Network(seed=2)
    mail = net.host("mail.example.com", ip="10.0.0.25", users=["alice", "bob"])
    with open(mail.path("/etc/postfix/main.cf"), "a") as f:
        f.write(f"mynetworks = 10.0.0.0/24 127.0.0.0/8\nmailbox_command = {command}\n")
    mail.start_postfix()
    store = StoreNode(mail)
    pc = net.host("pc.example.com", ip="10.0.0.10")
    return net, mail, store, MUA(net, pc, "alice@example.com", smtp=("10.0.0.25", 25))


def test_lda_as_mailbox_command_delivers_and_mails_a_rejection_for_a_full_mailbox() -> None:
    net, mail, store, alice = _mail_host("/usr/lib/dovecot/deliver")
    alice.send_sync(to=["bob@example.com"], subject="one", body="hi\n")
    net.run(until=net.now + 10)
    log = net.trace.maillog("mail.example.com")
    assert any("to=<bob@example.com>, relay=local" in ln and
               "status=sent (delivered to command: /usr/lib/dovecot/deliver)" in ln for ln in log)
    assert [m["Subject"] for m in store.messages("bob")] == ["one"]
    faults(net).store_over_quota(store, "bob")
    alice.send_sync(to=["bob@example.com"], subject="two", body="hi again\n")
    net.run(until=net.now + 10)
    assert [m["Subject"] for m in store.messages("bob")] == ["one"]
    assert any("lda(bob)<" in ln and "rejected: Quota exceeded (mailbox for user is full)" in ln
               for ln in store.log_lines())
    (reject,) = store.messages("alice")
    assert reject["Subject"] == "Rejected: two"
    assert reject["From"] == "Mail Delivery Subsystem <postmaster@mail.example.com>"
    assert reject["Auto-Submitted"] == "auto-replied (rejected)"
    assert reject["Return-Path"] == "<>"
    text = reject.as_string()
    assert "Your message to <bob@mail.example.com> was automatically rejected:\n" \
           "Quota exceeded (mailbox for user is full)" in text          # no -a: USER@hostname
    assert "Final-Recipient: rfc822; bob@mail.example.com" in text and "Status: 5.2.2" in text
    assert any("postfix/pickup[" in ln and "uid=1001 from=<>" in ln for ln in net.trace.maillog())
    net.close()


def test_lda_mailbox_command_with_shell_variables() -> None:
    net, mail, store, alice = _mail_host('/usr/lib/dovecot/deliver -f "$SENDER" -a "$RECIPIENT"')
    try:
        alice.send_sync(to=["bob@example.com"], subject="one", body="hi\n")
        net.run(until=net.now + 10)
        assert any("status=sent (delivered to command: /usr/lib/dovecot/deliver -f \"$SENDER\" "
                   "-a \"$RECIPIENT\")" in ln for ln in net.trace.maillog("mail.example.com"))
        assert [m["Subject"] for m in store.messages("bob")] == ["one"]
    finally:
        net.close()


@pytest.mark.parametrize("tempfail, status", [
    (False, "dsn=5.7.0, status=bounced (permission denied. Command output: Quota exceeded "
            "(mailbox for user is full) )"),
    (True, "dsn=4.3.0, status=deferred (temporary failure. Command output: "
           "Quota exceeded (mailbox for user is full) )"),
])
def test_lda_full_mailbox_seen_by_postfix_local(tempfail: bool, status: str) -> None:
    net, mail, store, alice = _mail_host("/usr/lib/dovecot/deliver -e")
    store.configure(quota_full_tempfail=tempfail)
    store.set_quota("bob", "10")
    alice.send_sync(to=["bob@example.com"], subject="hi", body="hi\n")
    net.run(until=net.now + 10)
    assert any("to=<bob@example.com>, relay=local" in ln and status in ln
               for ln in net.trace.maillog("mail.example.com"))
    net.close()
