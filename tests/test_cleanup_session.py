"""cleanup(8): address rewriting, virtual aliases, missing headers, header/body checks, the queue file."""

from __future__ import annotations

import os
import re

import pytest

from postfix_lab import Lab
from simlab.postfix.cleanup import ClientInfo, open_cleanup, received_local
from simlab.postfix.common.queue import QueueStore, Recipient

INSIDE = ClientInfo(name="localhost", addr="127.0.0.1", port=40000, helo="client.example", protocol="ESMTP")
OUTSIDE = ClientInfo(name="localhost", addr="127.0.0.1", port=40000, helo="client.example", protocol="ESMTP",
                     rewrite_context="remote")
MSG = b"From: <bob@example.com>\nTo: <alice@example.com>\nSubject: t\nMessage-ID: <t@client.example>\n\nbody\n"


def run(lab: Lab, sender: str, rcpts: list[str], content: bytes = MSG, client: ClientInfo = INSIDE):
    cs = open_cleanup(lab.ctx, lab.ctx.config, client)
    result = lab.run(cs.finish(sender, [Recipient(address=r, orig=r) for r in rcpts], content, {}))
    qf = None
    if result.ok:
        qs = QueueStore(lab.ctx)
        for q in ("incoming", "hold"):
            if result.qid in qs.list(q):
                qf = qs.read(q, result.qid)
                qf.queue = q  # type: ignore[attr-defined]
    return result, qf


def cleanup_log(lab: Lab) -> list[str]:
    return [ln.split(": ", 2)[2] for ln in lab.maillog() if "/cleanup[" in ln]


@pytest.fixture
def lab(tmp_path):
    return Lab(tmp_path)


def test_cleanup_envelope_rewriting_keeps_the_original(lab):
    result, qf = run(lab, "bob", ["alice", "alice@example.com.", "ALICE@EXAMPLE.COM", "Postmaster"])
    assert result.ok and qf.sender == "bob@example.com"
    assert [(r.address, r.orig) for r in qf.recipients] == [
        ("alice@example.com", "alice"), ("alice@example.com", "alice@example.com."),
        ("ALICE@EXAMPLE.COM", "ALICE@EXAMPLE.COM"), ("Postmaster@example.com", "Postmaster")]


def test_cleanup_virtual_alias_expansion(lab):
    result, qf = run(lab, "bob@example.com", ["sales@alias.example", "list@alias.example",
                                              "anything@catchall.example", "sales@example.com"])
    got = [(r.address, r.orig) for r in qf.recipients]
    assert got == [("bob@example.com", "sales@alias.example"), ("alice@example.com", "sales@alias.example"),
                   ("team@example.com", "list@alias.example"), ("bob@example.com", "anything@catchall.example"),
                   ("bob@example.com", "sales@example.com")]


def test_cleanup_virtual_alias_duplicates_and_loops(tmp_path):
    lab = Lab(tmp_path, "virtual_alias_maps = inline:{ a@example.com=b@example.com, b@example.com=a@example.com,"
                        " { self@example.com=self@example.com, alice@example.com } }\n")
    result, qf = run(lab, "bob@example.com", ["self@example.com", "self@example.com"])
    assert [r.address for r in qf.recipients] == ["self@example.com", "alice@example.com"]
    result, qf = run(lab, "bob@example.com", ["a@example.com"])
    assert not result.ok and result.reply == "451 4.6.0 Alias expansion error"
    assert any("unreasonable virtual_alias_maps map nesting for a@example.com" in x for x in cleanup_log(lab))


def test_cleanup_extension_propagates_through_virtual(tmp_path):
    lab = Lab(tmp_path, "virtual_alias_maps = inline:{ info@example.com=alice@example.com }\n")
    result, qf = run(lab, "bob@example.com", ["info+news@example.com"])
    assert [r.address for r in qf.recipients] == ["alice+news@example.com"]


def test_cleanup_missing_headers_local_context(lab):
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"just a body line\n")
    text = qf.content.decode()
    assert text == (f"Message-Id: <20261124133650.{result.qid}@mail.example.com>\n"
                    "Date: Tue, 24 Nov 2026 13:36:50 +0000 (UTC)\nFrom: bob@example.com\n\njust a body line\n")
    assert cleanup_log(lab) == [f"message-id=<20261124133650.{result.qid}@mail.example.com>"]


