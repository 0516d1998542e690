"""bounce(8): DSN messages byte for byte against the reference, logs, templates, line wrapping."""

from __future__ import annotations

import calendar
import re
import time

import pytest

from _delivery_lab import (lab, log_keys, normalize, postmap, queue_steps, read, scenario,
                           smtpd_content, split_mbox, start_qmgr, stop, submit)
from simlab.postfix.bounce import (BUILTIN, LogRecord, Original, append_log, build_dsn, line_wrap,
                                   read_log, remove_log)
from simlab.postfix.bounce.log import decode_records, encode_record
from simlab.postfix.common.queue import QueueStore, Recipient

REFUSED = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"
HELLO = b"Hello from the Postfix reference battery.\n"


@pytest.fixture
def ctx(tmp_path):
    c = lab(tmp_path)
    yield c
    stop(c)


def _epoch(date: str) -> float:
    t = time.strptime(date.replace("(UTC)", "").strip(), "%a, %d %b %Y %H:%M:%S +0000")
    return float(calendar.timegm(t))


def _reference_dsn(entry: str) -> tuple[str, str, float, float]:
    """(text from Date: on without cleanup's Message-Id, queue id, arrival, posting time)."""
    head_start = entry.index("\nDate: ") + 1
    text = entry[head_start:]
    text = re.sub(r"(?m)^Message-Id: <[^>]*>\n", "", text, count=1)
    assert text.endswith("\n\n")
    text = text[:-1]                         # the mbox separator line
    boundary = re.search(r'boundary="(\w+)\.(\d+)/', text)
    arrival = _epoch(re.search(r"Arrival-Date: (.*)", text).group(1))
    return text, boundary.group(1), arrival, float(boundary.group(2))


def _original_part(text: str) -> bytes:
    part = text.rsplit("\nReturn-Path: <", 1)[1].split("\n", 1)[1]
    return part.rsplit("\n\n--", 1)[0].encode() + b"\n"


def _check(ctx, entry, tmpl, sender, records, *, envid="", ret_headers, dest="bob@example.com",
           postmaster=False):
    want, qid, arrival, now = _reference_dsn(entry)
    content = _original_part(want)
    if ret_headers:
        content += b"\n" + HELLO
    orig = Original(qid=qid, sender=sender, arrival=arrival, content=content, size=len(content),
                    envid=envid)
    warnings = []
    got = build_dsn(ctx, BUILTIN[tmpl], orig, records, dest=dest, postmaster_copy=postmaster,
                    ret_headers=ret_headers, now=now, warn=warnings.append).decode()
    assert got == want
    return warnings


def test_bounce_failure_dsn_bytes_remote_reject(ctx):
    entry = split_mbox(next(d for d in scenario("31_relay_inside_remote_bounce")["deliveries"]
                            if d["file"] == "var/mail/bob")["content"])[-1]
    rec = LogRecord(recipient="user@bounce.example", status="5.3.0", action="failed",
                    reason="host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed "
                           "(in reply to RCPT TO command)", original_recipient="user@bounce.example",
                    dsn_orig_rcpt="rfc822;user@bounce.example", diag_type="smtp",
                    diag_text="500 5.3.0 Error: command failed", mta_type="dns", mta_mname="127.0.0.1")
    _check(ctx, entry, "failure", "bob@example.com", [rec], ret_headers=False)


def test_bounce_delay_warning_dsn_bytes(ctx):
    ctx.config = ctx.config.clone(delay_warning_time="1s")
    entry = queue_steps()[12]["deliveries"][1]["content"]
    rec = LogRecord(recipient="late@deferred.example", status="4.4.1", action="delayed", reason=REFUSED,
                    original_recipient="late@deferred.example", dsn_orig_rcpt="rfc822;late@deferred.example")
    warnings = _check(ctx, entry, "delay", "bob@example.com", [rec], ret_headers=True)
    assert warnings == [
        '[built-in]: zero result in delay template conversion of parameter "delay_warning_time_hours"',
        'please reduce time unit "hours" of "delay_warning_time_hours" in delay template',
        "for instructions see the bounce(5) manual"]


def test_bounce_force_expired_dsn_bytes(ctx):
    entry = queue_steps()[14]["deliveries"][1]["content"]
    recs = [LogRecord(recipient=f"{u}@deferred.example", status="4.4.1", action="delayed", reason=REFUSED,
                      original_recipient=f"{u}@deferred.example", dsn_orig_rcpt=f"rfc822;{u}@deferred.example")
            for u in ("user2", "user3")]
    _check(ctx, entry, "failure", "bob@example.com", recs, ret_headers=False)


