"""Seams between the programs, mostly through the running system on the virtual network:
ETRN -> flush(8), sendmail -t through pickup/cleanup, cleanup's master.cf -o overrides,
queue file time stamps after postsuper -H/-r, local(8) |command programs, agents in the
process table, ASCII-only numbers in the parsers, one RFC 822 tokenizer and one passwd
parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _queue_lab import install_lab
from postfix_lab import smtp_session, submit_queued
from simlab import Network
from simlab.postfix.system import PostfixSystem

SLOW_RETRY = {"minimal_backoff_time": "1000s", "maximal_backoff_time": "4000s", "queue_run_delay": "1000s"}


def _start(tmp_path: Path, master_cf_extra: str = "", **main_cf: str) -> tuple[Network, PostfixSystem]:
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    root = install_lab(host.root, **main_cf)
    if master_cf_extra:
        with open(root / "etc/postfix/master.cf", "a") as f:
            f.write(master_cf_extra)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    return net, pf


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Network, PostfixSystem]]:
    """The lab with retries far apart, so an early retry can only come from a flush or release."""
    net, pf = _start(tmp_path, **SLOW_RETRY)
    yield net, pf
    net.run_sync(pf.stop())


def submit(net: Network, rcpts: list[str], body: bytes = b"Subject: gaps\n\nhello\n") -> str:
    return submit_queued(net, rcpts, body)


def attempts(pf: PostfixSystem, qid: str, rcpt: str) -> list[str]:
    return [line for line in pf.ctx.log.lines if f"{qid}: to=<{rcpt}>" in line]


# -- 1. ETRN -> flush(8) -> qmgr -----------------------------------------------------------
def test_etrn_retries_the_sites_deferred_mail_at_once(slow: Any) -> None:
    net, pf = slow
    host = net["mail.example.com"]
    qid = submit(net, ["user1@deferred.example"])
    other = submit(net, ["user2@relay.example"])            # relay.example's sink is not running either
    net.run(until=net.now + 1)
    assert pf.store.find(qid) == "deferred" and len(attempts(pf, qid, "user1@deferred.example")) == 1
    assert pf.store.find(other) == "deferred"

    replies = net.run_sync(smtp_session(host, ["EHLO client.example", "ETRN deferred.example"]))
    assert replies[-1] == "250 Queuing started"
    net.run(until=net.now + 1)
    tries = attempts(pf, qid, "user1@deferred.example")
    assert len(tries) == 2 and "status=deferred" in tries[1]
    assert len(attempts(pf, other, "user2@relay.example")) == 1   # another site's mail waits


def test_etrn_for_a_site_outside_fast_flush_domains_flushes_nothing(slow: Any) -> None:
    net, pf = slow
    host = net["mail.example.com"]
    qid = submit(net, ["user1@deferred.example"])
    net.run(until=net.now + 1)
    replies = net.run_sync(smtp_session(host, ["EHLO client.example", "ETRN elsewhere.example"]))
    assert replies[-1] == "459 <elsewhere.example>: service unavailable"
    net.run(until=net.now + 1)
    assert len(attempts(pf, qid, "user1@deferred.example")) == 1 and pf.store.find(qid) == "deferred"


# -- 4. queue file time stamps on the virtual clock ------------------------------------------
def test_postsuper_release_is_retried_at_the_next_deferred_scan(tmp_path: Path) -> None:
    net, pf = _start(tmp_path, minimal_backoff_time="1000s", maximal_backoff_time="4000s",
                     queue_run_delay="5s")
    try:
        qid = submit(net, ["user1@deferred.example"])
        net.run(until=net.now + 12)                      # two deferred scans: not due before +1000s
        path = pf.store.locate("deferred", qid)
        assert path is not None and path.stat().st_mtime == pytest.approx(pf.ctx.now() - 12 + 1000, abs=1)
        assert len(attempts(pf, qid, "user1@deferred.example")) == 1

        assert pf.command("postsuper", "-h", qid).rc == 0
        net.run(until=net.now + 100)
        assert pf.command("postsuper", "-H", qid).rc == 0
        released = pf.store.locate("deferred", qid)
        assert released is not None and released.stat().st_mtime == pytest.approx(pf.ctx.now(), abs=1e-3)
        net.run(until=net.now + 6)                       # the next scan of the deferred queue
        tries = attempts(pf, qid, "user1@deferred.example")
        assert len(tries) == 2 and "status=deferred" in tries[1]
    finally:
        net.run_sync(pf.stop())


def test_postsuper_requeue_stamps_the_virtual_time(tmp_path: Path) -> None:
    net, pf = _start(tmp_path, **SLOW_RETRY)
    try:
        qid = submit(net, ["user1@deferred.example"])
        net.run(until=net.now + 1)
        assert pf.command("postsuper", "-r", qid).rc == 0
        path = pf.store.locate("maildrop", qid)
        assert path is not None and path.stat().st_mtime == pytest.approx(pf.ctx.now(), abs=1e-3)
        net.run(until=net.now + 61)                      # pickup's wake-up -> cleanup -> qmgr
        requeued = [line for line in pf.ctx.log.lines if f"orig_id={qid}" in line]
        assert len(requeued) == 1
        new_qid = requeued[0].split("]: ", 1)[1].split(":", 1)[0]
        assert len(attempts(pf, new_qid, "user1@deferred.example")) == 1
        path = pf.store.locate("deferred", new_qid)
        assert path is not None and path.stat().st_mtime > pf.ctx.now() + 900
    finally:
        net.run_sync(pf.stop())


# -- 2. sendmail -t: recipients from the headers, Bcc: removed --------------------------------
def test_sendmail_t_delivers_to_header_recipients_without_bcc(slow: Any) -> None:
    net, pf = slow
    msg = ("To: alice@example.com\nCc: Bob <bob@example.com>\nBcc: erin@example.com\n"
           "Subject: sendmail -t\n\nbody\n")
    assert pf.command("sendmail", "-t", "-i", stdin=msg).rc == 0
    assert pf.command("postqueue", "-f").rc == 0           # wakes pickup now
    net.run(until=net.now + 1)
    host = net["mail.example.com"]
    for user in ("alice", "bob", "erin"):
        (got,) = host.mailbox(user)
        assert got["Subject"] == "sendmail -t" and got["Bcc"] is None
        assert got["To"] == "alice@example.com" and got["Cc"] == "Bob <bob@example.com>"
    (line,) = [ln for ln in pf.ctx.log.lines if "(queue active)" in ln]
    assert line.endswith("nrcpt=3 (queue active)")


def test_pickup_keeps_extracted_recipients_after_the_x_record(slow: Any) -> None:
    net, pf = slow
    msg = "To: alice@example.com\nBcc: erin@example.com\nSubject: held\n\nbody\n"
    pf.command("postconf", "-e", "header_checks=regexp:/etc/postfix/hold_checks")
    (pf.ctx.root / "etc/postfix/hold_checks").write_text("/^Subject: held/ HOLD\n")
    pf.ctx.reload()
    assert pf.command("sendmail", "-t", "-i", "bob@example.com", stdin=msg).rc == 0
    assert pf.command("postqueue", "-f").rc == 0
    net.run(until=net.now + 1)
    (qid,) = pf.store.list("hold")
    qf = pf.store.read("hold", qid)
    assert [(r.address, r.extracted) for r in qf.recipients] == [
        ("bob@example.com", False), ("alice@example.com", True), ("erin@example.com", True)]
    out = pf.command("postcat", "-q", qid).stdout
    assert "*** HEADER EXTRACTED" in out and out.split("*** HEADER EXTRACTED", 1)[1].count("\nrecipient: ") == 2
    assert "Bcc:" not in out


# -- 3. cleanup reads its own master.cf -o overrides -----------------------------------------
CLEANUP_SERVICES = """\
127.0.0.1:2600 inet n   -       n       -       -       smtpd
  -o syslog_name=postfix/checked
  -o cleanup_service_name=cleanup2
