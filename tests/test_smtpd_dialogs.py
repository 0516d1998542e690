"""smtpd dialogs beyond the 54 recorded scenarios, checked against the reference README's facts."""

from __future__ import annotations

import re

import pytest

from postfix_lab import Lab

EHLO = "EHLO client.example\r\n"


@pytest.fixture
def lab(tmp_path):
    return Lab(tmp_path)


def talk(lab: Lab, listener: str, cmds: list[str]) -> list[str]:
    """The server's lines, EHLO continuation lines left out."""
    return [ln for ln in lab.run(lab.dialog(listener, cmds)) if not ln.startswith("250-")]


def smtpd_log(lab: Lab) -> list[str]:
    return [ln.split(": ", 1)[1] for ln in lab.maillog() if "/smtpd[" in ln or "/cleanup[" in ln]


def test_smtpd_mail_from_syntax_variants(lab):
    variants = {
        "MAIL FROM: bob@example.com": "250 2.1.0 Ok",
        "MAIL FROM:bob@example.com": "250 2.1.0 Ok",
        "MAIL FROM: <bob@example.com>": "250 2.1.0 Ok",
        "MAIL FROM:<bob @example.com>": "250 2.1.0 Ok",
        "MAIL FROM:<@example.com>": "250 2.1.0 Ok",
        "mail from:<bob@example.com>": "250 2.1.0 Ok",
        "Mail From:<bob@example.com>": "250 2.1.0 Ok",
        "MAIL FROM:<bob@example.com": "501 5.1.7 Bad sender address syntax",
        "MAIL FROM:<bob@@example.com>": "501 5.1.7 Bad sender address syntax",
        "MAIL FROM:<bob@>": "501 5.1.7 Bad sender address syntax",
        "MAIL FROM:": "501 5.5.4 Syntax: MAIL FROM:<address>",
        "MAIL FROM": "501 5.5.4 Syntax: MAIL FROM:<address>",
        "MAIL TO:<bob@example.com>": "501 5.5.4 Syntax: MAIL FROM:<address>",
        "MAIL FROM:<bob@example.com> FOO=bar": "555 5.5.4 Unsupported option: FOO=bar",
        "MAIL FROM:<bob@example.com> BODY=9BIT": "555 5.5.4 Unsupported option: BODY=9BIT",
        "MAIL FROM:<bob@example.com> SIZE=abc": "501 5.5.4 Bad message size syntax",
        "MAIL FROM:<bob@example.com> RET=FULL RET=HDRS": "501 5.5.4 Bad RET parameter syntax",
        "MAIL FROM:<bob@example.com> SIZE=10240001": "552 5.3.4 Message size exceeds fixed limit",
        "MAIL FROM:<bob@example.com> SIZE=10240000": "250 2.1.0 Ok",
        "MAIL FROM:<bob@example.com> SIZE=99999999999999999999":
            "552 5.3.4 Message size exceeds file system imposed limit",
        "MAIL FROM:<> BODY=8BITMIME SMTPUTF8 ENVID=a+2Bb RET=HDRS": "250 2.1.0 Ok",
    }
    cmds = [EHLO]
    for v in variants:
        cmds += [v + "\r\n", "RSET\r\n"]
    lines = talk(lab, "inside", cmds + ["QUIT\r\n"])
    got = lines[2:-1:2]
    assert got == list(variants.values())


def test_smtpd_error_sleep_after_soft_limit_in_virtual_time(lab):
    """17 MAIL variants without RSET: every reply after the 10th error waits 1 s."""
    cmds = [EHLO] + ["MAIL FROM:<bob@example.com>\r\n"] + ["MAIL FROM:<bob@example.com>\r\n"] * 16
    t0 = lab.net.loop.time()
    lines = talk(lab, "inside", cmds + ["QUIT\r\n"])
    assert lines[-2] == "503 5.5.1 Error: nested MAIL command" and lines[-1] == "221 2.0.0 Bye"
    assert 7.0 <= lab.net.loop.time() - t0 < 9.0


def test_smtpd_strict_envelopes_and_helo_required(lab):
    lines = talk(lab, "strict", ["MAIL FROM:<s@outside.example>\r\n", EHLO,
                                 "MAIL FROM: s@outside.example\r\n", "MAIL FROM:<s@outside.example> \r\n",
                                 "RCPT TO:<user@other.example>\r\n", "QUIT\r\n"])
    assert lines[1:] == ["503 5.5.1 Error: send HELO/EHLO first", "250 CHUNKING",
                         "501 5.1.7 Bad sender address syntax", "250 2.1.0 Ok",
                         "554 5.7.1 <user@other.example>: Relay access denied", "221 2.0.0 Bye"]


