"""Chapter 3's exercise checks: the solution passes, typical wrong answers fail with their own message."""

from __future__ import annotations

from typing import Iterator

import pytest

from simlab.course.checks_ch3 import EXERCISES, check_bob_maildir, check_virtual_alias, check_virtual_mailbox
from simlab.course.labtools import add_line, shell
from simlab.scenarios import lab


@pytest.fixture
def sc() -> Iterator:
    s = lab(seed=3)
    yield s
    s.close()


def run(sc, *lines: str) -> None:
    for line in lines:
        shell(sc.mail, line, quiet=True)
    sc.run()


def send(sc, to: str) -> None:
    sc.bob.send_sync(to=to, subject="exercise", body="Hello.\n")
    sc.run()


def test_exercises_are_registered_with_hints() -> None:
    assert set(EXERCISES) == {"maildir", "vmailbox", "alias"}
    assert all(ex.hint for ex in EXERCISES.values())


# -- 3.1 bob's Maildir -------------------------------------------------------------------
def test_maildir_solution_passes(sc) -> None:
    run(sc, "postconf -e home_mailbox=Maildir/", "postfix reload")
    send(sc, "bob@example.com")
    assert check_bob_maildir(sc) == []
    assert EXERCISES["maildir"].run_check(sc).ok


def test_maildir_untouched_says_mbox(sc) -> None:
    send(sc, "bob@example.com")
    (problem,) = check_bob_maildir(sc)
    assert "mbox file /var/mail/bob" in problem


def test_maildir_without_slash_is_a_file(sc) -> None:
    run(sc, "postconf -e home_mailbox=Maildir", "postfix reload")
    send(sc, "bob@example.com")
    assert sc.mail.path("/home/bob/Maildir").is_file()          # local(8) wrote an mbox file
    (problem,) = check_bob_maildir(sc)
    assert "single mbox FILE" in problem


def test_maildir_without_reload(sc) -> None:
    run(sc, "postconf -e home_mailbox=Maildir/")
    send(sc, "bob@example.com")
    (problem,) = check_bob_maildir(sc)
    assert "has not read main.cf again" in problem


def test_maildir_configured_but_nothing_sent(sc) -> None:
    run(sc, "postconf -e home_mailbox=Maildir/", "postfix reload")
    (problem,) = check_bob_maildir(sc)
    assert "still empty" in problem


# -- 3.2 example.net as a virtual mailbox domain ---------------------------------------------
VM_SOLUTION = ("postconf -e 'virtual_mailbox_domains = vmail.example, example.net'", "postfix reload")


def test_vmailbox_solution_passes(sc) -> None:
    run(sc, *VM_SOLUTION)
    add_line(sc.mail, "/etc/postfix/vmailbox", "frank@example.net   example.net/frank/")
    run(sc, "postmap hash:/etc/postfix/vmailbox")
    send(sc, "frank@example.net")
    assert check_virtual_mailbox(sc) == []
    assert any(sc.mail.path("/var/mail/vhosts/example.net/frank/new").iterdir())


def test_vmailbox_forgot_postmap(sc) -> None:
    run(sc, *VM_SOLUTION)
    add_line(sc.mail, "/etc/postfix/vmailbox", "frank@example.net   example.net/frank/")
    send(sc, "frank@example.net")
    (problem,) = check_virtual_mailbox(sc)
    assert "was not rebuilt" in problem


def test_vmailbox_without_reload(sc) -> None:
    run(sc, "postconf -e 'virtual_mailbox_domains = vmail.example, example.net'")
    add_line(sc.mail, "/etc/postfix/vmailbox", "frank@example.net   example.net/frank/")
    run(sc, "postmap hash:/etc/postfix/vmailbox")
    problems = check_virtual_mailbox(sc)
    assert len(problems) == 1 and "has not read main.cf again" in problems[0]
    assert "'default'" in problems[0]


def test_vmailbox_domain_missing_and_mbox_entry(sc) -> None:
    add_line(sc.mail, "/etc/postfix/vmailbox", "frank@example.net   example.net/frank")
    run(sc, "postmap hash:/etc/postfix/vmailbox")
    problems = check_virtual_mailbox(sc)
    assert "is not a virtual mailbox domain in main.cf" in problems[0]
    assert "is an mbox file" in problems[1]


def test_vmailbox_refused_message_is_reported(sc) -> None:
    send(sc, "frank@example.net")              # refused: example.net is nobody's domain yet
    run(sc, *VM_SOLUTION)
    add_line(sc.mail, "/etc/postfix/vmailbox", "frank@example.net   example.net/frank/")
    run(sc, "postmap hash:/etc/postfix/vmailbox")
    (problem,) = check_virtual_mailbox(sc)
    assert "was refused" in problem and "send another one" in problem


# -- 3.3 a virtual alias with two targets -------------------------------------------------
def test_alias_solution_passes(sc) -> None:
    add_line(sc.mail, "/etc/postfix/virtual", "help@alias.example   alice@example.com, erin@example.com")
    run(sc, "postmap hash:/etc/postfix/virtual")
    send(sc, "help@alias.example")
    assert check_virtual_alias(sc) == []


def test_alias_one_target_missing(sc) -> None:
    add_line(sc.mail, "/etc/postfix/virtual", "help@alias.example   alice@example.com")
    run(sc, "postmap hash:/etc/postfix/virtual")
    send(sc, "help@alias.example")
    (problem,) = check_virtual_alias(sc)
    assert "erin@example.com is not among them" in problem


def test_alias_forgot_postmap(sc) -> None:
    add_line(sc.mail, "/etc/postfix/virtual", "help@alias.example   alice@example.com, erin@example.com")
    send(sc, "help@alias.example")
    (problem,) = check_virtual_alias(sc)
    assert "was not rebuilt" in problem


def test_alias_nothing_sent_after_a_refusal(sc) -> None:
    send(sc, "help@alias.example")             # refused: unknown in the virtual alias table
    add_line(sc.mail, "/etc/postfix/virtual", "help@alias.example   alice, erin")
    run(sc, "postmap hash:/etc/postfix/virtual")
    (problem,) = check_virtual_alias(sc)
    assert "was refused" in problem and "User unknown in virtual alias table" in problem
