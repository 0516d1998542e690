"""Tables as the daemons see them, on the virtual network: a missing FILE.db makes smtpd answer
451 4.3.0 "Temporary lookup failure" and cleanup, qmgr and local defer (never bounce); a FILE.db
older than FILE is reported by each daemon that opens it, on the instance's clock; postfix check
reads main.cf as saved on disk, not the running instance's settings."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from simlab import Network
from simlab.postfix.maps.dynamic import install_plugin
from postfix_lab import smtp_session
from test_content_filter import log_of, start, submit

UNAVAILABLE = ("warning: hash:/etc/postfix/virtual is unavailable. "
               "open database /etc/postfix/virtual.db: No such file or directory")
SESSION = ["EHLO client.example", "MAIL FROM:<bob@example.com>"]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Network, Any]]:
    net, pf = start(tmp_path)
    yield net, pf
    net.run_sync(pf.stop())


def lines_of(pf: Any, program: str, since: int = 0) -> list[str]:
    """``program``'s log texts (after the pid) from line ``since`` on."""
    out = []
    for line in pf.ctx.log.lines[since:]:
        m = re.search(rf" postfix/{program}\[\d+\]: (.*)$", line)
        if m:
            out.append(m.group(1))
    return out


# -- a missing FILE.db -------------------------------------------------------------------
def test_smtpd_answers_temporary_lookup_failure_for_a_missing_database(lab: Any) -> None:
    net, pf = lab
    os.unlink(pf.ctx.root / "etc/postfix/virtual.db")
    host = net["mail.example.com"]
    for port in (25, 2525):                                     # inside and outside client
        replies = net.run_sync(smtp_session(host, [*SESSION, "RCPT TO:<info@alias.example>"], port=port))
        assert replies[-1] == "451 4.3.0 <info@alias.example>: Temporary lookup failure"
    smtpd = lines_of(pf, "smtpd") + lines_of(pf, "outside/smtpd")
    assert "error: open database /etc/postfix/virtual.db: No such file or directory" in smtpd
    assert smtpd.count(UNAVAILABLE) == 2
    assert smtpd.count('warning: hash:/etc/postfix/virtual lookup error for "info@alias.example"') == 2
    assert ("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.0 <info@alias.example>: Temporary lookup "
            "failure; from=<bob@example.com> to=<info@alias.example> proto=ESMTP helo=<client.example>") in smtpd


def test_a_resolver_failure_is_a_temporary_lookup_failure_not_relay_access_denied(tmp_path: Path) -> None:
    net, pf = start(tmp_path, virtual_alias_domains="$virtual_alias_maps")
    try:
        os.unlink(pf.ctx.root / "etc/postfix/virtual.db")
        replies = net.run_sync(smtp_session(net["mail.example.com"], [*SESSION, "RCPT TO:<user@relay.example>"],
                                    port=2525))
        assert replies[-1] == "451 4.3.0 <user@relay.example>: Temporary lookup failure"
    finally:
        net.run_sync(pf.stop())


def test_cleanup_refuses_for_now_and_pickup_retries_after_postmap(lab: Any) -> None:
    net, pf = lab
    os.unlink(pf.ctx.root / "etc/postfix/virtual.db")
    assert pf.command("sendmail", "-f", "bob@example.com", "info@alias.example", stdin="Subject: later\n\nx\n").rc == 0
    assert pf.command("postqueue", "-f").rc == 0
    net.run(until=net.now + 5)
    (dropped,) = pf.store.list("maildrop")                      # still there: nothing bounced
    cleanup = lines_of(pf, "cleanup")
    assert UNAVAILABLE in cleanup and 'warning: hash:/etc/postfix/virtual lookup error for "info@alias.example"' \
        in cleanup
    assert any(re.fullmatch(r"warning: [0-9A-F]+: virtual_alias_maps map lookup problem for info@alias\.example"
                            r" -- message not accepted, try again later", ln) for ln in cleanup)
    assert pf.command("postmap", "/etc/postfix/virtual").rc == 0
    assert pf.command("postqueue", "-f").rc == 0
    net.run(until=net.now + 5)
    assert pf.store.list("maildrop") == []
    (got,) = net["mail.example.com"].mailbox("alice")             # info@alias.example -> alice
    assert got["Subject"] == "later"


