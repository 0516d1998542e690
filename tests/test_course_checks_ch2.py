"""Chapter 2's exercise checks (solution passes, typical wrong answer fails with its message), and
the envelope-versus-headers view on a Bcc, a list alias and a .forward."""

from __future__ import annotations

import pytest

from simlab.course import checks_ch2 as checks
from simlab.mua import compose
from simlab.scenarios import internet
from simlab.widgets import ConsoleModel


@pytest.fixture
def world():
    w = internet(seed=1)
    yield w
    w.close()


def _start(world) -> float:
    world.run(until=world.net.now + 1)
    return world.net.now


# -- exercise 1: a bounce, not a reject ----------------------------------------------------------------
def test_bounce_solution_passes(world):
    start = _start(world)
    world.alice.send_sync(to="nosuch@oreilly.com", subject="Are you there?", body="Just checking.")
    world.run()
    assert checks.check_bounce_not_reject(world, since=start) == []


def test_reject_is_not_a_bounce(world):
    start = _start(world)
    world.alice.send_sync(to="nosuch@example.com", subject="Are you there?", body="Just checking.")
    world.run()
    assert checks.check_bounce_not_reject(world, since=start) == [
        "alice's last message, to nosuch@example.com, was refused during the dialog ('550 5.1.1 "
        "<nosuch@example.com>: Recipient address rejected: User unknown in local recipient table' at RCPT TO): "
        "that is a reject. The sender learns it at once; no message was accepted, so nothing can bounce"]


def test_delivered_message_is_not_a_bounce(world):
    start = _start(world)
    world.alice.send_sync(to="erin@oreilly.com", subject="Hi", body="Hello.")
    world.run()
    [problem] = checks.check_bounce_not_reject(world, since=start)
    assert "was accepted and passed on for erin@oreilly.com without any error" in problem


def test_bounce_check_ignores_what_came_before(world):
    world.alice.send_sync(to="nosuch@oreilly.com", subject="earlier", body="x")
    world.run()
    start = _start(world)
    assert checks.check_bounce_not_reject(world, since=start) == [
        "alice's client has not sent anything since the exercise began"]


# -- exercise 2: the envelope decides ---------------------------------------------------------------------
def _send(world, recipients):
    msg, (sender, _) = compose("Alice <alice@example.com>", to="bob@example.com", subject="Note to self",
                               body="Remember to call Bob back.")
    world.net.run_sync(world.alice.send_message(msg, sender, recipients))
    world.run()


def test_envelope_solution_passes(world):
    start = _start(world)
    _send(world, ["alice@example.com"])
    assert checks.check_envelope_only(world, since=start) == []


def test_envelope_from_the_headers_fails(world):
    start = _start(world)
    _send(world, ["bob@example.com"])
    assert checks.check_envelope_only(world, since=start) == [
        "bob received your message and alice did not: the mail servers delivered it to the recipient "
        "they were given"]


def test_envelope_with_both_fails(world):
    start = _start(world)
    _send(world, ["bob@example.com", "alice@example.com"])
    assert checks.check_envelope_only(world, since=start) == [
        "bob received a copy too (from the same submission): the servers were still asked to deliver to him"]


def test_envelope_solution_after_a_wrong_try_passes(world):
    start = _start(world)
    _send(world, ["bob@example.com"])
    _send(world, ["alice@example.com"])
    assert checks.check_envelope_only(world, since=start) == []


def test_envelope_header_naming_alice_fails(world):
    start = _start(world)
    world.alice.send_sync(to="alice@example.com", subject="Note", body="x")
    world.run()
    [problem] = checks.check_envelope_only(world, since=start)
    assert problem.startswith("alice's copy has 'To: alice@example.com'")


# -- exercise 3: a message written by hand -------------------------------------------------------------------
GOOD = ("Date: Mon, 8 Apr 2003 15:38:21 -0500\nFrom: Bob <bob@example.com>\nTo: bob@example.com\n"
        "Message-ID: <first-by-hand.1@example.com>\nSubject: Written by hand\n\nMy first message.\n")


def _sendmail(world, text):
    world.mail_example.postfix.command("sendmail", "-f", "bob@example.com", "bob@example.com", stdin=text)
    world.run()


