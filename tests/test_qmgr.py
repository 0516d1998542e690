"""qmgr: the queue lifecycle in virtual time -- retries, backoff, expiry, warnings, limits, restarts."""

from __future__ import annotations

import asyncio
import re

import pytest

from _delivery_lab import (lab, maillog, postmap, read, split_mbox, start_qmgr, stop, submit)
from simlab.postfix.common.queue import QueueStore
from simlab.postfix.qmgr import AGENTS, RecipientStatus

REFUSED = "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"
MSG = (b"From: <bob@example.com>\nTo: <late@deferred.example>\nSubject: queue-test\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <queue-test@client.example>\n\n"
       b"Hello from the Postfix reference battery.\n")


def deferring(tmp_path, extra=""):
    """The lab, with deferred.example handled by the retry transport (always 4.4.1 refused)."""
    ctx = lab(tmp_path, extra)
    t = ctx.path("/etc/postfix/transport")
    t.write_text(t.read_text().replace("deferred.example    smtp:[127.0.0.1]:2599",
                                       f"deferred.example    retry:4.4.1 {REFUSED}"))
    postmap(ctx.root, "hash:/etc/postfix/transport")
    return ctx


@pytest.fixture
def ctx(tmp_path):
    c = deferring(tmp_path)
    yield c
    stop(c)


def active_times(ctx, qid):
    t0 = None
    out = []
    for ln in ctx.log.lines:
        if f"{qid}: from=<" in ln and "(queue active)" in ln:
            hh, mm, ss = map(int, ln.split()[2].split(":"))
            t = hh * 3600 + mm * 60 + ss
            t0 = t if t0 is None else t0
            out.append(t - t0)
    return out


def test_qmgr_deferred_mail_is_retried_with_backoff(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["late@deferred.example"], MSG))
    ctx.loop.run(until=61)
    assert active_times(ctx, qid) == [0, 5, 10, 20, 30, 40, 50, 60]
    line = next(ln for ln in ctx.log.lines if "postfix/error[" in ln)
    assert line.endswith(f"{qid}: to=<late@deferred.example>, relay=none, delay=0, delays=0/0/0/0, "
                         f"dsn=4.4.1, status=deferred ({REFUSED})")
    store = QueueStore(ctx)
    assert store.find(qid) == "deferred"
    assert store.path("deferred", qid).parent.name == qid[0]
    from simlab.postfix.bounce import last_reasons
    assert last_reasons(ctx, qid) == {"late@deferred.example": REFUSED}


def test_qmgr_idle_scans_do_not_keep_the_simulation_busy(ctx):
    start_qmgr(ctx)
    ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["late@deferred.example"], MSG))
    reached = ctx.loop.run()
    assert reached < 1.0


def test_qmgr_delivers_and_removes(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["alice@example.com"], MSG))
    ctx.loop.run()
    qm = [ln.split("]: ", 1)[1] for ln in maillog(ctx, "qmgr")]
    assert re.fullmatch(rf"{qid}: from=<bob@example.com>, size=\d+, nrcpt=1 \(queue active\)", qm[0])
    assert qm[1:] == [f"{qid}: removed"]
    assert QueueStore(ctx).find(qid) is None


def test_qmgr_expires_and_returns_to_sender(tmp_path):
    ctx = deferring(tmp_path, "maximal_queue_lifetime = 25s\n")
    try:
        start_qmgr(ctx)
        qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["late@deferred.example"], MSG))
        ctx.loop.run(until=120)
        log = "\n".join(ctx.log.lines)
        assert f"{qid}: from=<bob@example.com>, status=expired, returned to sender" in log
        assert re.search(rf"postfix/bounce\[\d+\]: {qid}: sender non-delivery notification: \w+", log)
        assert f"{qid}: removed" in log
        assert QueueStore(ctx).find(qid) is None
        dsn = split_mbox(read(ctx, "/var/mail/bob"))
        assert len(dsn) == 1
        assert "Subject: Undelivered Mail Returned to Sender" in dsn[0]
        assert "<late@deferred.example>: connect to 127.0.0.1[127.0.0.1]:2599: Connection\n    refused" in dsn[0]
        assert "Action: failed\nStatus: 4.4.1\n" in dsn[0]
        assert active_times(ctx, qid)[-1] == 30
    finally:
        stop(ctx)


def test_qmgr_bounce_of_a_bounce_is_discarded_by_default(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "", ["nosuch@example.com"], MSG))
    ctx.loop.run()
    log = "\n".join(ctx.log.lines)
    assert 'status=bounced (unknown user: "nosuch")' in log
    assert "notification" not in log
    assert f"{qid}: removed" in log
    assert read(ctx, "/var/mail/alice") == ""


