"""The delivery log line (delay rounding), and the error, retry and discard agents through qmgr."""

from __future__ import annotations

import pytest

from _delivery_lab import lab, maillog, read, start_qmgr, stop, submit
from simlab.postfix.common.delivery_log import MsgStats, delay_text, delivery_text, format_tv
from simlab.postfix.common.queue import QueueStore
from simlab.postfix.error import split_dsn

MSG = b"Subject: x\nMessage-ID: <x@client.example>\n\nbody\n"


@pytest.mark.parametrize("seconds,text", [
    (0, "0"), (0.004, "0"), (0.005, "0.01"), (0.0149, "0.01"), (0.82, "0.82"), (0.8149, "0.81"),
    (0.999, "1"), (1.1499, "1.1"), (1.15, "1.2"), (2.06, "2.1"), (9.96, "10"), (12.6, "13"),
    (123.4, "123"), (3600, "3600"), (0.1, "0.1"), (0.25, "0.25"),
])
def test_delivery_log_format_tv(seconds, text):
    assert format_tv(seconds) == text


def test_delivery_log_resolution_limit():
    assert format_tv(0.0049, 2, 3) == "0.005"
    assert format_tv(0.82, 2, 0) == "1"
    assert format_tv(0.123456, 2, 6) == "0.12"


def test_delivery_log_delays_split():
    s = MsgStats(incoming_arrival=100.0, active_arrival=100.82, agent_handoff=100.83,
                 conn_setup_done=100.85, deliver_done=101.2)
    assert delay_text(s, 999) == "delay=1.2, delays=0.82/0.01/0.02/0.35"
    no_agent = MsgStats(incoming_arrival=100.0, active_arrival=102.0)
    assert delay_text(no_agent, 103.0) == "delay=3, delays=2/1/0/0"
    no_qmgr = MsgStats(incoming_arrival=100.0)
    assert delay_text(no_qmgr, 100.5) == "delay=0.5, delays=0.5/0/0/0"


def test_delivery_log_orig_to_only_when_different():
    s = MsgStats(incoming_arrival=10.0, active_arrival=10.0, agent_handoff=10.0)
    same = delivery_text("Q", "ALICE@EXAMPLE.COM", "alice@example.com", "local", s, 10.0, "2.0.0", "sent", "ok")
    assert "orig_to" not in same
    diff = delivery_text("Q", "alice@example.com", "team@example.com", "local", s, 10.0, "2.0.0", "sent", "ok")
    assert diff == ("Q: to=<alice@example.com>, orig_to=<team@example.com>, relay=local, delay=0, "
                    "delays=0/0/0/0, dsn=2.0.0, status=sent (ok)")
    reuse = MsgStats(incoming_arrival=10.0, reuse_count=2)
    assert ", relay=x, conn_use=3, delay=" in delivery_text("Q", "a@b", "", "x", reuse, 10.0, "2.0.0", "sent", "ok")


def test_error_split_dsn():
    assert split_dsn("5.1.1 User unknown in virtual alias table", "5.0.0") == \
        ("5.1.1", "User unknown in virtual alias table")
    assert split_dsn("no outbound in this lab", "5.0.0") == ("5.0.0", "no outbound in this lab")


@pytest.fixture
def ctx(tmp_path):
    c = lab(tmp_path)
    yield c
    stop(c)


def test_error_agent_bounces_default_transport(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["user@other.example"], MSG))
    ctx.loop.run()
    line = maillog(ctx, "error")[0]
    assert line.endswith(f"{qid}: to=<user@other.example>, relay=none, delay=0, delays=0/0/0/0, "
                         "dsn=5.0.0, status=bounced (no outbound in this lab)")
    assert "<user@other.example>: no outbound in this lab" in read(ctx, "/var/mail/bob")
    assert QueueStore(ctx).find(qid) is None


def test_error_agent_as_retry_defers(ctx):
    ctx.config = ctx.config.clone(default_transport="retry:try later")
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["user@other.example"], MSG))
    ctx.loop.run()
    assert "dsn=4.0.0, status=deferred (try later)" in maillog(ctx, "error")[0]
    assert QueueStore(ctx).find(qid) == "deferred"


def test_soft_bounce_defers_instead(ctx):
    ctx.config = ctx.config.clone(soft_bounce="yes")
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["nosuch@example.com"], MSG))
    ctx.loop.run()
    assert 'dsn=4.1.1, status=deferred (unknown user: "nosuch")' in maillog(ctx, "local")[0]
    assert QueueStore(ctx).find(qid) == "deferred"
    assert read(ctx, "/var/mail/bob") == ""


def test_discard_agent(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "perf@example.com", ["sink@discard.example"], MSG))
    ctx.loop.run()
    assert maillog(ctx, "discard")[0].endswith(
        f"{qid}: to=<sink@discard.example>, relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, "
        "status=sent (lab discard)")
    assert f"{qid}: removed" in "\n".join(ctx.log.lines)