def test_smtpd_relay_from_inside_hits_error_transport(lab):
    lines = talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<user@other.example>\r\n",
                                 "RCPT TO:<user%other.example@example.com>\r\n", "DATA\r\n", "QUIT\r\n"])
    assert lines[3:] == [
        "550 5.1.1 <user@other.example>: Recipient address rejected: no outbound in this lab",
        "550 5.1.1 <user%other.example@example.com>: Recipient address rejected: no outbound in this lab",
        "554 5.5.1 Error: no valid recipients", "221 2.0.0 Bye"]


@pytest.mark.parametrize("rcpt,shown", [
    ("other.example!user@example.com", "other.example!user@example.com"),
    ("user@other.example@example.com", "user@other.example@example.com"),
    ("other.example!user", "other.example!user"),
    ("\"user@other.example\"@example.com", "user@other.example@example.com"),
])
def test_smtpd_open_relay_forms_from_outside(lab, rcpt, shown):
    lines = talk(lab, "outside", [EHLO, "MAIL FROM:<s@outside.example>\r\n", f"RCPT TO:<{rcpt}>\r\n", "QUIT\r\n"])
    assert lines[3] == f"454 4.7.1 <{shown}>: Relay access denied"


def test_smtpd_mixed_valid_and_invalid_recipients_queue_the_good_one(lab):
    lines = talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<nosuch@example.com>\r\n",
                                 "RCPT TO:<alice@example.com>\r\n", "DATA\r\n", "Subject: x\r\n\r\nx\r\n.\r\n",
                                 "QUIT\r\n"])
    assert lines[3].startswith("550 5.1.1 <nosuch@example.com>")
    assert lines[4] == "250 2.1.5 Ok" and re.match(r"250 2\.0\.0 Ok: queued as [0-9A-F]+$", lines[6])
    assert any(x.startswith("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nosuch@example.com>")
               for x in smtpd_log(lab))


def test_smtpd_vrfy_disabled_and_absent_from_ehlo(lab):
    lines = lab.run(lab.dialog("outside", [EHLO, "VRFY alice\r\n", "QUIT\r\n"]))
    assert "250-VRFY" not in lines
    assert "502 5.5.1 VRFY command is disabled" in lines


def test_smtpd_quit_rset_noop_arguments(lab):
    lines = talk(lab, "inside", [EHLO, "RSET now\r\n", "NOOP hello\r\n", "QUIT now\r\n"])
    assert lines[2:] == ["501 5.5.4 Syntax: RSET", "250 2.0.0 Ok", "221 2.0.0 Bye"]


def test_smtpd_data_after_bdat_and_bdat_counts(lab):
    lines = talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "BDAT 12\r\nSubject: x\r\n", "DATA\r\n", "BDAT 4 LAST\r\n\r\nx\r\n", "QUIT\r\n"])
    assert lines[4:6] == ["250 2.0.0 Ok: 12 bytes", "503 5.5.1 Error: DATA after BDAT"]
    assert re.match(r"250 2\.0\.0 Ok: 18 bytes queued as \w+$", lines[6])   # measured (smtp_measured/1772)


def test_smtpd_whole_transaction_in_one_write_logs_pipelining(lab):
    lines = talk(lab, "inside", [EHLO + "MAIL FROM:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\n"
                                 "DATA\r\nSubject: one\r\n\r\nbody\r\n.\r\nQUIT\r\n"])
    assert lines[2:5] == ["250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"]
    assert lines[-1] == "221 2.0.0 Bye"
    assert any(x.startswith("improper command pipelining after EHLO from localhost[127.0.0.1]: "
                            "MAIL FROM:<bob@example.com>\\r\\nRCPT") for x in smtpd_log(lab))


def test_smtpd_smuggling_with_normalize_stays_one_message(lab):
    from simlab.postfix.common.queue import QueueStore
    payload = "Subject: outer\r\n\r\nouter body\r\n\n.\nMAIL FROM:<evil@example.com>\nRCPT TO:<bob@example.com>\n" \
              "DATA\nsmuggled\n.\r\n"
    lines = talk(lab, "strict", [EHLO, "MAIL FROM:<s@outside.example>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "DATA\r\n", payload, "\r\n.\r\n", "QUIT\r\n"])
    assert re.match(r"250 2\.0\.0 Ok: queued as \w+$", lines[5]) and lines[6] == "221 2.0.0 Bye"
    qs = QueueStore(lab.ctx)
    [qid] = qs.list("incoming")
    content = qs.read("incoming", qid).content.decode()
    assert "MAIL FROM:<evil@example.com>\nRCPT TO:<bob@example.com>\nDATA\nsmuggled\n" in content


def test_smtpd_body_over_message_size_limit(lab):
    body = "Subject: big\r\n\r\n" + ("x" * 100 + "\r\n") * 60 + ".\r\n"
    lines = talk(lab, "limits", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "DATA\r\n", body, "QUIT\r\n"])
    assert lines[-2:] == ["552 5.3.4 Error: message file too big", "221 2.0.0 Bye"]
    assert any(re.match(r"warning: [0-9A-F]+: queue file size limit exceeded$", x) for x in smtpd_log(lab))


def test_smtpd_hopcount_exceeded(lab):
    hops = "".join(f"Received: from h{i}.example by x.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n"
                   for i in range(51))
    lines = talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "DATA\r\n", hops + "Subject: loop\r\n\r\nx\r\n.\r\n", "QUIT\r\n"])
    assert lines[-2] == "554 5.4.0 Error: too many hops"
    assert any(re.match(r"warning: [0-9A-F]+: message rejected: hopcount exceeded$", x) for x in smtpd_log(lab))
    from simlab.postfix.common.queue import QueueStore
    assert QueueStore(lab.ctx).list("incoming") == []