def test_qmgr_double_bounce_to_postmaster(tmp_path):
    ctx = deferring(tmp_path, "notify_classes = resource, software, 2bounce\n")
    try:
        start_qmgr(ctx)
        qid = ctx.loop.run_until_complete(submit(ctx, "", ["nosuch@example.com"], MSG))
        ctx.loop.run()
        log = "\n".join(ctx.log.lines)
        m = re.search(rf"{qid}: postmaster non-delivery notification: (\w+)", log)
        assert m
        assert f"{m.group(1)}: from=<double-bounce@example.com>" in log
        box = split_mbox(read(ctx, "/var/mail/alice"))           # postmaster -> root -> alice
        assert len(box) == 1
        assert box[0].startswith("From double-bounce@example.com  ")
        assert "Subject: Postmaster Copy: Undelivered Mail" in box[0]
        assert "Auto-Submitted: auto-generated" in box[0]
        assert "Content-Type: message/rfc822" in box[0]
        assert "X-Postfix-Sender: rfc822; MAILER-DAEMON@example.com" in box[0]
    finally:
        stop(ctx)


def test_qmgr_postmaster_copy_of_bounces(tmp_path):
    ctx = deferring(tmp_path, "notify_classes = bounce\n")
    try:
        start_qmgr(ctx)
        ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["nosuch@example.com"], MSG))
        ctx.loop.run()
        alice = split_mbox(read(ctx, "/var/mail/alice"))
        assert len(alice) == 1 and "Subject: Postmaster Copy: Undelivered Mail" in alice[0]
        assert "Content-Type: text/rfc822-headers" in alice[0]
        assert "I'm sorry to have to inform you" not in alice[0]
        assert "Subject: Undelivered Mail Returned to Sender" in read(ctx, "/var/mail/bob")
    finally:
        stop(ctx)


def test_qmgr_notify_never_suppresses_the_bounce(ctx):
    from simlab.postfix.common.queue import Recipient
    start_qmgr(ctx)
    ctx.loop.run_until_complete(submit(ctx, "bob@example.com",
                                       [Recipient("nosuch@example.com", "nosuch@example.com", "NEVER")], MSG))
    ctx.loop.run()
    assert "notification" not in "\n".join(ctx.log.lines)
    assert read(ctx, "/var/mail/bob") == ""


def test_qmgr_bounce_queue_lifetime_for_null_sender(tmp_path):
    ctx = deferring(tmp_path, "bounce_queue_lifetime = 12s\n")
    try:
        start_qmgr(ctx)
        qid = ctx.loop.run_until_complete(submit(ctx, "", ["late@deferred.example"], MSG))
        ctx.loop.run(until=60)
        log = "\n".join(ctx.log.lines)
        assert f"{qid}: from=<>, status=expired, returned to sender" in log
        assert "notification" not in log
        assert QueueStore(ctx).find(qid) is None
    finally:
        stop(ctx)


def test_qmgr_postqueue_flush_retries_at_once(ctx):
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["late@deferred.example"], MSG))
    ctx.loop.run(until=3)
    assert len(active_times(ctx, qid)) == 1
    ctx.events.wakeup("qmgr", "FADI")
    ctx.loop.run(until=3.5)
    assert len(active_times(ctx, qid)) == 2


def test_qmgr_restart_recovers_active_queue(ctx):
    store = QueueStore(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["alice@example.com"], MSG))
    store.move(qid, "incoming", "active")
    start_qmgr(ctx)
    ctx.loop.run()
    assert "delivered to mailbox" in "\n".join(ctx.log.lines)
    assert store.find(qid) is None


def test_qmgr_missing_transport_defers(ctx):
    (ctx.root / "etc/postfix/transport").write_text("other.example nosuch:\n")
    postmap(ctx.root, "hash:/etc/postfix/transport")
    start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["u@other.example"], MSG))
    ctx.loop.run()
    log = "\n".join(ctx.log.lines)
    assert "postfix/qmgr" in log and "warning: connect to transport private/nosuch: No such file or directory" in log
    assert (f"{qid}: to=<u@other.example>, relay=none, delay=0, delays=0/0/0/0, dsn=4.3.0, "
            "status=deferred (mail transport unavailable)") in log
    assert QueueStore(ctx).find(qid) == "deferred"


def _fake_transport(ctx, name, agent, extra=""):
    with open(ctx.path("/etc/postfix/master.cf"), "a") as f:
        f.write(f"{name} unix - - n - - {name}\n")
    (ctx.root / "etc/postfix/transport").write_text(f"fake.example {name}:\n")
    postmap(ctx.root, "hash:/etc/postfix/transport")
    if extra:
        with open(ctx.path("/etc/postfix/main.cf"), "a") as f:
            f.write(extra)
        ctx.reload()
    AGENTS[name] = agent