def test_handwritten_solution_passes(world):
    start = _start(world)
    _sendmail(world, GOOD)
    assert checks.check_handwritten(world, since=start) == []


def test_handwritten_without_date_and_message_id_fails(world):
    start = _start(world)
    _sendmail(world, "From: Bob <bob@example.com>\nTo: bob@example.com\nSubject: Written by hand\n\nHello.\n")
    assert checks.check_handwritten(world, since=start) == [
        "mail.example.com had to add a Message-ID: and a Date: header itself: the header section you "
        "wrote had no Message-ID and no Date"]


def test_handwritten_with_early_empty_line_fails(world):
    start = _start(world)
    _sendmail(world, GOOD.replace("To: bob@example.com\n", "To: bob@example.com\n\n", 1))
    problems = checks.check_handwritten(world, since=start)
    assert problems[0].startswith("bob's copy has no Subject: header; in what you wrote, the header section "
                                  "ended before the Subject line")
    assert "Message-ID" in problems[1]


def test_handwritten_nothing_sent(world):
    start = _start(world)
    assert checks.check_handwritten(world, since=start) == [
        "no message submitted on the mail server with sendmail has reached bob@example.com since the "
        "exercise began"]


# -- exercise 4: the telnet session ----------------------------------------------------------------------
BOOK = ["HELO mail.oreilly.com", "MAIL FROM:<service@oreilly.com>", "RCPT TO:<bob@example.com>"]
MESSAGE = ["DATA", "Subject: hi", "", "Hello Bob.", ".", "QUIT"]


def _type(world, lines):
    console = ConsoleModel(world.net, "mail.oreilly.com")
    console.connect("mail.example.com", 25)
    for line in lines:
        console.send(line)
    return console


def test_dialog_solution_passes(world):
    _type(world, BOOK + ["RCPT TO:<mallory@example.com>"] + MESSAGE)
    assert checks.check_book_dialog(world) == []


def test_dialog_without_mallory_fails(world):
    _type(world, BOOK + MESSAGE)
    assert checks.check_book_dialog(world) == [
        "in the best of the 1 session(s) typed to mail.example.com so far: "
        "no RCPT TO:<mallory@example.com> earned 550"]


def test_dialog_never_ending_the_message_fails(world):
    console = _type(world, BOOK + ["RCPT TO:<mallory@example.com>", "DATA", "Subject: hi", "", "Hello Bob."])
    console.disconnect()
    world.run()
    assert checks.check_book_dialog(world) == [
        "in the best of the 1 session(s) typed to mail.example.com so far: no message was queued on that "
        "connection: DATA got its 354, but the message was never ended"]


def test_dialog_nothing_typed(world):
    assert checks.check_book_dialog(world) == [
        "there is no session typed in the console to mail.example.com port 25 yet"]


# -- envelope versus headers at every hop -------------------------------------------------------------------
def test_hops_of_a_bcc(world):
    r = world.alice.send_sync(to="bob@example.com", bcc="erin@oreilly.com", subject="Party", body="x")
    world.run()
    hops = checks.envelope_hops(world, world.mail_example.name, r.queue_id)
    assert hops[0].recipients == ["bob@example.com", "erin@oreilly.com"]
    assert all(h.headers == {"From": "Alice <alice@example.com>", "To": "bob@example.com"} for h in hops)
    assert [h.how for h in hops] == ["SMTP port 587", "local delivery", "SMTP port 25", "LMTP delivery"]
    assert hops[-1].recipients == ["erin@oreilly.com"]
    assert "<table" in checks.hops_html(hops, "Bcc")


def test_hops_of_a_forward(world):
    world.mail_example.path("/home/bob/.forward").write_text("erin@oreilly.com\n")
    r = world.alice.send_sync(to="bob@example.com", subject="Back?", body="x")
    world.run()
    hops = checks.envelope_hops(world, world.mail_example.name, r.queue_id)
    assert hops[1].how.startswith("local: a new queue file") and hops[1].recipients == ["erin@oreilly.com"]
    assert hops[2].recipients == ["erin@oreilly.com (was bob@example.com)"]
    assert hops[-1].headers["To"] == "bob@example.com"