def test_cleanup_missing_headers_remote_context_and_null_sender(lab):
    result, qf = run(lab, "", ["alice@example.com"], b"Subject: x\n\nbody\n", client=OUTSIDE)
    assert qf.content == b"Subject: x\n\nbody\n"
    assert cleanup_log(lab) == ["message-id=<>"]
    result, qf = run(lab, "", ["alice@example.com"], b"Subject: x\n\nbody\n")
    assert qf.content.decode().endswith("From: MAILER-DAEMON\n\nbody\n")


def test_cleanup_long_queue_id_message_id(tmp_path):
    lab = Lab(tmp_path, "enable_long_queue_ids = yes\n")
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"x\n")
    assert f"Message-Id: <{result.qid}@mail.example.com>" in qf.content.decode()


def test_cleanup_header_address_rewriting_only_local(tmp_path):
    lab = Lab(tmp_path, "sender_canonical_maps = inline:{ bob@example.com=robert@example.com }\n")
    msg = b"From: Bob <bob>\nTo: alice, Team <team>\nCc: carol@vmail.example\nSubject: hi\n\nx\n"
    result, qf = run(lab, "bob", ["alice@example.com"], msg)
    assert qf.sender == "robert@example.com"
    head = qf.content.decode().split("\n\n")[0]
    assert "From: Bob <robert@example.com>\n" in head + "\n"
    assert "To: alice@example.com, Team <team@example.com>\n" in head + "\n"   # joined: under 70 columns
    assert "Cc: carol@vmail.example\n" in head + "\n"
    result, qf = run(lab, "bob", ["alice@example.com"], msg, client=OUTSIDE)
    assert qf.content.decode().startswith("From: Bob <bob>\nTo: alice, Team <team>\n")


def test_cleanup_header_checks_actions(tmp_path):
    lab = Lab(tmp_path, "header_checks = regexp:{{/^Subject: spam/ REJECT no spam please}, {/^X-Drop:/ IGNORE},"
                        " {/^Subject: hold/ HOLD}, {/^Subject: warn/ WARN looked odd}, {/^Subject: gone/ DISCARD},"
                        " {/^X-Old:/ REPLACE X-New: yes}}\nbody_checks = regexp:{{/^secret/ REJECT}}\n")
    result, _ = run(lab, "bob@example.com", ["alice@example.com"], b"Subject: spam now\n\nx\n")
    assert not result.ok and result.reply == "550 5.7.1 no spam please"
    assert any(x.startswith("reject: header Subject: spam now from localhost[127.0.0.1]; from=<bob@example.com> "
                            "to=<alice@example.com> proto=ESMTP helo=<client.example>: 5.7.1 no spam please")
               for x in cleanup_log(lab))
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"Subject: hold me\nX-Drop: 1\nX-Old: 1\n\nx\n")
    assert qf.queue == "hold" and b"X-Drop" not in qf.content and b"X-New: yes\n" in qf.content
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"Subject: warn me\n\nx\n")
    assert qf.queue == "incoming"
    assert any(x.startswith("warning: header Subject: warn me") and x.endswith(": looked odd")
               for x in cleanup_log(lab))
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"Subject: gone\n\nx\n")
    assert result.ok and qf is None
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"Subject: b\n\nsecret text\n")
    assert not result.ok and result.reply == "550 5.7.1 message content rejected"


def test_cleanup_drops_return_path_and_counts_hops(lab):
    hops = b"".join(b"Received: from h%d\n" % i for i in range(49))
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], b"Return-Path: <x@y>\n" + hops + b"S: 1\n\nx\n")
    assert result.ok and not qf.content.startswith(b"Return-Path")
    result, qf = run(lab, "bob@example.com", ["alice@example.com"], hops + b"Received: from h50\n\nx\n")
    assert not result.ok and result.reply == "554 5.4.0 Error: too many hops"


def test_cleanup_abort_logs_only_message_id(lab):
    cs = open_cleanup(lab.ctx, lab.ctx.config, INSIDE)
    cs.abort(b"Subject: cut\n\npartial body\n")
    assert cleanup_log(lab) == [f"message-id=<20261124133650.{cs.qid}@mail.example.com>"]
    assert QueueStore(lab.ctx).list("incoming") == []


