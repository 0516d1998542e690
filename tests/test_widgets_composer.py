"""The composer (envelope beside headers, Bcc only in the envelope, sending) and the mailbox viewer."""

from __future__ import annotations

from email.message import EmailMessage

from simlab.widgets.composer import (ComposerModel, ComposerWidget, MailboxModel, SendResult, addresses,
                                     imap_reader, pop3_reader, smtp_sender)
from test_widgets_console import MAILBOX, lab


def filled(send=None, settle=None) -> ComposerModel:
    c = ComposerModel(send, settle)
    c.from_ = "Alice <alice@example.com>"
    c.to = "Bob <bob@example.com>, erin@example.com"
    c.cc = "dave@example.com"
    c.bcc = "Carol <carol@example.com>"
    c.subject = "Lunch"
    c.body = "Hello.\n.a line starting with a dot\n"
    return c


def test_envelope_and_headers_side_by_side_bcc_only_in_the_envelope() -> None:
    c = filled()
    assert c.envelope() == ("alice@example.com", ["bob@example.com", "erin@example.com", "dave@example.com",
                                                  "carol@example.com"])
    headers = c.header_block()
    assert headers.splitlines()[:4] == ["From: Alice <alice@example.com>", "To: Bob <bob@example.com>, "
                                        "erin@example.com", "Cc: dave@example.com", "Subject: Lunch"]
    assert "carol" not in headers and "Bcc" not in headers
    c.envelope_from = "bounces@example.com"
    assert c.envelope()[0] == "bounces@example.com"
    assert addresses("A <a@x>, b@y, ") == ["a@x", "b@y"]


def test_problems_are_said_before_sending() -> None:
    c = ComposerModel()
    r = c.send()
    assert not r.ok and r.text == "Fill in From: (it also becomes MAIL FROM). Give at least one recipient in " \
                                  "To:, Cc: or Bcc:."
    c.from_, c.to = "alice@example.com", "not an address"
    assert c.send().text == "To: 'not an address' is not a list of addresses like user@example.com."
    c.to = "bob@example.com"
    assert c.send().text == "Sending is not wired up in this notebook (no sender given)."


def test_send_through_smtp_on_the_virtual_network_then_settle() -> None:
    net, handler = lab()
    settled: list[float] = []
    c = filled(smtp_sender(net, "pc.example.com", "10.0.0.25", 25), settle=lambda: settled.append(net.now))
    r = c.send()
    assert r.ok and r.text == "Accepted: queued as 4F2A000001" and r.qid == "4F2A000001" and settled
    env = handler.envelopes[0]
    assert env.mail_from == "alice@example.com"
    assert env.rcpt_tos == ["bob@example.com", "erin@example.com", "dave@example.com", "carol@example.com"]
    content = env.content.decode()
    assert "Bcc" not in content and "carol" not in content
    assert "\r\n.a line starting with a dot\r\n" in content      # dot-stuffed on the wire, restored by the server
    assert "C: ..a line starting with a dot" in r.transcript and "C: EHLO pc.example.com" in r.transcript


def test_a_refused_recipient_and_a_refused_message() -> None:
    net, handler = lab()
    c = filled(smtp_sender(net, "pc.example.com", "10.0.0.25", 25))
    c.to, c.cc, c.bcc = "nosuch@example.com, bob@example.com", "", ""
    assert c.send().ok and handler.envelopes[0].rcpt_tos == ["bob@example.com"]
    c.to = "nosuch@example.com"
    r = c.send()
    assert not r.ok and r.text.startswith("The server refused the message: ")
    down = filled(smtp_sender(net, "pc.example.com", "10.0.0.25", 2525))
    r = down.send()
    assert not r.ok and r.text.startswith("Connection refused by 10.0.0.25 port 2525")


def test_a_sender_callable_may_return_anything_or_raise() -> None:
    seen: list[tuple[str, list[str]]] = []

    def mua(msg: EmailMessage, sender: str, rcpts: list[str]) -> str:
        seen.append((sender, rcpts))
        assert msg["Bcc"] is None
        return "handed to the MUA"

    r = filled(mua).send()
    assert r == SendResult(True, "handed to the MUA") and seen[0][1][-1] == "carol@example.com"

    def broken(msg, sender, rcpts):
        raise ConnectionRefusedError(111, "Connection refused")

    r = filled(broken).send()
    assert not r.ok and r.text.startswith("Connection refused")


def test_read_the_mailbox_over_pop3_and_imap() -> None:
    net, _ = lab()
    box = MailboxModel(pop3_reader(net, "pc.example.com", "10.0.0.25", 110, "erin", "erin-pw"))
    items = box.refresh()
    assert box.error == "" and len(items) == 2
    assert box.summary() == ["1. alice@example.com — First", "2. bob@example.com — Second"]
    assert items[0].flags is None and items[0].body == "Hello erin.\n.leading dot\n"
    assert "POP3 has no flags" in box.item_html(0) and "Subject:" in box.item_html(0)
    imap = MailboxModel(imap_reader(net, "pc.example.com", "10.0.0.25", 143, "erin", "erin-pw"))
    items = imap.refresh()
    assert [it.flags for it in items] == [["\\Seen"], []]
    assert [dict(it.headers)["Subject"] for it in items] == ["First", "Second"]
    assert items[1].body == "Two.\n" and items[1].raw.replace("\n", "\r\n") == MAILBOX[1].replace("\n", "\r\n")
    assert "(no flags: not read yet)" in imap.item_html(1) and imap.item_html(5) == "<i>no message selected</i>"


def test_mailbox_errors_are_words() -> None:
    net, _ = lab()
    bad = MailboxModel(pop3_reader(net, "pc.example.com", "10.0.0.25", 110, "erin", "wrong"))
    bad.refresh()
    assert bad.error == "POP3 login as erin failed: -ERR [AUTH] Authentication failed."
    bad = MailboxModel(imap_reader(net, "pc.example.com", "10.0.0.25", 143, "erin", "wrong"))
    bad.refresh()
    assert bad.error == "IMAP login as erin failed: b1 NO [AUTHENTICATIONFAILED] Authentication failed." \
        .replace("b1", "a1")
    none = MailboxModel(pop3_reader(net, "pc.example.com", "10.0.0.25", 1110, "erin", "x"))
    none.refresh()
    assert none.error.startswith("Connection refused by 10.0.0.25 port 1110")
    unwired = MailboxModel()
    unwired.refresh()
    assert "not wired up" in unwired.error


def test_composer_widget_sends_and_shows_the_mailbox() -> None:
    net, handler = lab()
    view = ComposerWidget(ComposerModel(smtp_sender(net, "pc.example.com", "10.0.0.25", 25)),
                          MailboxModel(imap_reader(net, "pc.example.com", "10.0.0.25", 143, "erin", "erin-pw")))
    view.fields["From"].value = "alice@example.com"
    view.fields["To"].value = "bob@example.com"
    view.fields["Bcc"].value = "carol@example.com"
    view.fields["Subject"].value = "Hi"
    assert "RCPT TO:&lt;carol@example.com&gt; <i>(Bcc: only here)</i>" in view.envelope.value
    assert "carol" not in view.headers.value and "Subject: Hi" in view.headers.value
    view.send_btn.click()
    assert "Accepted: queued as 4F2A000001" in view.result.value and handler.envelopes
    view.read_btn.click()
    assert view.list.options == ("1. alice@example.com — First", "2. bob@example.com — Second")
    assert "\\Seen" in view.view.value
    view.list.index = 1
    assert "Two." in view.view.value
