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


# -- the notebook's hidden solutions, applied where they stand --------------------------------
def test_notebook_solutions_pass_their_checks(tmp_path) -> None:
    from _course_solutions import run_with_solutions
    passed = run_with_solutions("03-postfix-architecture.ipynb", tmp_path)
    assert passed == {"3.1": True, "3.2": True, "3.3": True}


# -- the notebook helpers (simlab.course.labtools) ----------------------------------------------
def test_shell_runs_postfix_commands_under_the_host_root(sc, capsys) -> None:
    from simlab.course.labtools import run_command
    listed = shell(sc.mail, "postconf -n")
    assert "config_directory" not in listed.stdout          # as on the machine: no -c
    assert "mydestination = $myhostname" in listed.stdout
    out = capsys.readouterr().out
    assert out.startswith("mail.example.com# postconf -n\n")
    assert run_command(sc.mail, "postconf -d myhostname").stdout == "myhostname = mail.example.com\n"
    assert run_command(sc.mail, "postmap -q relay.example hash:/etc/postfix/transport").stdout == \
        "smtp:[127.0.0.1]:2526\n"
    missing = run_command(sc.mail, "postalias -q nosuch hash:/etc/aliases")
    assert missing.rc == 1 and missing.stdout == ""
    assert run_command(sc.mail, "frobnicate").rc == 127


def test_shell_file_tools_read_the_host_root(sc) -> None:
    from simlab.course.labtools import run_command
    assert run_command(sc.mail, "cat -n /etc/hostname").stdout == "     1\tmail.example.com\n"
    assert "maildrop/" in run_command(sc.mail, "ls /var/spool/postfix").stdout.split()
    assert run_command(sc.mail, "grep postfix /etc/passwd").stdout.startswith("postfix:x:")
    assert run_command(sc.mail, "grep nosuchword /etc/passwd").rc == 1
    log = run_command(sc.mail, "tail -n 1 /var/log/postfix.log").stdout
    assert log.count("\n") == 1 and " mail postfix/" in log
    assert run_command(sc.mail, "cat /nonexistent").rc == 1


def test_master_table_and_timeline(sc) -> None:
    from simlab.course.labtools import MASTER_COLUMNS, master_rows, master_table, process_timeline
    rows = master_rows(sc.mail)
    assert ("pickup", "unix", "n", "y", "n", "60", "1", "pickup") in rows
    assert master_table(sc.mail).splitlines()[0].split()[:7] == list(MASTER_COLUMNS[:7])
    sc.run(until=150)
    fig = process_timeline(sc.trace, host=sc.mail.name)
    assert fig._suptitle.get_text().startswith("Postfix daemon processes on mail.example.com")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert any(lbl.startswith("qmgr (pid ") for lbl in labels)