def test_smtpd_timeout_in_virtual_time(lab):
    async def idle():
        reader, writer = await lab.connect("inside")
        first = await reader.readline()
        last = await reader.readline()
        return first, last, lab.net.loop.time()
    first, last, when = lab.run(idle())
    assert last == b"421 4.4.2 mail.example.com Error: timeout exceeded\r\n"
    assert when >= 300
    assert any(x == "timeout after CONNECT from localhost[127.0.0.1]" for x in smtpd_log(lab))


def test_smtpd_client_reset_mid_command_logs_lost_connection(lab):
    async def go():
        reader, writer = await lab.connect("inside")
        await reader.readline()
        writer.write(b"EHLO x.example\r\n")
        for _ in range(10):
            await reader.readline()
        writer.transport.abort()
        await lab.net.loop.sleep(1)
    lab.run(go())
    log = smtpd_log(lab)
    assert "lost connection after EHLO from localhost[127.0.0.1]" in log
    assert log[-1] == "disconnect from localhost[127.0.0.1] ehlo=1 commands=1"


def test_smtpd_etrn_and_unconfigured_extensions(lab):
    lines = talk(lab, "inside", [EHLO, "ETRN\r\n", "ETRN relay.example\r\n", "MAIL FROM:<bob@example.com>\r\n",
                                 "ETRN relay.example\r\n", "QUIT\r\n"])
    assert lines[2:] == ["500 Syntax: ETRN domain", "250 Queuing started", "250 2.1.0 Ok",
                         "503 Error: MAIL transaction in progress", "221 2.0.0 Bye"]   # as measured


def test_smtpd_multi_recipient_received_header(lab):
    from simlab.postfix.common.queue import QueueStore
    talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                         "RCPT TO:<bob@example.com>\r\n", "DATA\r\n", "Subject: two\r\n\r\nx\r\n.\r\n", "QUIT\r\n"])
    qs = QueueStore(lab.ctx)
    [qid] = qs.list("incoming")
    head = qs.read("incoming", qid).content.decode().split("\n")[:3]
    assert head == ["Received: from client.example (localhost [127.0.0.1])",
                    f"\tby mail.example.com (Postfix) with ESMTP id {qid};",
                    "\tTue, 24 Nov 2026 13:36:50 +0000 (UTC)"]


def test_too_many_hops_logs_no_message_id() -> None:
    """Checked against Postfix 3.7.11 on loopback: after 'hopcount exceeded' cleanup logs nothing more."""
    from simlab import Network
    net = Network(seed=1)
    mx = net.host("mail.example.com", ip="10.0.0.25", mta=True, users=["alice"])
    hops = "".join(f"Received: from hop{i}.example by relay{i}.example; Tue, 24 Nov 2026 13:00:00 +0000\r\n"
                   for i in range(51))

    async def send(body: str) -> str:
        r, w = await mx.open_connection("127.0.0.1", 25, component="client")

        async def reply() -> str:
            while True:
                line = await r.readline()
                if line[3:4] != b"-":
                    return line.decode().strip()

        await reply()
        for cmd in (b"EHLO c\r\n", b"MAIL FROM:<bob@example.com>\r\n", b"RCPT TO:<alice@example.com>\r\n", b"DATA\r\n"):
            w.write(cmd)
            await reply()
        w.write(body.encode() + b".\r\n")
        final = await reply()
        w.write(b"QUIT\r\n")
        await reply()
        return final

    assert net.run_sync(send(hops + "Subject: no id\r\n\r\nbody\r\n")) == "554 5.4.0 Error: too many hops"
    assert net.run_sync(send(hops + "Message-ID: <x1@client.example>\r\n\r\nbody\r\n")) == "554 5.4.0 Error: too many hops"
    net.run()
    cleanup = [ln for ln in mx.maillog() if "postfix/cleanup[" in ln]
    assert len(cleanup) == 2 and all("warning: " in ln and "message rejected: hopcount exceeded" in ln
                                     for ln in cleanup)
    net.close()


def test_smtpd_malformed_bdat_is_fatal(lab):
    """Measured on Postfix 3.7.11: a BDAT whose size cannot be read gets 521 and the connection closes."""
    lines = talk(lab, "inside", [EHLO, "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "BDAT x\r\n", "NOOP\r\n"])
    assert lines[-1] == "521 5.5.4 Syntax: BDAT count [LAST]"
