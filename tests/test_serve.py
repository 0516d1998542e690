"""``simlab serve``: the same MTA, POP3 and IMAP on real loopback sockets, driven by real clients."""

from __future__ import annotations

import imaplib
import poplib
import re
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path

import pytest

from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

from servehelper import Served

DIALOG = [
    b"EHLO client.example\r\n",
    b"MAIL FROM:<bob@example.com>\r\n",
    b"RCPT TO:<alice@example.com>\r\n",
    b"RCPT TO:<nosuch@example.com>\r\n",
    b"VRFY alice\r\n",
    b"DATA\r\n",
    b"Subject: twin\r\n\r\nthe same bytes on both networks\r\n.\r\n",
    b"NOOP\r\n",
    b"FOO bar\r\n",
    b"QUIT\r\n",
]


def replies_of(lines: list[str]) -> list[str]:
    return [re.sub(r"queued as \w+", "queued as QID", ln) for ln in lines]


def read_reply(f) -> list[str]:
    out = []
    while True:
        line = f.readline().decode().rstrip("\r\n")
        out.append(line)
        if line[3:4] != "-":
            return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return init_root(tmp_path / "mail.example.com", "mail.example.com", users=["alice", "bob", "erin"])


@pytest.fixture
def served(root: Path):
    with Served(root) as s:
        yield s


def virtual_replies(tmp_path: Path) -> list[str]:
    net = Network(seed=1)
    net.host("mail.example.com", ip="10.0.0.25", mta=True, users=["alice", "bob", "erin"],
             root=tmp_path / "virtual-mx")
    pc = net.host("client.example", ip="10.0.0.5")

    async def talk() -> list[str]:
        r, w = await pc.open_connection("10.0.0.25", 25, component="client")
        out: list[str] = []

        async def reply() -> None:
            while True:
                line = (await r.readline()).decode().rstrip("\r\n")
                out.append(line)
                if line[3:4] != "-":
                    return

        await reply()
        for chunk in DIALOG:
            w.write(chunk)
            await reply()
        w.close()
        return out

    out = net.run_sync(talk())
    net.run()
    return out


def test_serve_gives_the_same_replies_as_the_virtual_network(served: Served, tmp_path: Path) -> None:
    with socket.create_connection(("127.0.0.1", served.ports["smtp"])) as s:
        f = s.makefile("rb")
        real = read_reply(f)
        for chunk in DIALOG:
            s.sendall(chunk)
            real += read_reply(f)
    assert real[0] == "220 mail.example.com ESMTP Postfix"
    assert "550 5.1.1 <nosuch@example.com>: Recipient address rejected: User unknown in local recipient table" in real
    assert replies_of(real) == replies_of(virtual_replies(tmp_path))


def test_serve_delivers_and_pop3_imap_read_it(served: Served, root: Path) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"]) as s:
        refused = s.sendmail("bob@example.com", ["erin@example.com"], "Subject: over real sockets\r\n\r\nhello erin\r\n")
    assert refused == {}
    served.wait_for(r"to=<erin@example.com>, relay=local, .*status=sent \(delivered to mailbox\)")
    assert "Subject: over real sockets" in (root / "var/mail/erin").read_text()

    pop = poplib.POP3("127.0.0.1", served.ports["pop3"])
    assert pop.getwelcome() == b"+OK Dovecot (Debian) ready."
    pop.user("erin")
    pop.pass_("erin-pw")
    assert pop.stat()[0] == 1
    assert b"Subject: over real sockets" in pop.retr(1)[1]
    pop.quit()

    imap = imaplib.IMAP4("127.0.0.1", served.ports["imap"])
    imap.login("erin", "erin-pw")
    typ, data = imap.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"over real sockets" in data[0][1]
    imap.logout()


def test_serve_wrong_password_is_refused(served: Served) -> None:
    pop = poplib.POP3("127.0.0.1", served.ports["pop3"])
    pop.user("erin")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] Authentication failed"):
        pop.pass_("wrong")
    pop.quit()


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is installed by ./dev test")
def test_serve_with_swaks(served: Served, root: Path) -> None:
    out = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(served.ports["smtp"]),
                          "--from", "bob@example.com", "--to", "alice@example.com", "--helo", "client.example",
                          "--header", "Subject: from swaks"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "<-  220 mail.example.com ESMTP Postfix" in out.stdout
    assert re.search(r"<-  250 2.0.0 Ok: queued as \w+", out.stdout)
    served.wait_for(r"to=<alice@example.com>, relay=local, .*status=sent")
    assert "Subject: from swaks" in (root / "var/mail/alice").read_text()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by ./dev test")