def test_smtpd_reinjection_port_without_recipient_checks_gets_the_cleanup_error(tmp_path: Path) -> None:
    net, pf = start(tmp_path, "127.0.0.1:10026 inet n - n - 10 smtpd\n"
                              "  -o receive_override_options=no_unknown_recipient_checks\n")
    try:
        os.unlink(pf.ctx.root / "etc/postfix/virtual.db")
        replies = net.run_sync(smtp_session(net["mail.example.com"], [*SESSION, "RCPT TO:<info@alias.example>", "DATA"],
                                    b"Subject: x\n\nx\n", port=10026))
        assert replies[-3:] == ["250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>",
                                "451 4.3.0 Error: queue file write error"]
    finally:
        net.run_sync(pf.stop())


def test_qmgr_defers_when_the_resolver_cannot_read_a_table(tmp_path: Path) -> None:
    net, pf = start(tmp_path, virtual_alias_domains="$virtual_alias_maps",
                    header_checks="regexp:/etc/postfix/hold_checks")
    try:
        (pf.ctx.root / "etc/postfix/hold_checks").write_text("/^Subject: hold/ HOLD\n")
        qid = submit(net, ["user@relay.example"], b"Subject: hold\n\nx\n")
        assert pf.store.find(qid) == "hold"
        os.unlink(pf.ctx.root / "etc/postfix/virtual.db")
        assert pf.command("postsuper", "-H", qid).rc == 0
        assert pf.command("postqueue", "-f").rc == 0
        net.run(until=net.now + 5)
        assert pf.store.find(qid) == "deferred"
        (line,) = [ln for ln in log_of(pf, qid) if ": to=<" in ln]
        assert line.startswith("postfix/qmgr: to=<user@relay.example>, relay=none, ")
        assert line.endswith("dsn=4.3.0, status=deferred (address resolver failure)")
    finally:
        net.run_sync(pf.stop())


def test_local_defers_when_the_alias_database_is_missing(lab: Any) -> None:
    net, pf = lab
    os.unlink(pf.ctx.root / "etc/aliases.db")
    assert pf.command("sendmail", "-f", "bob@example.com", "alice@example.com", stdin="Subject: x\n\nx\n").rc == 0
    assert pf.command("postqueue", "-f").rc == 0
    net.run(until=net.now + 5)
    local = lines_of(pf, "local")
    assert "error: open database /etc/aliases.db: No such file or directory" in local
    assert ("warning: hash:/etc/aliases is unavailable. open database /etc/aliases.db: No such file or directory"
            in local)
    assert 'warning: hash:/etc/aliases lookup error for "alice"' in local
    (line,) = [ln for ln in local if ": to=<alice@example.com>" in ln]
    assert line.endswith("dsn=4.3.0, status=deferred (alias database unavailable)")
    assert net["mail.example.com"].mailbox("alice") == []


# -- FILE.db older than FILE ---------------------------------------------------------------
STALE = "warning: database /etc/aliases.db is older than source file /etc/aliases"


def test_daemons_warn_about_an_alias_database_older_than_its_source(lab: Any) -> None:
    net, pf = lab
    with open(pf.ctx.root / "etc/aliases", "a") as f:          # edited, newaliases forgotten
        f.write("helpdesk: alice\n")
    submit(net, ["alice@example.com"])                           # the edit is seconds old: not yet
    net.run(until=net.now + 5)
    assert not any(STALE in ln for ln in pf.ctx.log.lines)

    net.run(until=net.now + 200)
    mark = len(pf.ctx.log.lines)
    submit(net, ["alice@example.com"])
    net.run(until=net.now + 5)
    assert lines_of(pf, "smtpd", mark).count(STALE) == 1
    assert lines_of(pf, "local", mark).count(STALE) == 1
    check = pf.command("postfix", "check")
    assert check.stderr == f"postfix/postfix-script: {STALE}\n"

    assert pf.command("newaliases").rc == 0
    net.run(until=net.now + 200)
    mark = len(pf.ctx.log.lines)
    submit(net, ["helpdesk@example.com"])
    net.run(until=net.now + 5)
    assert not any(STALE in ln for ln in pf.ctx.log.lines[mark:])
    assert len(net["mail.example.com"].mailbox("alice")) == 3
    assert pf.command("postfix", "check").stderr == ""


