"""Chapter 1's exercise checks: each passes on the solution and fails, with its own message, on a
typical wrong answer. Every answer is played on the simulator, as the notebook does."""

from __future__ import annotations

import pytest

from simlab.course import Exercise
from simlab.course import checks_ch1 as checks
from simlab.mua import MUA
from simlab.scenarios import internet
from simlab.scenarios.base import client_host, mail_host


@pytest.fixture
def world():
    w = internet(seed=1)
    yield w
    w.close()


# -- exercise 1: postmaster@example.org reaches carol ---------------------------------------------
def _example_org(world):
    org = mail_host(world.net, "mail.example.org", "10.0.2.25", users=["carol"])
    world.net.dns.mx("example.org", org.name, pref=10)
    org.path("/etc/aliases").write_text("# See man 5 aliases for format\n")
    org.postfix.command("newaliases")
    return org


def _test_message(world):
    world.erin.send_sync(to="postmaster@example.org", subject="Test", body="Anybody there?")
    world.run()


def test_postmaster_solution_passes(world):
    org = _example_org(world)
    org.path("/etc/aliases").write_text("postmaster: root\nroot: carol\n")
    org.postfix.command("newaliases")
    _test_message(world)
    assert checks.check_postmaster(world) == []
    assert Exercise("t", check=checks.check_postmaster).run_check(world).ok


def test_postmaster_without_test_message_says_so(world):
    _example_org(world)
    assert checks.check_postmaster(world) == [
        "mail.example.org has not tried to deliver any message for postmaster@example.org yet: "
        "send one test message to that address, then run the network"]


def test_postmaster_alias_edited_but_not_rebuilt_fails(world):
    org = _example_org(world)
    org.path("/etc/aliases").write_text("postmaster: root\nroot: carol\n")   # no newaliases
    _test_message(world)
    [problem] = checks.check_postmaster(world)
    assert "was thrown away" in problem and "required alias not found: postmaster" in problem
    assert "/etc/aliases does mention postmaster, yet the delivery agent did not find it" in problem
    assert "newaliases" not in problem


def test_postmaster_to_root_mailbox_fails(world):
    org = _example_org(world)
    org.path("/etc/aliases").write_text("postmaster: root\n")
    org.postfix.command("newaliases")
    _test_message(world)
    [problem] = checks.check_postmaster(world)
    assert "into the mailbox of 'root'" in problem and "reach carol" in problem


# -- exercise 2: IMAP keeps the mail, with a flag ----------------------------------------------------
def _two_messages(world):
    for subject in ("Meeting moved", "Room booked"):
        world.alice.send_sync(to="erin@oreilly.com", subject=subject, body="3 pm, room B.")
    world.run()


def test_flagged_solution_passes(world):
    _two_messages(world)
    moved = [m for m in world.erin.imap_list_sync() if m.header("Subject") == "Meeting moved"][-1]
    world.erin.imap_store_sync(moved.uid, ["\\Flagged"])
    assert checks.check_kept_and_flagged(world) == []


def test_pop3_takes_the_mail_away_fails(world):
    _two_messages(world)
    world.erin.pop3_fetch_sync(keep=False)
    assert checks.check_kept_and_flagged(world) == [
        "erin's mailbox on store.oreilly.com is empty: her messages have left the server "
        "(that is what a client that takes the mail away does)"]


def test_read_but_not_flagged_fails(world):
    _two_messages(world)
    world.erin.imap_list_sync()
    [problem] = checks.check_kept_and_flagged(world)
    assert problem.startswith("the message 'Meeting moved' is still on the server, but its flags are")
    assert problem.endswith("it must carry \\Flagged")


def test_wrong_message_flagged_fails(world):
    _two_messages(world)
    other = [m for m in world.erin.imap_list_sync() if m.header("Subject") == "Room booked"][-1]
    world.erin.imap_store_sync(other.uid, ["\\Flagged"])
    assert "but its flags are" in checks.check_kept_and_flagged(world)[0]


