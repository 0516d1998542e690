"""local(8): :include:, |command, /file, .forward, owner- aliases, Maildir, unknown users, limits."""

from __future__ import annotations

import re

import pytest

from _delivery_lab import deliver_now, lab, maillog, postalias, read, split_mbox, stop
from simlab.postfix.commands_registry import register_command, unregister_command
from simlab.postfix.common.queue import QueueStore

MSG = (b"From: <bob@example.com>\nTo: <x@example.com>\nSubject: test\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <t@client.example>\n\nbody line\n")


@pytest.fixture
def ctx(tmp_path):
    c = lab(tmp_path)
    yield c
    stop(c)


def aliases(ctx, text):
    with open(ctx.path("/etc/aliases"), "a") as f:
        f.write(text)
    postalias(ctx.root, "hash:/etc/aliases")


def local_lines(ctx):
    return [re.sub(r"^.*\]: \w+: ", "", ln) for ln in maillog(ctx, "local")]


def test_local_include_is_forwarded_by_reinjection(ctx):
    aliases(ctx, "incl: :include:/etc/postfix/incl.list\n")
    deliver_now(ctx, "bob@example.com", ["incl@example.com"], MSG)
    lines = local_lines(ctx)
    m = re.match(r"to=<incl@example.com>, relay=local, .*status=sent \(forwarded as (\w+)\)", lines[0])
    assert m, lines
    new_qid = m.group(1)
    assert any(ln.startswith(f"{new_qid}: message-id=") for ln in
               [re.sub(r"^.*\]: ", "", x) for x in maillog(ctx, "cleanup")])
    assert lines[1].startswith("to=<bob@example.com>, orig_to=<incl@example.com>, relay=local")
    box = read(ctx, "/var/mail/bob")
    head = box.split("\n\n", 1)[0]
    assert head.splitlines()[1:5] == ["Return-Path: <bob@example.com>", "X-Original-To: incl@example.com",
                                      "Delivered-To: bob@example.com",
                                      "Received: by mail.example.com (Postfix)"]
    assert f"\tid {new_qid}; " in head
    assert "\nDelivered-To: incl@example.com\nReceived: from client.example" not in head
    assert "Delivered-To: incl@example.com\nFrom: <bob@example.com>" in head


def test_local_include_may_not_deliver_to_files_or_commands(ctx):
    ctx.path("/etc/postfix/incl2.list").write_text("/tmp/x.mbox\n|/bin/true\n")
    aliases(ctx, "incl2: :include:/etc/postfix/incl2.list\n")
    deliver_now(ctx, "bob@example.com", ["incl2@example.com"], MSG)
    lines = local_lines(ctx)
    assert "dsn=5.7.1, status=bounced (mail to file is restricted)" in lines[0]
    assert "dsn=5.7.1, status=bounced (mail to command is restricted)" in lines[1]


def test_local_include_errors(ctx):
    aliases(ctx, "rel: :include:relative.list\nmissing: :include:/etc/postfix/nope.list\n")
    deliver_now(ctx, "bob@example.com", ["rel@example.com", "missing@example.com"], MSG)
    text = "\n".join(maillog(ctx))
    assert "warning: :include:relative.list uses a relative path" in text
    assert "warning: unable to lookup :include: file /etc/postfix/nope.list: No such file or directory" in text
    assert text.count("dsn=5.3.5, status=bounced (mail system configuration error)") == 2