def test_bounce_success_dsn_bytes(ctx):
    entry = split_mbox(next(d for d in scenario("70_dsn_success")["deliveries"]
                            if d["file"] == "var/mail/bob")["content"])[-1]
    rec = LogRecord(recipient="alice@example.com", status="2.0.0", action="delivered",
                    reason="delivery via local: delivered to mailbox",
                    original_recipient="alice@example.com", dsn_orig_rcpt="rfc822;alice@example.com",
                    notify="SUCCESS,FAILURE")
    _check(ctx, entry, "success", "bob@example.com", [rec], envid="env-123", ret_headers=True)


def test_bounce_verify_report_dsn_bytes(ctx):
    entry = queue_steps()[18]["deliveries"][0]["content"]
    entry = split_mbox(entry)[-1]
    recs = [LogRecord(recipient="alice@example.com", status="2.0.0", action="deliverable",
                      reason="delivery via local: delivers to mailbox",
                      original_recipient="alice@example.com", dsn_orig_rcpt="rfc822;alice@example.com"),
            LogRecord(recipient="nosuch@example.com", status="5.1.1", action="undeliverable",
                      reason='delivery via local: unknown user: "nosuch"',
                      original_recipient="nosuch@example.com", dsn_orig_rcpt="rfc822;nosuch@example.com")]
    _check(ctx, entry, "verify", "root@example.com", recs, ret_headers=True, dest="root@example.com")


def test_bounce_expanded_recipient_and_postmaster_copy(ctx):
    rec = LogRecord(recipient="alice@example.com", status="5.1.1", action="failed", reason="gone",
                    original_recipient="team@example.com")
    orig = Original(qid="ABCDE12345", sender="bob@example.com", arrival=1795527410.0,
                    content=b"Subject: x\n\nbody\n", size=17)
    out = build_dsn(ctx, BUILTIN["failure"], orig, [rec], dest="postmaster", postmaster_copy=True,
                    ret_headers=True, now=1795527420.0, warn=lambda t: None).decode()
    assert "Subject: Postmaster Copy: Undelivered Mail\nTo: postmaster\nAuto-Submitted: auto-generated\n" in out
    assert "Content-Transfer-Encoding: 8bit\n\n\n<alice@example.com> (expanded from <team@example.com>): gone\n" in out
    assert "Original-Recipient: rfc822;team@example.com\n" in out     # as measured (queue/measured_steps.json)
    assert "Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n" in out
    assert out.endswith("Return-Path: <bob@example.com>\nSubject: x\n\n--ABCDE12345.1795527420/mail.example.com--\n")


def test_bounce_size_limit_returns_headers_only(ctx):
    ctx.config = ctx.config.clone(bounce_size_limit="10")
    orig = Original(qid="ABCDE12345", sender="bob@example.com", arrival=1795527410.0,
                    content=b"Subject: x\n\nbody that is long\n", size=30)
    out = build_dsn(ctx, BUILTIN["failure"], orig, [], dest="bob@example.com", postmaster_copy=False,
                    ret_headers=False, now=1795527420.0, warn=lambda t: None).decode()
    assert "Content-Description: Undelivered Message Headers" in out
    assert "body that is long" not in out


def test_bounce_line_wrap():
    assert line_wrap("short") == ["short"]
    text = "<a@b>: " + " ".join(["word"] * 30)
    lines = line_wrap(text)
    assert all(len(x) <= 79 for x in lines)
    assert lines[1].startswith("    word")
    assert line_wrap("x" * 100 + " tail") == ["x" * 100, "    tail"]
    assert " ".join(x.strip() for x in lines) == text


def test_bounce_log_records_roundtrip(ctx):
    rec = LogRecord(recipient="u@x", status="4.4.1", action="delayed", reason="a\nb",
                    original_recipient="o@x", dsn_orig_rcpt="rfc822;o@x", notify="SUCCESS,DELAY", offset=123)
    back = decode_records(encode_record(rec))[0]
    assert (back.recipient, back.reason, back.notify, back.offset) == ("u@x", "a b", "SUCCESS,DELAY", 123)
    append_log(ctx, "defer", "C0FFEE12345", rec)
    path = QueueStore(ctx).path("defer", "C0FFEE12345")
    assert path.parent.name == "C" and path.is_file()
    assert "recipient=u@x\n" in path.read_text() and "reason=a b\n" in path.read_text()
    assert [r.recipient for r in read_log(ctx, "defer", "C0FFEE12345")] == ["u@x"]
    assert remove_log(ctx, "defer", "C0FFEE12345") and not path.exists()
    from simlab.postfix.showq import read_defer_log
    append_log(ctx, "defer", "C0FFEE12345", rec)
    assert read_defer_log(ctx, "C0FFEE12345")[0]["reason"] == "a b"