def test_file_times_are_read_on_the_virtual_clock(lab: Any) -> None:
    net, pf = lab
    start_time = pf.ctx.now()
    path = pf.ctx.path("/etc/aliases")
    path.touch()
    written = pf.ctx.file_time(path.stat().st_mtime)
    assert abs(written - start_time) < 60                      # seconds after start, on the virtual timeline
    net.run(until=net.now + 1000)
    assert pf.ctx.file_time(path.stat().st_mtime) == written


# -- postfix check reads the files on disk -----------------------------------------------------
def test_postfix_check_reads_the_saved_main_cf_not_the_running_one(lab: Any) -> None:
    net, pf = lab
    assert pf.command("postfix", "check").stderr == ""
    with open(pf.ctx.root / "etc/postfix/main.cf", "a") as f:
        f.write("myhostname = mail\nvirtual_mailbox_domains = example.com, vmail.example\n")
    running = pf.ctx.config
    result = pf.command("postfix", "check")
    assert result.rc == 0 and result.stderr.splitlines() == [
        "postfix/postfix-script: warning: My hostname mail is not a fully qualified name - "
        "set myhostname or mydomain in /etc/postfix/main.cf",
        "postfix/postfix-script: warning: do not list domain example.com in BOTH mydestination and "
        "virtual_mailbox_domains"]
    assert pf.ctx.config is running and running["myhostname"] == "mail.example.com"
    (pf.ctx.root / "etc/postfix/main.cf").write_text(
        (pf.ctx.root / "etc/postfix/main.cf").read_text().replace("myhostname = mail\n", "")
        .replace("virtual_mailbox_domains = example.com, vmail.example\n", ""))
    pf.ctx.config = running.clone(myhostname="mail")            # the running instance differs from disk
    assert pf.command("postfix", "check").stderr == ""


# -- what a table says while it is read ------------------------------------------------------
BAD_RULE = "regexp map { {/[/ REJECT}, {/^nobody@/ REJECT no such user} }, line 1: Invalid regular expression"  # glibc: a "[" that ends the pattern (measured)


def test_smtpd_logs_a_bad_rule_of_its_table_once_and_skips_it(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_recipient_restrictions=(
        "check_recipient_access regexp:{ {/[/ REJECT}, {/^nobody@/ REJECT no such user} }, "
        "permit_mynetworks, reject_unauth_destination"))
    host = net["mail.example.com"]
    for _ in range(3):
        replies = net.run_sync(smtp_session(host, [*SESSION, "RCPT TO:<nobody@example.com>"]))
        assert replies[-1] == "554 5.7.1 <nobody@example.com>: Recipient address rejected: no such user"
    assert lines_of(pf, "smtpd").count(f"warning: {BAD_RULE}") == 1   # one process, one version
    net.run_sync(pf.stop())


def test_an_inline_table_is_read_once(tmp_path: Path) -> None:
    from test_common_tables_cache import make
    ctx = make(tmp_path)
    install_plugin(ctx.root, "pcre")        # a Debian host has pcre: once postfix-pcre is installed
    for spec in ("regexp:{ {/^a/ OK} }", "pcre:{ {/^a/ OK} }", "cidr:{ {10.0.0.0/8 OK} }"):
        first = ctx.map(spec)
        assert not first.changed() and ctx.map(spec) is first, spec