def test_local_pipe_command_with_registered_program(ctx):
    seen = {}

    def program(run):
        seen["argv"] = run.argv
        seen["env"] = run.env
        seen["stdin"] = run.stdin
        run.path("/var/spool/labfiles/pipe.out").write_bytes(run.stdin)
        return 0

    register_command(ctx, "/usr/local/bin/lab-alias-pipe", program)
    try:
        aliases(ctx, 'piped: "|/usr/local/bin/lab-alias-pipe"\n')
        deliver_now(ctx, "bob@example.com", ["piped@example.com"], MSG)
    finally:
        unregister_command(ctx, "/usr/local/bin/lab-alias-pipe")
    assert local_lines(ctx)[0].endswith(
        "status=sent (delivered to command: /usr/local/bin/lab-alias-pipe)")
    assert seen["argv"] == ["/usr/local/bin/lab-alias-pipe"]
    env = seen["env"]
    assert (env["SENDER"], env["RECIPIENT"], env["LOCAL"], env["DOMAIN"], env["USER"]) == \
        ("bob@example.com", "piped@example.com", "piped", "example.com", "piped")
    out = seen["stdin"].decode()
    assert out.startswith("From bob@example.com  Tue Nov 24 ")
    assert out.split("\n")[1:4] == ["Return-Path: <bob@example.com>", "X-Original-To: piped@example.com",
                                    "Delivered-To: piped@example.com"]
    assert out.endswith("body line\n")            # no blank line appended for commands


@pytest.mark.parametrize("status,dsn,word,reason", [
    (75, "4.3.0", "deferred", "temporary failure"),
    (67, "5.1.1", "bounced", "user unknown"),
    (3, "5.3.0", "bounced", 'Command died with status 3: "/usr/local/bin/failing". Command output: oops'),
])
def test_local_pipe_command_exit_status(ctx, status, dsn, word, reason):
    def program(run):
        run.print("oops")
        return status

    register_command(ctx, "/usr/local/bin/failing", program)
    try:
        aliases(ctx, 'fails: "|/usr/local/bin/failing"\n')
        deliver_now(ctx, "bob@example.com", ["fails@example.com"], MSG)
    finally:
        unregister_command(ctx, "/usr/local/bin/failing")
    line = local_lines(ctx)[0]
    assert f"dsn={dsn}, status={word} ({reason}" in line


def test_local_file_destination_in_alias(ctx):
    deliver_now(ctx, "bob@example.com", ["filed@example.com"], MSG)
    assert local_lines(ctx)[0].endswith("status=sent (delivered to file: /var/spool/labfiles/filed.mbox)")
    box = read(ctx, "/var/spool/labfiles/filed.mbox")
    assert box.split("\n")[1:4] == ["Return-Path: <bob@example.com>", "X-Original-To: filed@example.com",
                                    "Delivered-To: filed@example.com"]
    assert box.endswith("body line\n\n")


def test_local_unknown_user_bounces_with_dsn(ctx):
    deliver_now(ctx, "bob@example.com", ["nosuch@example.com"], MSG)
    assert 'dsn=5.1.1, status=bounced (unknown user: "nosuch")' in local_lines(ctx)[0]
    bob = split_mbox(read(ctx, "/var/mail/bob"))
    assert len(bob) == 1
    assert "Subject: Undelivered Mail Returned to Sender" in bob[0]
    assert '<nosuch@example.com>: unknown user: "nosuch"' in bob[0]
    assert "Status: 5.1.1\nDiagnostic-Code: X-Postfix; unknown user: \"nosuch\"" in bob[0]


def test_local_required_alias_missing_is_discarded(ctx):
    ctx.path("/etc/aliases").write_text("root: alice\n")
    postalias(ctx.root, "hash:/etc/aliases")
    deliver_now(ctx, "bob@example.com", ["postmaster@example.com"], MSG)
    text = "\n".join(maillog(ctx, "local"))
    assert "warning: required alias not found: postmaster" in text
    assert "dsn=2.0.0, status=sent (discarded)" in text


def test_local_alias_to_itself_delivers_to_user(ctx):
    aliases(ctx, "alice2: alice\nbob: bob, alice\n")
    deliver_now(ctx, "carl@example.com", ["bob@example.com"], MSG)
    lines = local_lines(ctx)
    assert any(ln.startswith("to=<bob@example.com>, relay=local") and "delivered to mailbox" in ln
               for ln in lines)
    assert any(ln.startswith("to=<alice@example.com>, orig_to=<bob@example.com>") for ln in lines)


