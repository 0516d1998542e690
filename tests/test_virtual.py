"""virtual(8): Maildir and mbox mailboxes under virtual_mailbox_base, uid checks, unknown users."""

from __future__ import annotations

import re

import pytest

from _delivery_lab import deliver_now, lab, maillog, postmap, read, split_mbox, stop

MSG = (b"From: <bob@example.com>\nTo: <carol@vmail.example>\nSubject: v\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <v@client.example>\n\nFrom here on\n")


@pytest.fixture
def ctx(tmp_path):
    c = lab(tmp_path)
    yield c
    stop(c)


def lines(ctx):
    return [re.sub(r"^.*\]: \w+: ", "", ln) for ln in maillog(ctx, "virtual")]


def test_virtual_maildir_with_trailing_slash(ctx):
    deliver_now(ctx, "bob@example.com", ["carol@vmail.example"], MSG)
    assert lines(ctx)[0].startswith("to=<carol@vmail.example>, relay=virtual, delay=0, "
                                    "delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)")
    new = ctx.path("/var/mail/vhosts/vmail.example/carol/new")
    files = list(new.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert text.startswith("Return-Path: <bob@example.com>\nX-Original-To: carol@vmail.example\n"
                           "Delivered-To: carol@vmail.example\nFrom: <bob@example.com>\n")
    assert text.endswith("\n\nFrom here on\n")       # no ">From" quoting in Maildir
    for sub in ("cur", "tmp"):
        assert ctx.path(f"/var/mail/vhosts/vmail.example/carol/{sub}").is_dir()


def test_virtual_mbox_without_trailing_slash(ctx):
    deliver_now(ctx, "bob@example.com", ["dave@vmail.example"], MSG)
    assert lines(ctx)[0].endswith("status=sent (delivered to mailbox)")
    box = read(ctx, "/var/mail/vhosts/vmail.example/dave")
    msgs = split_mbox(box)
    assert len(msgs) == 1
    assert msgs[0].split("\n")[0].startswith("From bob@example.com  Tue Nov 24 ")
    assert msgs[0].split("\n")[1:4] == ["Return-Path: <bob@example.com>",
                                        "X-Original-To: dave@vmail.example",
                                        "Delivered-To: dave@vmail.example"]
    assert msgs[0].endswith("\n\n>From here on\n\n")


def test_virtual_unknown_user_bounces(ctx):
    deliver_now(ctx, "bob@example.com", ["nosuch@vmail.example"], MSG)
    assert 'dsn=5.1.1, status=bounced (unknown user: "nosuch@vmail.example")' in lines(ctx)[0]
    assert "Undelivered Mail Returned to Sender" in read(ctx, "/var/mail/bob")


def test_virtual_catchall_and_extension_lookup(ctx):
    (ctx.root / "etc/postfix/vmailbox").write_text(
        "carol@vmail.example vmail.example/carol/\n@other.vmail catchall\n")
    postmap(ctx.root, "hash:/etc/postfix/vmailbox")
    ctx.config = ctx.config.clone(virtual_mailbox_domains="vmail.example other.vmail")
    deliver_now(ctx, "bob@example.com", ["carol+tag@vmail.example", "who@other.vmail"], MSG)
    ls = lines(ctx)
    assert all("status=sent" in ln for ln in ls), ls
    assert "Delivered-To: carol+tag@vmail.example" in \
        next(ctx.path("/var/mail/vhosts/vmail.example/carol/new").iterdir()).read_text()
    assert "Delivered-To: who@other.vmail" in read(ctx, "/var/mail/vhosts/catchall")


def test_virtual_bad_uid_defers(ctx):
    ctx.config = ctx.config.clone(virtual_uid_maps="static:50")
    deliver_now(ctx, "bob@example.com", ["carol@vmail.example"], MSG)
    text = "\n".join(maillog(ctx, "virtual"))
    assert "warning: recipient carol@vmail.example: bad uid 50 in static:50" in text
    assert "dsn=4.3.5, status=deferred (mail system configuration error)" in text


def test_virtual_forwarding_loop(ctx):
    msg = b"Delivered-To: carol@vmail.example\n" + MSG
    deliver_now(ctx, "bob@example.com", ["carol@vmail.example"], msg)
    assert "dsn=5.4.6, status=bounced (mail forwarding loop for carol@vmail.example)" in lines(ctx)[0]
