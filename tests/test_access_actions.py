"""access(5) actions that smtpd delegates to cleanup (HOLD, DISCARD, REDIRECT, BCC), access-table
lookup failures, and XFORWARD, on the lab host with the whole mail system running."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from postfix_lab import smtp_session
from test_content_filter import SMTP_FILTER, log_of, new_qid, start

RCPTS = ["alice@example.com", "erin@example.com"]


def send(net: Any, sender: str, rcpts: list[str], body: bytes = b"Subject: t\n\nhi\n") -> list[str]:
    return net.run_sync(smtp_session(net["mail.example.com"], [
        "EHLO client.example", f"MAIL FROM:<{sender}>", *[f"RCPT TO:<{r}>" for r in rcpts], "DATA"], body))


def queued(replies: list[str]) -> str:
    assert replies[-1].startswith("250 2.0.0 Ok: queued as "), replies
    return replies[-1].rsplit(" ", 1)[1]


def smtpd_log(pf: Any) -> list[str]:
    return [ln.split("]: ", 1)[1] for ln in pf.ctx.log.lines if " postfix/smtpd[" in ln]


def mailboxes(net: Any, *users: str) -> dict[str, int]:
    host = net["mail.example.com"]
    return {u: len(host.mailbox(u)) for u in users}


def test_hold_puts_the_message_on_hold_until_postsuper_releases_it(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_recipient_restrictions="check_recipient_access inline:{ erin@example.com=HOLD }")
    try:
        qid = queued(send(net, "bob@example.com", RCPTS))
        net.run(until=net.now + 5)
        assert pf.store.find(qid) == "hold"
        # the second recipient triggered it: the queue file was open, so smtpd logs the queue id
        assert f"{qid}: hold: RCPT from localhost[127.0.0.1]: <erin@example.com>: Recipient address triggers " \
               "HOLD action; from=<bob@example.com> to=<erin@example.com> proto=ESMTP helo=<client.example>" \
               in smtpd_log(pf)
        assert mailboxes(net, "alice", "erin") == {"alice": 0, "erin": 0}
        assert not any(": to=<" in ln for ln in log_of(pf, qid))
        assert pf.command("postsuper", "-H", qid).rc == 0 and pf.store.find(qid) == "deferred"
        assert pf.command("postqueue", "-f").rc == 0
        net.run(until=net.now + 5)
        assert mailboxes(net, "alice", "erin") == {"alice": 1, "erin": 1}
    finally:
        net.run_sync(pf.stop())


def test_hold_text_and_noqueue_when_the_first_recipient_triggers_it(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_sender_restrictions="check_sender_access inline:{ { bob@example.com=HOLD"
                                                        " waiting for review } }")
    try:
        qid = queued(send(net, "bob@example.com", RCPTS))
        assert pf.store.find(qid) == "hold"
        holds = [ln for ln in smtpd_log(pf) if ": hold: " in ln]
        assert holds == ["NOQUEUE: hold: RCPT from localhost[127.0.0.1]: <bob@example.com>: Sender address "
                         "waiting for review; from=<bob@example.com> to=<alice@example.com> proto=ESMTP "
                         "helo=<client.example>"]                 # logged once per transaction
        assert "access_hold" not in pf.store.read("hold", qid).attrs
    finally:
        net.run_sync(pf.stop())


def test_discard_accepts_and_drops_the_message(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_sender_restrictions="check_sender_access inline:{ bob@example.com=DISCARD }")
    try:
        qid = queued(send(net, "bob@example.com", RCPTS))
        net.run(until=net.now + 5)
        assert pf.store.find(qid) is None
        assert "NOQUEUE: discard: RCPT from localhost[127.0.0.1]: <bob@example.com>: Sender address triggers " \
               "DISCARD action; from=<bob@example.com> to=<alice@example.com> proto=ESMTP " \
               "helo=<client.example>" in smtpd_log(pf)
        assert mailboxes(net, "alice", "erin") == {"alice": 0, "erin": 0}
        assert not any(": to=<" in ln or "qmgr" in ln for ln in log_of(pf, qid))
        # the next transaction of the session is not affected
        other = queued(send(net, "erin@example.com", ["alice@example.com"]))
        net.run(until=net.now + 5)
        assert pf.store.find(other) is None and mailboxes(net, "alice") == {"alice": 1}
    finally:
        net.run_sync(pf.stop())


def test_redirect_replaces_every_recipient(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_sender_restrictions="check_sender_access inline:{ { bob@example.com=REDIRECT"
                                                        " bob } }")
    # "bob" has no @: refused with a warning, the message goes where it was sent
    try:
        queued(send(net, "bob@example.com", ["alice@example.com"]))
        net.run(until=net.now + 5)
        assert any('warning: access table inline:{ { bob@example.com=REDIRECT bob } } entry "bob@example.com"'
                   " requires user@domain target" in ln for ln in pf.ctx.log.lines)
        assert mailboxes(net, "alice", "bob") == {"alice": 1, "bob": 0}
    finally:
        net.run_sync(pf.stop())
    net, pf = start(tmp_path / "2", smtpd_recipient_restrictions="check_recipient_access inline:{"
                    " { alice@example.com=REDIRECT nobody@example.com }, { erin@example.com=REDIRECT erin@example.com } }")
    try:
        qid = queued(send(net, "robot@example.com", RCPTS))
        net.run(until=net.now + 5)
        log = smtpd_log(pf)
        assert "NOQUEUE: redirect: RCPT from localhost[127.0.0.1]: <alice@example.com>: Recipient address " \
               "triggers REDIRECT nobody@example.com; from=<robot@example.com> to=<alice@example.com> " \
               "proto=ESMTP helo=<client.example>" in log
        assert f"{qid}: redirect: RCPT from localhost[127.0.0.1]: <erin@example.com>: Recipient address " \
               "triggers REDIRECT erin@example.com; from=<robot@example.com> to=<erin@example.com> " \
               "proto=ESMTP helo=<client.example>" in log
        # the last REDIRECT wins; one delivery, for the first original recipient
        (line,) = [ln for ln in log_of(pf, qid) if ": to=<" in ln]
        assert line.startswith("postfix/local: to=<erin@example.com>, orig_to=<alice@example.com>, relay=local, ")
        assert mailboxes(net, "alice", "erin") == {"alice": 0, "erin": 1}
    finally:
        net.run_sync(pf.stop())


def test_bcc_adds_recipients(tmp_path: Path) -> None:
    # HOLD keeps the queue file where the test can read it
    net, pf = start(tmp_path, smtpd_sender_restrictions="check_sender_access inline:{ bob@example.com=HOLD }",
                    smtpd_recipient_restrictions="check_recipient_access inline:{"
                    " { alice@example.com=BCC bob@example.com }, { erin@example.com=BCC robot@example.com } }")
    try:
        qid = queued(send(net, "bob@example.com", RCPTS, b"Subject: copies\n\nhi\n"))
        qf = pf.store.read("hold", qid)
        assert [(r.address, r.orig, r.notify) for r in qf.recipients] == [
            ("alice@example.com", "alice@example.com", ""), ("erin@example.com", "erin@example.com", ""),
            ("bob@example.com", "bob@example.com", "NEVER"), ("robot@example.com", "robot@example.com", "NEVER")]
        assert not any(k.startswith("access_") for k in qf.attrs)
        assert "NOQUEUE: bcc: RCPT from localhost[127.0.0.1]: <alice@example.com>: Recipient address triggers " \
               "BCC bob@example.com; from=<bob@example.com> to=<alice@example.com> proto=ESMTP " \
               "helo=<client.example>" in smtpd_log(pf)
        assert pf.command("postsuper", "-H", qid).rc == 0 and pf.command("postqueue", "-f").rc == 0
        net.run(until=net.now + 5)
        (copy,) = net["mail.example.com"].mailbox("bob")
        assert copy["Subject"] == "copies" and "bob@example.com" not in str(copy.get("To", ""))
        assert mailboxes(net, "alice", "erin") == {"alice": 1, "erin": 1}
    finally:
        net.run_sync(pf.stop())


# -- a check_*_access table that cannot be searched -------------------------------------------
def test_a_missing_access_database_refuses_for_now(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_sender_restrictions="check_sender_access hash:/etc/postfix/sender_access",
                    smtpd_client_restrictions="check_client_access hash:/etc/postfix/client_access")
    root = pf.ctx.root
    (root / "etc/postfix/client_access").write_text("10.9.9.9 REJECT\n")
    assert pf.command("postmap", "/etc/postfix/client_access").rc == 0
    (root / "etc/postfix/sender_access").write_text("spam@bad.example REJECT\n")   # never indexed
    try:
        replies = send(net, "bob@example.com", ["alice@example.com"])
        assert replies[3] == "451 4.3.5 <bob@example.com>: Sender address rejected: Server configuration error"
        log = smtpd_log(pf)
        assert "error: open database /etc/postfix/sender_access.db: No such file or directory" in log
        assert log.count("warning: hash:/etc/postfix/sender_access is unavailable. open database "
                         "/etc/postfix/sender_access.db: No such file or directory") == 1
        assert "warning: hash:/etc/postfix/sender_access: table lookup problem" in log
        assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 451 4.3.5 <bob@example.com>: Sender address " \
               "rejected: Server configuration error; from=<bob@example.com> to=<alice@example.com> " \
               "proto=ESMTP helo=<client.example>" in log
        # the client table works, and once the sender table is indexed mail flows again
        assert pf.command("postmap", "/etc/postfix/sender_access").rc == 0
        queued(send(net, "bob@example.com", ["alice@example.com"]))
        (root / "etc/postfix/client_access.db").unlink()
        replies = send(net, "bob@example.com", ["alice@example.com"])
        assert replies[3] == "451 4.3.5 <localhost[127.0.0.1]>: Client host rejected: Server configuration error"
    finally:
        net.run_sync(pf.stop())


# -- XFORWARD ----------------------------------------------------------------------------------
def test_xforward_is_for_authorized_clients_only(tmp_path: Path) -> None:
    net, pf = start(tmp_path, SMTP_FILTER)
    host = net["mail.example.com"]
    try:
        ehlo = net.run_sync(_lines(host, 25, ["EHLO client.example", "XFORWARD NAME=spoof.example", "QUIT"]))
        assert not any("XFORWARD" in ln for ln in ehlo[:-2])
        assert ehlo[-2] == "550 5.7.0 Error: insufficient authorization"
        got = net.run_sync(_lines(host, 10026, [
            "EHLO filter.example", "XFORWARD", "XFORWARD FOO=bar", "XFORWARD NAME=", "XFORWARD ADDR=999.1.1.1",
            "XFORWARD SOURCE=ELSEWHERE", "XFORWARD NAME=[UNAVAILABLE] ADDR=IPv6:2001:db8::1 SOURCE=local",
            "MAIL FROM:<bob@example.com>", "XFORWARD HELO=x.example", "QUIT"]))
        assert "250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT" in got
        tail = got[got.index("250 CHUNKING") + 1:]
        assert tail == ["501 5.5.4 Syntax: XFORWARD attribute=value...",
                        "501 5.5.4 Bad XFORWARD attribute name: FOO",
                        "501 5.5.4 Error: attribute=value expected",
                        "501 5.5.4 Bad ADDR syntax: 999.1.1.1",
                        "501 5.5.4 Bad SOURCE syntax: ELSEWHERE",
                        "250 2.0.0 Ok", "250 2.1.0 Ok",
                        "503 5.5.1 Error: MAIL transaction in progress", "221 2.0.0 Bye"]
    finally:
        net.run_sync(pf.stop())


class XforwardFilter:
    """An SMTP content filter that offers XFORWARD and passes it on when it re-injects (as amavisd)."""

    def __init__(self, host: Any, port: int = 10025) -> None:
        self.host = host
        self.received: list[str] = []       # the XFORWARD commands of the smtp client
        self.replies: list[str] = []        # the re-injecting smtpd's answers to them
        host.listen_streams(port, self.session, component="filter", addr="127.0.0.1")

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sender, rcpts = "", []
        writer.write(b"220 filter.example ESMTP scan\r\n")
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            verb = line[:4].upper()
            if not line or verb == "QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                break
            if verb == "EHLO":
                writer.write(b"250-filter.example\r\n250-PIPELINING\r\n"
                             b"250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT\r\n250 8BITMIME\r\n")
            elif verb == "XFOR":
                self.received.append(line)
                writer.write(b"250 2.0.0 Ok\r\n")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].split()[0].strip("<>")
                writer.write(b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].split()[0].strip("<>"))
                writer.write(b"250 2.1.5 Ok\r\n")
            elif verb == "DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                data = bytearray()
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk
                writer.write((await self.reinject(sender, rcpts, bytes(data))).encode() + b"\r\n")
            else:
                writer.write(b"250 2.0.0 Ok\r\n")
        writer.close()

    async def reinject(self, sender: str, rcpts: list[str], data: bytes) -> str:
        reader, writer = await self.host.open_connection("127.0.0.1", 10026, component="filter")

        async def say(command: str) -> str:
            writer.write((command + "\r\n").encode())
            while (line := (await reader.readline()).decode().rstrip("\r\n"))[3:4] == "-":
                pass
            return line
        await reader.readline()
        await say("EHLO filter.example")
        self.replies += [await say(x) for x in self.received]
        for command in [f"MAIL FROM:<{sender}>", *[f"RCPT TO:<{r}>" for r in rcpts]]:
            await say(command)
        await say("DATA")
        writer.write(data + b".\r\n")
        while (final := (await reader.readline()).decode().rstrip("\r\n"))[3:4] == "-":
            pass
        await say("QUIT")
        return final


async def _lines(host: Any, port: int, commands: list[str], ip: str = "127.0.0.1") -> list[str]:
    reader, writer = await host.open_connection(ip, port, component="test")
    for command in commands:
        writer.write((command + "\r\n").encode())
    writer.write_eof()
    return (await reader.read()).decode().splitlines()


def test_a_content_filter_reinjection_is_logged_with_the_original_client(tmp_path: Path) -> None:
    master = SMTP_FILTER.replace("  -o smtp_generic_maps=\n", "  -o smtp_generic_maps=\n"
                                 "  -o smtp_send_xforward_command=yes\n")
    net, pf = start(tmp_path, master, content_filter="scan:[127.0.0.1]:10025", inet_interfaces="all")
    try:
        scanner = XforwardFilter(net["mail.example.com"])
        client = net.host("client.example", ip="10.0.0.99")
        replies = net.run_sync(_lines(client, 25, ["EHLO client.example", "MAIL FROM:<bob@example.net>",
                                                   "RCPT TO:<alice@example.com>", "DATA", "Subject: via filter",
                                                   "", "hi", ".", "QUIT"], ip="10.0.0.25"))
        qid = queued(replies[:-1])
        net.run(until=net.now + 5)
        (origin,) = [ln.split("client=", 1)[1] for ln in log_of(pf, qid) if ": client=" in ln]
        assert origin.endswith("[10.0.0.99]")
        name = origin.split("[")[0]
        assert scanner.received[0].startswith(f"XFORWARD NAME={name} ADDR=10.0.0.99 PORT=")
        assert scanner.received[1] == f"XFORWARD PROTO=ESMTP HELO=client.example IDENT={qid} SOURCE=REMOTE"
        assert scanner.replies == ["250 2.0.0 Ok", "250 2.0.0 Ok"]
        again = new_qid(pf, "smtpd", qid)
        second = log_of(pf, again)
        assert second[0] == f"postfix/smtpd: client=localhost[127.0.0.1], orig_queue_id={qid}, orig_client={origin}"
        (local,) = [ln for ln in second if ": to=<" in ln]
        assert local.startswith("postfix/local: to=<alice@example.com>, relay=local, ")
        (got,) = net["mail.example.com"].mailbox("alice")
        # smtpd's Received: header still names the client that connected (the filter)
        received = got.get_all("Received")
        assert received[0].startswith("from filter.example (localhost [127.0.0.1])")
        assert received[1].startswith(f"from client.example ({name} [10.0.0.99])")
    finally:
        net.run_sync(pf.stop())


def test_the_smtp_client_core_sends_only_the_offered_xforward_attributes() -> None:
    from simlab.proto.smtp import SMTPClient

    def dialog(ehlo: bytes, xforward: list[tuple[str, str]] | None) -> list[str]:
        core = SMTPClient("mail.example.com", "bob@example.com", ["alice@example.net"], b"hi\n",
                          xforward=xforward)
        sent: list[str] = []
        for reply in (b"220 mx ESMTP\r\n", ehlo, b"250 2.0.0 Ok\r\n", b"250 2.0.0 Ok\r\n"):
            core.receive_data(reply)
            sent += core.data_to_send().decode().splitlines()
        return sent
    attrs = [("NAME", "client example"), ("ADDR", "10.0.0.99"), ("PORT", "40001"), ("PROTO", "ESMTP"),
             ("HELO", "client.example"), ("IDENT", "1A2B3C"), ("SOURCE", "REMOTE")]
    sent = dialog(b"250-mx\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250 8BITMIME\r\n", attrs)
    assert sent[:4] == ["EHLO mail.example.com", "XFORWARD NAME=client+20example ADDR=10.0.0.99",
                        "XFORWARD PROTO=ESMTP HELO=client.example", "MAIL FROM:<bob@example.com>"]
    assert dialog(b"250-mx\r\n250 8BITMIME\r\n", attrs)[1] == "MAIL FROM:<bob@example.com>"
    assert dialog(b"250-mx\r\n250 XFORWARD NAME ADDR\r\n", None)[1] == "MAIL FROM:<bob@example.com>"