def test_serve_with_curl_smtp_pop3_imap(served: Served, root: Path, tmp_path: Path) -> None:
    msg = tmp_path / "msg.txt"
    msg.write_text("From: bob@example.com\r\nTo: erin@example.com\r\nSubject: from curl\r\n\r\nbody\r\n")
    sent = subprocess.run(["curl", "-sS", f"smtp://127.0.0.1:{served.ports['smtp']}", "--mail-from", "bob@example.com",
                           "--mail-rcpt", "erin@example.com", "--upload-file", str(msg)],
                          capture_output=True, text=True, timeout=30)
    assert sent.returncode == 0, sent.stderr
    served.wait_for(r"to=<erin@example.com>, relay=local, .*status=sent")
    pop = subprocess.run(["curl", "-sS", "--user", "erin:erin-pw", f"pop3://127.0.0.1:{served.ports['pop3']}/1"],
                         capture_output=True, text=True, timeout=30)
    assert pop.returncode == 0 and "Subject: from curl" in pop.stdout, pop.stderr
    imap = subprocess.run(["curl", "-sS", "--user", "erin:erin-pw",
                           f"imap://127.0.0.1:{served.ports['imap']}/INBOX;UID=1"],
                          capture_output=True, text=True, timeout=30)
    assert imap.returncode == 0 and "Subject: from curl" in imap.stdout, imap.stderr


def test_serve_never_delivers_off_the_machine(served: Served) -> None:
    with smtplib.SMTP("127.0.0.1", served.ports["smtp"]) as s:
        s.sendmail("bob@example.com", ["someone@example.org"], "Subject: out\r\n\r\nnope\r\n")
    line = served.wait_for(r"to=<someone@example.org>")
    assert "status=deferred" in line or "status=bounced" in line
    assert "Host or domain name not found" in line or "Network is unreachable" in line


def test_serve_stops_on_sigterm_and_keeps_its_queue(root: Path) -> None:
    with Served(root) as s:
        with smtplib.SMTP("127.0.0.1", s.ports["smtp"]) as c:
            c.sendmail("bob@example.com", ["alice@example.com"], "Subject: first\r\n\r\n1\r\n")
        s.wait_for(r"removed")
    assert s.proc.returncode == 0
    with Served(root) as s2:
        with smtplib.SMTP("127.0.0.1", s2.ports["smtp"]) as c:
            c.sendmail("bob@example.com", ["alice@example.com"], "Subject: second\r\n\r\n2\r\n")
        s2.wait_for(r"to=<alice@example.com>.*status=sent")
    text = (root / "var/mail/alice").read_text()
    assert "Subject: first" in text and "Subject: second" in text


def test_serve_without_a_root_says_how_to_make_one(tmp_path: Path) -> None:
    import sys
    out = subprocess.run([sys.executable, "-m", "simlab", "serve", "--root", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "simlab init" in out.stderr


def enable_submission(root: Path) -> None:
    """Uncomment Debian's submission block in master.cf, as an administrator would."""
    cf = root / "etc/postfix/master.cf"
    lines = cf.read_text().splitlines()
    out, inside = [], False
    for line in lines:
        if line.startswith("#submission "):
            inside = True
            out.append(line[1:])
        elif inside and line.startswith("#  -o"):
            out.append(line[1:])
        else:
            inside = False
            out.append(line)
    cf.write_text("\n".join(out) + "\n")


def test_serve_submission_requires_auth(root: Path) -> None:
    enable_submission(root)
    with Served(root) as s:
        with smtplib.SMTP("127.0.0.1", s.ports["submission"]) as c:
            code, caps = c.ehlo("pc.example.com")
            assert b"AUTH PLAIN LOGIN" in caps
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                c.sendmail("alice@example.com", ["bob@example.com"], "Subject: no auth\r\n\r\nx\r\n")
            code, text = refused.value.recipients["bob@example.com"]
            assert code == 554 and b"Access denied" in text
        with smtplib.SMTP("127.0.0.1", s.ports["submission"]) as c:
            c.ehlo("pc.example.com")
            with pytest.raises(smtplib.SMTPAuthenticationError):
                c.login("alice", "wrong")
        with smtplib.SMTP("127.0.0.1", s.ports["submission"]) as c:
            c.ehlo("pc.example.com")
            assert c.login("alice", "alice-pw")[0] == 235
            assert c.sendmail("alice@example.com", ["bob@example.com"], "Subject: with auth\r\n\r\nx\r\n") == {}
        s.wait_for(r"to=<bob@example.com>, relay=local, .*status=sent")
        assert any("sasl_method=PLAIN, sasl_username=alice" in ln for ln in s.lines)