def test_qmgr_recipient_limit_and_concurrency(ctx):
    calls = []
    busy = [0, 0]

    async def agent(actx, svc, req):
        busy[0] += 1
        busy[1] = max(busy[1], busy[0])
        calls.append([r.address for r in req.recipients])
        await actx.sleep(10)
        busy[0] -= 1
        return [RecipientStatus(r, "2.0.0", "sent", "ok", "fake") for r in req.recipients]

    _fake_transport(ctx, "fakeagent", agent, "fakeagent_destination_recipient_limit = 2\n"
                    "fakeagent_destination_concurrency_limit = 1\n")
    try:
        start_qmgr(ctx)
        rcpts = [f"u{i}@fake.example" for i in range(5)]
        qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", rcpts, MSG))
        ctx.loop.run()
        assert calls == [["u0@fake.example", "u1@fake.example"], ["u2@fake.example", "u3@fake.example"],
                         ["u4@fake.example"]]
        assert busy[1] == 1
        assert ctx.loop.time() >= 30
        assert f"{qid}: removed" in "\n".join(ctx.log.lines)
    finally:
        AGENTS.pop("fakeagent", None)


def test_qmgr_concurrency_limit_allows_parallel_deliveries(ctx):
    busy = [0, 0]

    async def agent(actx, svc, req):
        busy[0] += 1
        busy[1] = max(busy[1], busy[0])
        await actx.sleep(10)
        busy[0] -= 1
        return [RecipientStatus(r, "2.0.0", "sent", "ok", "fake") for r in req.recipients]

    _fake_transport(ctx, "fakepar", agent, "fakepar_destination_recipient_limit = 1\n"
                    "fakepar_destination_concurrency_limit = 3\n")
    try:
        start_qmgr(ctx)
        ctx.loop.run_until_complete(submit(ctx, "bob@example.com",
                                           [f"u{i}@fake.example" for i in range(4)], MSG))
        ctx.loop.run()
        assert busy[1] == 4           # recipient limit 1: each recipient is its own destination
    finally:
        AGENTS.pop("fakepar", None)


def test_qmgr_agent_statuses_become_bounce_logs(ctx):
    async def agent(actx, svc, req):
        return [RecipientStatus(r, "5.3.0", "bounced",
                                "host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command failed "
                                "(in reply to RCPT TO command)", "127.0.0.1[127.0.0.1]:2528",
                                mta="127.0.0.1", diag="smtp; 500 5.3.0 Error: command failed")
                for r in req.recipients]

    _fake_transport(ctx, "fakebounce", agent)
    try:
        start_qmgr(ctx)
        ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["user@fake.example"], MSG))
        ctx.loop.run()
        dsn = read(ctx, "/var/mail/bob")
        assert "Remote-MTA: dns; 127.0.0.1\nDiagnostic-Code: smtp; 500 5.3.0 Error: command failed\n" in dsn
        assert ("<user@fake.example>: host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command\n"
                "    failed (in reply to RCPT TO command)") in dsn
    finally:
        AGENTS.pop("fakebounce", None)


def test_qmgr_crashing_agent_defers(ctx):
    async def agent(actx, svc, req):
        raise RuntimeError("boom")

    _fake_transport(ctx, "fakecrash", agent)
    try:
        start_qmgr(ctx)
        qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["user@fake.example"], MSG))
        ctx.loop.run()
        assert "status=deferred (unknown mail transport error)" in "\n".join(ctx.log.lines)
        assert QueueStore(ctx).find(qid) == "deferred"
    finally:
        AGENTS.pop("fakecrash", None)


def test_qmgr_stop_finishes_running_deliveries(ctx):
    qmgr = start_qmgr(ctx)
    ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["alice@example.com"], MSG))
    ctx.loop.run_until_complete(qmgr.stop())
    ctx.loop.run_until_complete(asyncio.wait_for(ctx.qmgr_task, 5))
    assert ctx.qmgr_task.done()


def test_qmgr_wait_timer_is_moved_per_wake_up_and_still_runs_the_deferred_queue(ctx):
    """The wait's timer is kept and moved (VirtualLoop.postpone) across wake-ups, not made anew;
    the deferred queue is still scanned queue_run_delay after the last scan, and stopping
    the queue manager cancels the timer."""
    qmgr = start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, "bob@example.com", ["late@deferred.example"], MSG))
    ctx.loop.run()
    timer = qmgr._timer
    assert timer is not None and not timer.cancelled()
    for _ in range(3):      # wake-ups with nothing to do keep the same handle
        qmgr.trigger("I")
        ctx.loop.run()
        assert qmgr._timer is timer
    first = active_times(ctx, qid)
    delay = ctx.config.get_time("queue_run_delay")
    ctx.loop.run(until=ctx.loop.time() + 2 * delay + 1)
    assert len(active_times(ctx, qid)) > len(first)      # retried by the deferred scans
    stop(ctx)
    assert qmgr._timer is None
