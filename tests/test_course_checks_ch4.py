"""Chapter 4's exercise checks: the solution passes, typical wrong answers fail with their own message."""

from __future__ import annotations

from typing import Iterator

import pytest

from simlab.course.checks_ch4 import (BROKEN_MAIN_CF, EXERCISES, NEWCO, SANDBOX, check_alias, check_fqdn,
                                      check_sandbox_main_cf, check_second_domain)
from simlab.course.labtools import add_line, shell
from simlab.scenarios import tour


@pytest.fixture
def sc() -> Iterator:
    """The chapter's network: the tour plus mail.newco.example (running) and the sandbox machine."""
    s = tour(seed=4)
    newco = s.net.host(NEWCO, ip="10.0.2.25", users=["dan", "eve"])
    s.net.dns.mx("newco.example", NEWCO, pref=10)
    newco.start_postfix()
    sandbox = s.net.host(SANDBOX, ip="10.0.9.9", users=[])
    sandbox.path("/etc/postfix/main.cf").write_text(BROKEN_MAIN_CF)
    yield s
    s.close()


def on_newco(sc, *lines: str) -> None:
    for line in lines:
        shell(sc.net.hosts[NEWCO], line, quiet=True)
    sc.run()


def send(sc, to: str) -> None:
    sc.alice.send_sync(to=to, subject="exercise", body="Hello.\n")
    sc.run()


def test_exercises_are_registered_with_hints() -> None:
    assert set(EXERCISES) == {"fqdn", "alias", "domain", "sandbox"}
    assert all(ex.hint for ex in EXERCISES.values())


def test_checks_say_when_the_machine_is_missing() -> None:
    s = tour(seed=4)
    try:
        result = EXERCISES["fqdn"].run_check(s)
        assert not result.ok and "run the cells that build it first" in result.problems[0]
    finally:
        s.close()


# -- 4.1 myhostname ----------------------------------------------------------------------
def test_fqdn_solution_passes(sc) -> None:
    on_newco(sc, "postconf -e myhostname=mail", "postfix reload")
    on_newco(sc, "postconf -e myhostname=mail.newco.example", "postfix reload")
    assert check_fqdn(sc) == []


def test_fqdn_short_name(sc) -> None:
    on_newco(sc, "postconf -e myhostname=mail", "postfix reload")
    (problem,) = check_fqdn(sc)
    assert "is not fully qualified" in problem


def test_fqdn_wrong_machine_name(sc) -> None:
    on_newco(sc, "postconf -e myhostname=mail.newco.com", "postfix reload")
    (problem,) = check_fqdn(sc)
    assert "not this machine's name" in problem


def test_fqdn_without_reload(sc) -> None:
    on_newco(sc, "postconf -e myhostname=mail", "postfix reload")
    on_newco(sc, "postconf -e myhostname=mail.newco.example")
    (problem,) = check_fqdn(sc)
    assert "still calls itself 'mail'" in problem


# -- 4.2 aliases --------------------------------------------------------------------------
def test_alias_solution_passes(sc) -> None:
    add_line(sc.net.hosts[NEWCO], "/etc/aliases", "sales: dan")
    on_newco(sc, "newaliases")
    send(sc, "sales@newco.example")
    assert check_alias(sc) == []


def test_alias_without_newaliases(sc) -> None:
    add_line(sc.net.hosts[NEWCO], "/etc/aliases", "sales: dan")
    send(sc, "sales@newco.example")
    (problem,) = check_alias(sc)
    assert "the indexed copy is older than your edit" in problem


def test_alias_refused_before_the_fix(sc) -> None:
    send(sc, "sales@newco.example")
    add_line(sc.net.hosts[NEWCO], "/etc/aliases", "sales: dan")
    on_newco(sc, "newaliases")
    (problem,) = check_alias(sc)
    assert "was refused" in problem and "User unknown in local recipient table" in problem


def test_alias_wrong_target_and_missing_entry(sc) -> None:
    assert check_alias(sc) == ["/etc/aliases has no entry for sales"]
    add_line(sc.net.hosts[NEWCO], "/etc/aliases", "sales: eve")
    (problem,) = check_alias(sc)
    assert "does not include dan" in problem


# -- 4.3 a second local domain ----------------------------------------------------------
def test_domain_solution_passes(sc) -> None:
    on_newco(sc, "postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain, newco.org'",
             "postfix reload")
    assert check_second_domain(sc) == []


def test_domain_replaced_the_list(sc) -> None:
    on_newco(sc, "postconf -e mydestination=newco.org", "postfix reload")
    (problem,) = check_second_domain(sc)
    assert "no longer contains mail.newco.example, localhost.newco.example, localhost, newco.example" in problem


def test_domain_without_reload(sc) -> None:
    on_newco(sc, "postconf -e 'mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain, newco.org'")
    (problem,) = check_second_domain(sc)
    assert "has not read main.cf again" in problem and "'default'" in problem


# -- 4.4 the broken main.cf ---------------------------------------------------------------
FIXED = """\
# main.cf of mail.newco.example, written in a hurry
# the new mail server
myhostname = mail.newco.example
mydomain = newco.example
myorigin = $mydomain
mydestination = $myhostname, localhost.$mydomain,
    localhost, $mydomain
"""


def test_sandbox_solution_passes(sc) -> None:
    sc.net.hosts[SANDBOX].path("/etc/postfix/main.cf").write_text(FIXED)
    assert check_sandbox_main_cf(sc) == []


def test_sandbox_untouched_is_fatal(sc) -> None:
    (problem,) = check_sandbox_main_cf(sc)
    assert "missing '=' after attribute name" in problem


def test_sandbox_only_continuation_fixed(sc) -> None:
    text = BROKEN_MAIN_CF.replace("\nlocalhost", "\n    localhost")
    sc.net.hosts[SANDBOX].path("/etc/postfix/main.cf").write_text(text)
    problems = check_sandbox_main_cf(sc)
    assert problems == [
        "postconf still warns: postconf: warning: /etc/postfix/main.cf: undefined parameter: mydomian",
        "myhostname's value is 'mail.newco.example # the new mail server': postconf reads everything "
        "after '=' as the value",
        "myorigin expands to '', not to 'newco.example'",
    ]


# -- the notebook's hidden solutions, applied where they stand --------------------------------
def test_notebook_solutions_pass_their_checks(tmp_path) -> None:
    from _course_solutions import run_with_solutions
    passed = run_with_solutions("04-configuration-and-administration.ipynb", tmp_path)
    assert passed == {"4.1": True, "4.2": True, "4.3": True, "4.4": True}