# -- exercise 3: bob's laptop, sending and reading --------------------------------------------------
def _laptop(world, port, imap=None, password="bob-pw"):
    pc = world.net.hosts.get("bob-pc.example.com") or client_host(world.net, "bob-pc.example.com", "10.0.0.12")
    ex = world.mail_example
    client = MUA(world.net, pc, "Bob <bob@example.com>", smtp=(ex.ip, port), password=password,
                 imap=imap or (ex.ip, 143))
    client.send_sync(to="erin@oreilly.com", subject="Hello from my laptop", body="It works!")
    world.run()
    return client


def test_mail_client_solution_passes(world):
    client = _laptop(world, 587)
    client.imap_list_sync()
    assert checks.check_mail_client(world, client) == []


def test_mail_client_on_port_25_fails_with_relay_denied(world):
    client = _laptop(world, 25)
    client.imap_list_sync()
    assert checks.check_mail_client(world, client) == [
        "mail.example.com port 25 refused the recipient erin@oreilly.com with "
        "'454 4.7.1 <erin@oreilly.com>: Relay access denied': "
        "this server passes mail on to other domains only for clients it knows"]


def test_mail_client_without_password_on_587_fails(world):
    client = _laptop(world, 587, password=None)
    problems = checks.check_mail_client(world, client)
    assert "Client host rejected" in problems[0] and "only clients that have logged in" in problems[0]
    assert problems[1] == "bob's client has not read his mailbox yet (no IMAP session from it in the trace)"


def test_mail_client_wrong_password_and_pop3_fail(world):
    client = _laptop(world, 587, password="nope")
    reader = MUA(world.net, client.host, "bob@example.com", pop3=(world.mail_example.ip, 110), password="bob-pw")
    reader.pop3_fetch_sync(keep=True)
    problems = checks.check_mail_client(world, client)
    assert problems[0].startswith("mail.example.com port 587 refused bob's login: 535 5.7.8")
    assert problems[1] == "bob's client read his mail over POP3; the task asks for IMAP (mail stays on the server)"


def test_mail_client_wrong_server_is_refused(world):
    pc = client_host(world.net, "bob-pc.example.com", "10.0.0.12")
    client = MUA(world.net, pc, "bob@example.com", smtp=("10.0.0.11", 587), password="bob-pw")
    client.send_sync(to="erin@oreilly.com", subject="x", body="y")
    assert checks.check_mail_client(world, client)[0] == (
        "bob's client tried to send through 10.0.0.11 port 587: nothing listens there (connection refused)")


# -- exercise 4: a service switched off in master.cf --------------------------------------------------
def test_submission_off_solution_passes(world):
    pf = world.mail_oreilly.postfix
    pf.command("postconf", "-M#", "submission/inet")
    world.net.run_sync(pf.reload())
    assert checks.check_submission_off(world) == []
    result = world.erin.send_sync(to="alice@example.com", subject="x", body="y")
    assert "Connection refused" in result.error


def test_submission_off_without_reload_fails(world):
    world.mail_oreilly.postfix.command("postconf", "-M#", "submission/inet")
    assert checks.check_submission_off(world) == [
        "master.cf no longer has the submission service, but the running master on mail.oreilly.com still "
        "accepts connections on port 587: it has not read master.cf again since you changed it"]


def test_submission_untouched_fails(world):
    assert checks.check_submission_off(world) == [
        "mail.oreilly.com's master.cf still has an active submission service, and port 587 still accepts "
        "connections"]


def test_switching_off_smtp_instead_fails(world):
    pf = world.mail_oreilly.postfix
    pf.command("postconf", "-M#", "smtp/inet")
    world.net.run_sync(pf.reload())
    problems = checks.check_submission_off(world)
    assert problems[0].startswith("mail.oreilly.com's master.cf still has an active submission service")
    assert problems[1].startswith("port 25 no longer accepts connections on mail.oreilly.com")


def test_stopping_postfix_fails(world):
    world.net.run_sync(world.mail_oreilly.postfix.stop())
    assert checks.check_submission_off(world)[0].startswith("Postfix is not running on mail.oreilly.com")