cleanup2  unix  n       -       n       -       0       cleanup
  -o syslog_name=postfix/checked
  -o header_checks=regexp:/etc/postfix/cleanup2_checks
"""


def test_cleanup_uses_the_master_cf_overrides_of_its_service(tmp_path: Path) -> None:
    net, pf = _start(tmp_path, CLEANUP_SERVICES, **SLOW_RETRY)
    try:
        (pf.ctx.root / "etc/postfix/cleanup2_checks").write_text("/^Subject: reject me/ REJECT no thanks\n")
        host = net["mail.example.com"]
        session = ["EHLO client.example", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>", "DATA"]
        body = b"Subject: reject me\n\nhello\n"
        refused = net.run_sync(smtp_session(host, session, body, port=2600))
        assert refused[-1] == "550 5.7.1 no thanks"
        accepted = net.run_sync(smtp_session(host, session, body, port=25))     # cleanup: main.cf only
        assert accepted[-1].startswith("250 2.0.0 Ok: queued as ")
        lines = pf.ctx.log.lines
        assert any("postfix/checked/cleanup[" in ln and ": reject: header Subject: reject me from " in ln
                   and ln.endswith(": 5.7.1 no thanks") for ln in lines)
        qid = accepted[-1].rsplit(" ", 1)[1]
        assert any("postfix/cleanup[" in ln and f"{qid}: message-id=" in ln for ln in lines)
    finally:
        net.run_sync(pf.stop())


# -- 6. every delivery agent runs as a process in the master's table --------------------------
def test_agents_show_in_the_process_table_under_their_logged_pids(slow: Any) -> None:
    net, pf = slow
    submit(net, ["alice@example.com", "user1@deferred.example", "x@discard.example"])
    assert pf.command("sendmail", "-f", "bob@example.com", "y@nowhere.test", stdin="Subject: x\n\ny\n").rc == 0
    assert pf.command("postqueue", "-f").rc == 0            # smtpd refuses that one; the error agent bounces it
    net.run(until=net.now + 1)
    ps = pf.ps()
    for program in ("local", "smtp", "discard", "error"):
        rows = [row.split() for row in ps.splitlines()[2:]]
        rows = [r for r in rows if r[4] == program and "-n" not in r and r[5:7] == ["-t", "unix"]]
        assert len(rows) == 1, (program, ps)
        pid = rows[0][1]
        logged = [ln for ln in pf.ctx.log.lines if f" postfix/{program}[" in ln and ": to=<" in ln]
        assert logged and all(f"postfix/{program}[{pid}]:" in ln for ln in logged)


# -- 5. one registry of programs per host for local(8) and pipe(8) ----------------------------
def test_alias_pipe_runs_the_program_registered_on_the_host(slow: Any) -> None:
    from simlab.postfix.commands_registry import CommandRun, register_command, unregister_command
    net, pf = slow
    host = net["mail.example.com"]
    runs: list[CommandRun] = []

    def program(run: CommandRun) -> int:
        runs.append(run)
        return 0 if len(runs) == 1 else 75
    register_command(host, "/usr/local/bin/x", program)
    try:
        with open(pf.ctx.root / "etc/aliases", "a") as f:
            f.write('xpipe: "|/usr/local/bin/x --flag value"\n')
        assert pf.command("newaliases").rc == 0
        qid = submit(net, ["xpipe@example.com"])
        net.run(until=net.now + 1)
        second = submit(net, ["xpipe@example.com"])            # this time the program says EX_TEMPFAIL
        net.run(until=net.now + 1)
    finally:
        unregister_command(host, "/usr/local/bin/x")
    assert [r.argv for r in runs] == [["/usr/local/bin/x", "--flag", "value"]] * 2
    assert runs[0].env["RECIPIENT"] == "xpipe@example.com" and runs[0].user == "nobody"
    assert runs[0].stdin.startswith(b"From bob@example.com  ") and runs[0].stdin.endswith(b"\nhello\n")
    first = attempts(pf, qid, "xpipe@example.com")
    assert len(first) == 1 and first[0].endswith(
        "status=sent (delivered to command: /usr/local/bin/x --flag value)")
    (again,) = attempts(pf, second, "xpipe@example.com")
    assert "dsn=4.3.0, status=deferred (temporary failure)" in again


# -- 9. numbers are ASCII digits: str.isdigit() also says yes to "²", which int() refuses -------
UNICODE_DIGITS = st.text(alphabet=st.sampled_from("0123456789²³¹٣०①"), min_size=1, max_size=4)


@given(UNICODE_DIGITS, UNICODE_DIGITS)
def test_dns_wire_parsers_refuse_non_ascii_numbers(qid: str, ttl: str) -> None:
    from simlab.dns.wire import parse_query, parse_record
    for parse, line in ((parse_query, f"QUERY {qid} example.com. IN MX"),
                        (parse_record, f"example.com. {ttl} IN A 10.0.0.25")):
        try:
            parse(line)
        except ValueError:
            assert not (line.split()[1].isascii() and line.split()[1].isdigit())
        else:
            assert line.split()[1].isascii()


def test_smtpd_size_and_bdat_with_superscript_digits(slow: Any) -> None:
    net, _pf = slow
    host = net["mail.example.com"]
    before = len(net.loop.exceptions)
    replies = net.run_sync(smtp_session(host, ["EHLO client.example", "MAIL FROM:<bob@example.com> SIZE=1²",
                                       "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>",
                                       "BDAT ²"]))
    assert replies[2] == "501 5.5.4 Bad message size syntax"
    assert replies[-1] == "521 5.5.4 Syntax: BDAT count [LAST]"   # as Postfix 3.7.11 answers (measured)
    assert len(net.loop.exceptions) == before


# -- 7. one RFC 822 tokenizer, one passwd parser ----------------------------------------------
ADDRESS_TEXT = st.text(alphabet=st.sampled_from('ab.@%!:;,<>()[]"\\ \tx1'), max_size=30)


@given(ADDRESS_TEXT)
def test_tok822_list_and_linked_tokens_read_the_same(text: str) -> None:
    from simlab.postfix.maps import tok822
    toks = tok822.tokenize(text)
    assert [(t.type, t.text) for t in toks] == [(t.type, t.text) for t in _siblings(tok822.scan(text))]
    first = tok822.scan(text)
    assert tok822.internalize(toks) == tok822.internalize(first)
    assert tok822.externalize(toks) == tok822.externalize(first)


def _siblings(tp: Any) -> list[Any]:
    return tp.siblings() if tp is not None else []


def test_tok822_quotes_local_parts_as_postfix_does() -> None:
    from simlab.postfix.maps.tok822 import quote_822_local, unquote_822_local
    assert quote_822_local("first last@example.com") == '"first last"@example.com'
    assert quote_822_local("@relay.example:a b@example.com") == '@relay.example:"a b"@example.com'
    assert quote_822_local('x"y\r@example.com') == '"x\\"y\\\r"@example.com'
    assert quote_822_local("alice.smith@example.com") == "alice.smith@example.com"
    assert unquote_822_local('"first last"@example.com') == "first last@example.com"


def test_passwd_is_read_by_one_parser(tmp_path: Path) -> None:
    from simlab.postfix.common import PostfixContext, read_passwd
    from simlab.sim import rootfs
    root = rootfs.init_root(tmp_path / "h", "mail.example.com", users=["alice"])
    with open(root / "etc/passwd", "a") as f:
        f.write("# a comment\n\nbroken:x:²:1:::\nalice:x:9999:9999::/elsewhere:/bin/sh\n")
    assert read_passwd is rootfs.read_passwd
    ctx = PostfixContext.create(root, hostname="mail.example.com")
    assert rootfs.accounts(root) == list(ctx.passwd().values())
    assert ctx.passwd()["alice"].home == "/home/alice" and "broken" not in ctx.passwd()