def test_cleanup_wakes_qmgr_after_the_file_exists(lab):
    seen = []
    lab.ctx.events.subscribe("qmgr", lambda: seen.append(QueueStore(lab.ctx).list("incoming")))
    result, _ = run(lab, "bob@example.com", ["alice@example.com"])
    assert seen == [[result.qid]]


def test_cleanup_received_local_shape():
    text = received_local(myhostname="mail.example.com", mail_name="Postfix", uid=0, qid="4677B160562",
                          when=1795527410.0).decode()
    assert re.fullmatch(r"Received: by mail\.example\.com \(Postfix, from userid 0\)\n"
                        r"\tid 4677B160562; Tue, 24 Nov 2026 13:36:50 \+0000 \(UTC\)\n", text)


def test_cleanup_local_submission_fullname_and_extract(lab):
    local = ClientInfo(name="", addr="", port=0, protocol="")
    cs = open_cleanup(lab.ctx, lab.ctx.config, local)
    result = lab.run(cs.finish("bob@example.com", [Recipient(address="alice@example.com", orig="alice@example.com")],
                               b"Subject: via sendmail\n\nbody line\n", {}, fullname="root"))
    qf = QueueStore(lab.ctx).read("incoming", result.qid)
    assert qf.content.decode().endswith("Date: Tue, 24 Nov 2026 13:36:50 +0000 (UTC)\n"
                                        "From: root <bob@example.com>\n\nbody line\n")
    assert qf.fullname == "root"
    cs = open_cleanup(lab.ctx, lab.ctx.config, local)
    result = lab.run(cs.finish("root", [], b"To: alice@example.com\nBcc: bob\nSubject: -t\n\nbody\n", {},
                               fullname="root", extract=True))
    qf = QueueStore(lab.ctx).read("incoming", result.qid)
    assert [(r.address, r.extracted) for r in qf.recipients] == [("alice@example.com", True),
                                                                  ("bob@example.com", True)]
    assert b"Bcc:" not in qf.content and b"From: root <root@example.com>\n" in qf.content
    cs = open_cleanup(lab.ctx, lab.ctx.config, local)
    result = lab.run(cs.finish("root", [], b"Subject: nobody\n\nx\n", {}, extract=True))
    assert not result.ok and result.reply == "550 5.1.0 Error: no recipients specified"


def test_cleanup_header_rewrites_are_remembered_per_config_only(tmp_path):
    # No canonical table: the rewritten header values depend on main.cf alone
    # (remembered per Config object); a reload with another myorigin rewrites anew.
    from simlab.postfix.config import load_config
    lab = Lab(tmp_path)
    msg = b"From: Bob <bob>\nTo: alice\nSubject: hi\n\nx\n"
    for _ in range(2):
        result, qf = run(lab, "bob", ["alice@example.com"], msg)
        assert qf.content.decode().startswith("From: Bob <bob@example.com>\nTo: alice@example.com\n")
    with open(lab.root / "etc/postfix/main.cf", "a") as f:
        f.write("myorigin = other.example\n")
    lab.ctx.config = load_config(lab.root / "etc/postfix", facts=lab.ctx.config._facts)
    result, qf = run(lab, "bob", ["alice@example.com"], msg)
    assert qf.content.decode().startswith("From: Bob <bob@other.example>\nTo: alice@other.example\n")


def test_cleanup_header_rewrites_search_a_changed_canonical_table(tmp_path):
    lab = Lab(tmp_path, "canonical_maps = texthash:/etc/postfix/canonical\n")
    table = lab.root / "etc/postfix/canonical"
    msg = b"From: <bob@example.com>\nSubject: hi\n\nx\n"
    for target in ("robert@example.com", "bobby@example.com"):
        table.write_text(f"bob@example.com {target}\n")
        os.utime(table, ns=(0, len(target) * 1_000_000_000))   # a new stamp for the table
        result, qf = run(lab, "carol@example.com", ["alice@example.com"], msg)
        assert qf.content.decode().startswith(f"From: <{target}>\n")