def test_local_owner_alias_changes_sender_of_forwarded_mail(ctx):
    aliases(ctx, "list: alice, outside@relay.example\nowner-list: bob\n")
    ctx.config = ctx.config.clone(transport_maps="")
    deliver_now(ctx, "carl@example.com", ["list@example.com"], MSG)
    lines = local_lines(ctx)
    assert any("forwarded as" in ln for ln in lines)
    queued = QueueStore(ctx)
    fwd = [qid for q in ("incoming", "active", "deferred") for qid in queued.list(q)]
    senders = {queued.read(queued.find(q), q).sender for q in fwd}
    assert senders == {"owner-list@example.com"}


def test_local_forward_file_sendmail_style(ctx):
    ctx.path("/home/alice/.forward").write_text("# comment\n\\alice, bob\n")
    deliver_now(ctx, "carl@example.com", ["alice@example.com"], MSG)
    lines = local_lines(ctx)
    assert lines[0].startswith("to=<alice@example.com>, relay=local") and "delivered to mailbox" in lines[0]
    assert re.search(r"to=<alice@example.com>, relay=local, .* \(forwarded as \w+\)", "\n".join(lines))
    assert read(ctx, "/var/mail/alice").count("\nDelivered-To: alice@example.com\n") == 1
    bob = read(ctx, "/var/mail/bob")
    assert "Delivered-To: bob@example.com" in bob and "Delivered-To: alice@example.com" in bob


def test_local_forward_extension_file(ctx):
    ctx.path("/home/alice/.forward+lists").write_text("bob\n")
    deliver_now(ctx, "carl@example.com", ["alice+lists@example.com"], MSG)
    assert "forwarded as" in local_lines(ctx)[0]
    assert read(ctx, "/var/mail/alice") == ""


def test_local_extension_falls_back_to_user(ctx):
    deliver_now(ctx, "carl@example.com", ["team+x@example.com", "alice+y@example.com"], MSG)
    lines = local_lines(ctx)
    assert any(ln.startswith("to=<alice@example.com>, orig_to=<team+x@example.com>") for ln in lines)
    assert any(ln.startswith("to=<alice+y@example.com>, relay=local") for ln in lines)
    assert "Delivered-To: alice+y@example.com" in read(ctx, "/var/mail/alice")


def test_local_home_mailbox_maildir(ctx):
    ctx.config = ctx.config.clone(home_mailbox="Maildir/")
    deliver_now(ctx, "bob@example.com", ["alice@example.com"], MSG)
    assert local_lines(ctx)[0].endswith("status=sent (delivered to maildir)")
    files = list(ctx.path("/home/alice/Maildir/new").iterdir())
    assert len(files) == 1 and files[0].name.endswith(".mail.example.com")
    text = files[0].read_text()
    assert text.startswith("Return-Path: <bob@example.com>\nX-Original-To: alice@example.com\n"
                           "Delivered-To: alice@example.com\n")
    assert text.endswith("body line\n")


def test_local_mailbox_command(ctx):
    """mailbox_command is not $name-expanded (postconf(5)): "$EXTENSION" is the shell's variable."""
    got = []
    register_command(ctx, "/usr/bin/procmail", lambda run: got.append((run.argv, run.uid)) or 0)
    try:
        ctx.config = ctx.config.clone(mailbox_command='/usr/bin/procmail -a "$EXTENSION" -d $USER $user')
        deliver_now(ctx, "bob@example.com", ["alice+x@example.com"], MSG)
    finally:
        unregister_command(ctx, "/usr/bin/procmail")
    assert got == [(["/usr/bin/procmail", "-a", "x", "-d", "alice"], 1000)]      # $user: unset
    assert local_lines(ctx)[0].endswith(
        'status=sent (delivered to command: /usr/bin/procmail -a "$EXTENSION" -d $USER $user)')


def test_local_mailbox_size_limit(ctx):
    ctx.config = ctx.config.clone(mailbox_size_limit="300", message_size_limit="200")
    deliver_now(ctx, "bob@example.com", ["alice@example.com"], MSG)
    line = local_lines(ctx)[0]
    assert "dsn=5.2.2, status=bounced (cannot update mailbox /var/mail/alice for user alice. " \
           "error writing message: File too large)" in line