def test_bounce_template_file(ctx):
    ctx.path("/etc/postfix/bounce.cf").write_text(
        "failure_template = <<EOF\nCharset: us-ascii\nFrom: MAILER-DAEMON (Lab Mailer)\n"
        "Subject: It bounced\n\nSorry from $myhostname.\nEOF\n")
    ctx.config = ctx.config.clone(bounce_template_file="/etc/postfix/bounce.cf")
    from simlab.postfix.bounce import load_templates
    t = load_templates(ctx, lambda w: None)["failure"]
    assert (t.subject, t.sender_from, t.text) == ("It bounced", "MAILER-DAEMON (Lab Mailer)",
                                                  ("Sorry from $myhostname.",))
    orig = Original(qid="ABCDE12345", sender="bob@example.com", arrival=1795527410.0,
                    content=b"Subject: x\n\nbody\n", size=17)
    out = build_dsn(ctx, t, orig, [], dest="bob@example.com", postmaster_copy=False, ret_headers=False,
                    now=1795527420.0, warn=lambda w: None).decode()
    assert "From: Lab Mailer <MAILER-DAEMON@example.com>\nSubject: It bounced\n" in out
    assert "\n\nSorry from mail.example.com.\n" in out


# -- the whole path: queue manager, agents, bounce, cleanup, local -------------------------------
def _deferring(ctx):
    t = ctx.path("/etc/postfix/transport")
    t.write_text(t.read_text().replace("deferred.example    smtp:[127.0.0.1]:2599",
                                       f"deferred.example    retry:4.4.1 {REFUSED}"))
    postmap(ctx.root, "hash:/etc/postfix/transport")


def _data(to: str, subject: str) -> bytes:
    return (f"From: <bob@example.com>\nTo: <{to}>\nSubject: {subject}\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <{subject}@client.example>\n\n").encode() + HELLO


def test_bounce_delay_warning_end_to_end(ctx):
    _deferring(ctx)
    ctx.config = ctx.config.clone(delay_warning_time="1s")
    start_qmgr(ctx)
    rcpts = [Recipient("late@deferred.example", "late@deferred.example", "", "rfc822;late@deferred.example")]
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", rcpts,
                                             smtpd_content(ctx, rcpts, _data("late@deferred.example",
                                                                             "queue-delay-warning"))))
    ctx.loop.run()
    step = queue_steps()[12]
    for dl in step["deliveries"]:
        ours = [normalize(m) for m in split_mbox(read(ctx, "/" + dl["file"]))]
        assert ours == [normalize(dl["content"])]
    programs = ("bounce", "qmgr", "local")
    ref = [k for k in log_keys(step["mail_log"], programs)]
    assert sorted(log_keys(ctx.log.lines, programs)) == sorted(ref)
    assert QueueStore(ctx).read("deferred", qid).warn_time == 0
    ctx.loop.run(until=30)
    assert len(split_mbox(read(ctx, "/var/mail/bob"))) == 1       # one warning only


def test_bounce_force_expired_end_to_end(ctx):
    _deferring(ctx)
    start_qmgr(ctx)
    rcpts = [Recipient(a, a, "", f"rfc822;{a}") for a in
             ("user2@deferred.example", "user3@deferred.example", "alice@example.com")]
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", rcpts,
                                             smtpd_content(ctx, rcpts, _data("user2@deferred.example",
                                                                             "queue-two"))))
    ctx.loop.run()
    store = QueueStore(ctx)
    assert store.find(qid) == "deferred"
    store.set_expired("deferred", qid)
    store.move(qid, "deferred", "incoming")
    ctx.events.wakeup("qmgr", "I")
    ctx.loop.run()
    log = "\n".join(ctx.log.lines)
    assert f"{qid}: from=<bob@example.com>, status=force-expired, returned to sender" in log
    assert f"{qid}: removed" in log
    step = queue_steps()[14]
    for dl in step["deliveries"]:
        ours = [normalize(m) for m in split_mbox(read(ctx, "/" + dl["file"]))
                if "Undelivered Mail" in m]
        assert ours == [normalize(dl["content"])]
    assert store.find(qid) is None