def test_local_locked_mailbox_is_retried_then_delivered(ctx):
    lock = ctx.path("/var/mail/alice.lock")
    lock.write_text("")

    async def unlock_later():
        await ctx.sleep(2.5)
        lock.unlink()

    ctx.loop.create_task(unlock_later())
    deliver_now(ctx, "bob@example.com", ["alice@example.com"], MSG)
    line = local_lines(ctx)[0]
    assert "delay=3, delays=0/0/0/3" in line and "delivered to mailbox" in line


def test_local_luser_relay(ctx):
    ctx.config = ctx.config.clone(luser_relay="alice")
    deliver_now(ctx, "bob@example.com", ["nobody1@example.com"], MSG)
    assert local_lines(ctx)[0].startswith("to=<alice@example.com>, orig_to=<nobody1@example.com>")


def test_local_alias_loop_is_bounced(ctx):
    aliases(ctx, "loop1: loop2\nloop2: loop1\n")
    deliver_now(ctx, "bob@example.com", ["loop1@example.com"], MSG)
    first = local_lines(ctx)[:2]
    assert first[0].startswith("recipient nesting limit exceeded for loop")
    assert first[1].startswith("to=<loop")
    assert "dsn=5.4.6, status=bounced (recipient nesting limit exceeded)" in first[1]
    assert "Undelivered Mail Returned to Sender" in read(ctx, "/var/mail/bob")


def test_local_verify_only_reports_without_delivering(ctx):
    from simlab.postfix.bounce import TRACE_USR_VRFY
    deliver_now(ctx, "root@example.com", ["alice@example.com", "nosuch@example.com"], MSG,
                attrs={"trace_flags": str(TRACE_USR_VRFY)})
    lines = local_lines(ctx)
    assert "dsn=2.0.0, status=deliverable (delivers to mailbox)" in lines[0]
    assert 'dsn=5.1.1, status=undeliverable (unknown user: "nosuch")' in lines[1]
    box = read(ctx, "/var/mail/alice")
    report = split_mbox(box)
    assert len(report) == 1 and "Subject: Mail Delivery Status Report" in report[0]
    assert "<alice@example.com>: delivery via local: delivers to mailbox" in report[0]
    assert "Action: undeliverable" in report[0]


def test_local_mailbox_transport_hands_recipient_over(ctx):
    ctx.config = ctx.config.clone(mailbox_transport="discard:handed over")
    deliver_now(ctx, "bob@example.com", ["alice@example.com"], MSG)
    line = maillog(ctx, "discard")[0]
    assert line.endswith("to=<alice@example.com>, relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, "
                         "status=sent (handed over)")
    assert read(ctx, "/var/mail/alice") == ""
    assert maillog(ctx, "qmgr")[-1].endswith("removed")


def test_local_fallback_transport_for_unknown_users(ctx):
    ctx.config = ctx.config.clone(fallback_transport="error:5.1.1 no such mailbox here")
    deliver_now(ctx, "bob@example.com", ["nosuch@example.com", "alice@example.com"], MSG)
    assert "dsn=5.1.1, status=bounced (no such mailbox here)" in maillog(ctx, "error")[0]
    assert "delivered to mailbox" in "\n".join(maillog(ctx, "local"))
    assert "<nosuch@example.com>: no such mailbox here" in read(ctx, "/var/mail/bob")


@pytest.mark.parametrize("home_mailbox", ["", "Maildir/"])
def test_local_flushes_the_mailbox_before_reporting_sent_when_fsync_is_on(ctx, monkeypatch, home_mailbox):
    # Postfix's mail_copy() fsyncs the mailbox (mbox or the Maildir tmp file) before the
    # delivery counts; under simlab serve (ctx.fsync) local(8) does the same.
    import os
    flushed: list[str] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    ctx.fsync = True
    ctx.config = ctx.config.clone(home_mailbox=home_mailbox)
    deliver_now(ctx, "bob@example.com", ["alice@example.com"], MSG)
    assert local_lines(ctx)[-1].split("status=")[1].startswith("sent")
    box = "/var/mail/alice" if not home_mailbox else "/home/alice/Maildir/tmp/"
    assert any(box in path for path in flushed), flushed
