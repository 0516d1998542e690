"""The console model: SMTP against aiosmtpd on the virtual network, pipelining, LMTP, POP3, IMAP,
the tutor's texts, and errors shown instead of raised."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from simlab.sim.network import Network
from simlab.widgets.console import ConsoleModel, ConsoleWidget
from simlab.widgets.tutor_smtp import enhanced_meaning

MAILBOX = ["From: alice@example.com\nTo: erin@example.com\nSubject: First\n\nHello erin.\n.leading dot\n",
           "From: bob@example.com\nTo: erin@example.com\nSubject: Second\n\nTwo.\n"]


class Queued:
    """An aiosmtpd handler that answers like Postfix after the final dot."""

    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nosuch@"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return f"250 2.0.0 Ok: queued as 4F2A{len(self.envelopes):06d}"


class PerRecipient(Queued):
    async def handle_DATA(self, server, session, envelope):
        return "\r\n".join(f"250 2.0.0 <{r}> Saved" if not r.startswith("full@") else f"452 4.2.2 <{r}> Quota exceeded"
                           for r in envelope.rcpt_tos)


async def pop3_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Enough of RFC 1939 for the tests, with Dovecot's texts."""
    user, authed, deleted = "", False, set()
    writer.write(b"+OK Dovecot (Debian) ready.\r\n")
    while line := await reader.readline():
        words = line.decode().strip().split()
        verb = words[0].upper() if words else ""
        out = "-ERR Unknown command: " + verb
        if verb == "CAPA":
            out = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nUSER\r\n."
        elif verb == "USER":
            user, out = words[1], "+OK"
        elif verb == "PASS":
            authed = user == "erin" and words[1:] == ["erin-pw"]
            out = "+OK Logged in." if authed else "-ERR [AUTH] Authentication failed."
        elif not authed and verb in ("STAT", "LIST", "RETR", "DELE"):
            out = "-ERR Unknown command."
        elif verb == "STAT":
            out = f"+OK {len(MAILBOX)} 200"
        elif verb == "LIST" and len(words) == 1:
            out = "+OK 2 messages:\r\n1 100\r\n2 100\r\n."
        elif verb == "RETR":
            body = "".join(("." + ln if ln.startswith(".") else ln) + "\r\n"
                           for ln in MAILBOX[int(words[1]) - 1].rstrip("\n").split("\n"))
            out = f"+OK 100 octets\r\n{body}."
        elif verb == "DELE":
            deleted.add(words[1])
            out = "+OK Marked to be deleted."
        elif verb == "QUIT":
            writer.write(b"+OK Logging out.\r\n")
            writer.close()
            return
        writer.write(out.encode() + b"\r\n")


async def imap_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Enough of RFC 3501 for the tests, with Dovecot's texts."""
    authed = False
    writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot (Debian) ready.\r\n")
    while line := await reader.readline():
        text = line.decode().rstrip("\r\n")
        tag, _, rest = text.partition(" ")
        verb = rest.split(" ", 1)[0].upper()
        if verb == "LOGIN":
            authed = rest.split()[1:] in (["erin", "erin-pw"], ['"erin"', '"erin-pw"'])
            out = f"{tag} OK Logged in" if authed else f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed."
        elif verb == "AUTHENTICATE":
            writer.write(b"+ \r\n")
            await reader.readline()
            authed, out = True, f"{tag} OK Logged in"
        elif not authed and verb != "LOGOUT":
            out = f"{tag} BAD Error in IMAP command received by server."
        elif verb == "SELECT":
            out = (f"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* {len(MAILBOX)} EXISTS\r\n"
                   f"* OK [UIDVALIDITY 1795527605] UIDs valid\r\n{tag} OK [READ-WRITE] Select completed.")
        elif verb == "FETCH":
            parts = []
            for i, m in enumerate(MAILBOX, 1):
                data = m.replace("\n", "\r\n").encode()
                flags = "\\Seen" if i == 1 else ""
                parts.append(f"* {i} FETCH (FLAGS ({flags}) BODY[] {{{len(data)}}}\r\n".encode() + data + b")\r\n")
            writer.write(b"".join(parts))
            out = f"{tag} OK Fetch completed."
        elif verb == "LOGOUT":
            writer.write(f"* BYE Logging out\r\n{tag} OK Logout completed.\r\n".encode())
            writer.close()
            return
        else:
            out = f"{tag} BAD Error in IMAP command {verb}: Unknown command"
        writer.write(out.encode() + b"\r\n")


def lab(handler=None) -> tuple[Network, Queued]:
    net = Network(seed=7)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    net.host("pc.example.com", ip="10.0.0.5")
    h = handler or Queued()
    mx.listen(25, lambda: SMTP(h, hostname="mail.example.com", loop=net.loop), component="smtpd")
    mx.listen(24, lambda: LMTP(PerRecipient(), hostname="mail.example.com", loop=net.loop), component="lmtp")
    mx.listen_streams(110, pop3_server, component="pop3d")
    mx.listen_streams(143, imap_server, component="imapd")
    return net, h


def server_lines(m: ConsoleModel) -> list[str]:
    return [e.text for e in m.session.transcript if e.side == "S"]


# -- SMTP ---------------------------------------------------------------------------------------
def test_smtp_dialog_against_aiosmtpd_sink_on_the_virtual_network() -> None:
    net = Network(seed=1)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    net.host("pc.example.com", ip="10.0.0.5")
    mx.listen(25, lambda: SMTP(Sink(), hostname="mail.example.com", loop=net.loop), component="smtpd")
    m = ConsoleModel(net, "pc.example.com")
    greeting = m.connect("10.0.0.25", 25)
    assert greeting[0].status == "220" and m.connected and m.session.protocol == "smtp"
    assert m.send("EHLO pc.example.com")[0].lines[0] == "250-mail.example.com"
    assert [r.status for r in m.send("MAIL FROM:<alice@example.com>")] == ["250"]
    assert [r.status for r in m.send("RCPT TO:<bob@example.com>")] == ["250"]
    assert dict(m.envelope_rows())["RCPT TO"] == "<bob@example.com>"
    assert [r.status for r in m.send("DATA")] == ["354"]
    for line in ("Subject: hi", "", "body"):
        assert m.send(line) == []                     # message lines get no reply
    assert dict(m.envelope_rows())["DATA"].startswith("3 lines so far")
    assert [r.status for r in m.send(".")] == ["250"]
    rows = dict(m.envelope_rows())
    assert rows["MAIL FROM"] == "(none)" and rows["message"] == "<alice@example.com> → bob@example.com: 250 OK"
    assert m.send("QUIT")[0].status == "221"
    assert not m.connected and m.session.transcript[-1].text == "The server closed the connection."
    conn = net.trace.connections()[0].details
    assert conn["client"] == "pc.example.com" and conn["server_component"] == "smtpd"
    assert "C: EHLO pc.example.com" in net.trace.transcript(conn["conn"])
    assert m.session.history == ["EHLO pc.example.com", "MAIL FROM:<alice@example.com>",
                                 "RCPT TO:<bob@example.com>", "DATA", "QUIT"]
    assert m.session.recall(1) == "QUIT" and m.session.recall(99) == ""


def test_pipelining_sends_one_write_and_gets_every_reply_in_order() -> None:
    net, h = lab()
    m = ConsoleModel(net, "pc.example.com")
    m.connect("mail.example.com", 25)
    m.send("EHLO pc.example.com")
    reps = m.send_raw("MAIL FROM:<alice@example.com>\nRCPT TO:<bob@example.com>\nRCPT TO:<nosuch@example.com>\n"
                      "DATA\nSubject: pipelined\n\nhello\n.\nQUIT\n")
    assert [r.status for r in reps] == ["250", "250", "550", "354", "250", "221"]
    assert reps[4].lines == ["250 2.0.0 Ok: queued as 4F2A000001"]
    assert h.envelopes[0].rcpt_tos == ["bob@example.com"]
    writes = [ev for ev in net.trace.events("send", side="C") if "MAIL FROM" in ev.details["data"]]
    assert len(writes) == 1 and writes[0].details["data"].count("\r\n") == 9
    sides = [e.side for e in m.session.transcript if e.side in "CS"]
    i = sides.index("C", 2)
    assert sides[i:i + 8] == ["C", "C", "C", "C", "S", "S", "S", "S"]   # replies after the pipelined group
    assert dict(m.envelope_rows())["message"].endswith("queued as 4F2A000001")


def test_smtp_tutor_explains_codes_and_suggests_the_next_step() -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 25)
    assert m.next_step() == "Introduce yourself: EHLO your.host.name"
    m.send("RCPT TO:<bob@example.com>")
    assert m.next_step() == "Say EHLO first."          # aiosmtpd: 503 Error: send HELO first
    m.send("HELO pc")
    m.send("RCPT TO:<bob@example.com>")
    ex = m.session.explanations[-1]
    assert ex.title == "503 — Bad sequence of commands: this command is not allowed at this point"
    assert "RFC 5321 section 4.3.2" in ex.rfc and "RCPT: RFC 5321 section 4.1.1.3" in ex.rfc
    assert ex.next_step == "Start a transaction first: MAIL FROM:<you@example.com>"
    m.send("EHLO pc")
    m.send("MAIL FROM:<alice@example.com>")
    assert m.next_step() == "Name a recipient: RCPT TO:<someone@example.com>"
    m.send("RCPT TO:<nosuch@example.com>")
    lines = m.tutor_lines()
    assert lines[0] == "550 — Refused: mailbox unavailable (no such user) or rejected by policy"
    assert "  5xx: permanent failure — nothing was done; repeating the same command will fail again." in lines
    assert ("  Enhanced status code 5.1.1: permanent failure · addressing · bad destination mailbox address "
            "(no such user) (RFC 3463).") in lines
    assert any("has no such user" in ln for ln in lines)
    assert lines[-1] == "Next: That recipient was refused; try another RCPT TO address."
    assert dict(m.envelope_rows())["refused"] == "<nosuch@example.com>"
    m.send("RCPT TO:<bob@example.com>")
    assert m.next_step() == "Add another RCPT TO, or type DATA to send the message."
    m.send("DATA")
    assert "Type the message" in m.next_step() and "dot-stuffing" in m.tutor_html()
    m.send(".")
    assert "written the message to its queue" in m.tutor_html() and m.next_step().startswith("Another message")
    m.send("FOO")
    assert m.session.explanations[-1].code == "500"
    assert enhanced_meaning("4.7.1") == "persistent transient failure (try later) · security or policy · " \
                                        "delivery not authorized, message refused"
    assert enhanced_meaning("2.0.0") == "success · other or undefined · other undefined status"


def test_lmtp_gets_one_reply_per_accepted_recipient() -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    assert m.connect("10.0.0.25", 24)[0].status == "220" and m.session.protocol == "lmtp"
    m.send("LHLO pc.example.com")
    reps = m.send_raw("MAIL FROM:<a@example.com>\nRCPT TO:<erin@example.com>\nRCPT TO:<full@example.com>\nDATA\n"
                      "Subject: x\n\nbody\n.\n")
    assert [r.status for r in reps] == ["250", "250", "250", "354", "250", "452"]
    assert reps[-1].lines == ["452 4.2.2 <full@example.com> Quota exceeded"]
    assert "LMTP: RFC 2033" in m.session.explanations[-1].rfc
    rows = [v for k, v in m.envelope_rows() if k == "message"]
    assert rows == ["<a@example.com> → erin@example.com: 250 2.0.0 <erin@example.com> Saved",
                    "<a@example.com> → full@example.com: 452 4.2.2 <full@example.com> Quota exceeded"]
    assert m.envelope_rows()[0] == ("LHLO", "pc.example.com")


# -- POP3 and IMAP ---------------------------------------------------------------------------------
def test_pop3_console_multiline_answers_and_state() -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 110)
    assert m.session.protocol == "pop3" and m.envelope_title() == "Session state"
    assert m.next_step().startswith("Log in: USER yourname")
    assert m.send("STAT")[0].status == "-ERR"
    assert "  You are not logged in yet: USER and PASS come first." in m.tutor_lines()
    m.send("USER erin")
    assert m.next_step() == "Now the password: PASS yourpassword"
    assert m.send("PASS wrong")[0].lines == ["-ERR [AUTH] Authentication failed."]
    assert any("[AUTH]: the user name or password is wrong" in ln for ln in m.tutor_lines())
    m.send("USER erin")
    m.send("PASS erin-pw")
    assert dict(m.envelope_rows())["state"] == "TRANSACTION"
    assert m.send("LIST")[0].lines == ["+OK 2 messages:", "1 100", "2 100", "."]
    assert m.send("STAT")[0].lines == ["+OK 2 200"] and dict(m.envelope_rows())["messages"] == "2"
    retr = m.send("RETR 1")[0]
    assert "..leading dot" in retr.lines and retr.lines[-1] == "."
    m.send("DELE 1")
    assert dict(m.envelope_rows())["marked DELE"] == "1"
    assert m.send("QUIT")[0].status == "+OK"
    assert not m.connected and dict(m.envelope_rows())["state"] == "UPDATE"
    assert m.next_step().startswith("The messages marked DELE are now gone.")


def test_imap_console_tags_literals_and_continuations() -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 143)
    assert m.session.protocol == "imap" and m.next_step() == "Log in: a1 LOGIN yourname yourpassword"
    assert m.send("a1 SELECT INBOX")[0].status == "BAD"
    assert any("Only CAPABILITY, LOGIN" in ln for ln in m.tutor_lines())
    assert m.send("a2 LOGIN erin nope")[0].status == "NO"
    assert any("[AUTHENTICATIONFAILED]" in ln for ln in m.tutor_lines())
    cont = m.send("a3 AUTHENTICATE PLAIN")
    assert [r.status for r in cont] == ["+"] and m.next_step().startswith("Send the rest")
    assert m.send("AGVyaW4AZXJpbi1wdw==")[0].status == "OK"
    assert dict(m.envelope_rows())["state"] == "authenticated"
    sel = m.send("a4 SELECT INBOX")[0]
    assert sel.status == "OK" and dict(m.envelope_rows())["messages"] == "2"
    fetch = m.send("a5 FETCH 1:* (FLAGS BODY[])")
    assert len(fetch) == 1 and fetch[0].lines[-1] == "a5 OK Fetch completed."
    size = len(MAILBOX[1].replace("\n", "\r\n"))
    assert f"* 2 FETCH (FLAGS () BODY[] {{{size}}}" in fetch[0].lines and fetch[0].lines.count(")") == 2
    assert dict(m.envelope_rows())["next tag"] == "a6"
    assert [r.status for r in m.send("a6 LOGOUT")] == ["OK"] and not m.connected


# -- errors are shown, never raised -----------------------------------------------------------------
def test_errors_are_sentences_and_the_console_stays_usable() -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    assert m.send("EHLO x") == [] and m.error.startswith("You are not connected")
    assert m.connect("10.0.0.25", 2525) == []
    assert m.error == ("Connection refused by 10.0.0.25 port 2525: nothing is listening there. "
                       "Is the server running, and is this the right port?")
    net.hosts["mail.example.com"].crash()
    assert m.connect("10.0.0.25", 25) == [] and m.error.startswith("No answer from 10.0.0.25 port 25")
    net.hosts["mail.example.com"].restart()
    assert m.connect("nosuch.example", 25, protocol="gopher") == [] and "Unknown protocol" in m.error
    assert m.connect("10.0.0.25", 25)[0].status == "220" and m.error == ""
    assert m.connect("10.0.0.25", 25, real=True) == [] and "only connects to this machine" in m.error
    no_host = ConsoleModel(net)
    assert no_host.connect("10.0.0.25", 25) == [] and "which simulated host" in no_host.error
    html = m.transcript_html()
    assert "!! Connection refused" in html and "S: 220 mail.example.com" in html


def test_a_server_that_says_nothing_is_a_note_after_the_timeout() -> None:
    net, _ = lab()

    async def silent(reader, writer) -> None:
        await reader.read()

    net.hosts["mail.example.com"].listen_streams(2500, silent, component="smtpd")
    m = ConsoleModel(net, "pc.example.com", reply_timeout=10)
    t0 = net.now
    assert m.connect("10.0.0.25", 2500) == []
    assert m.session.transcript[-1].text.startswith("(no reply within 10 s")
    assert 10 <= net.now - t0 < 11 and m.connected


def test_real_socket_console_on_loopback() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def serve() -> None:
        conn, _ = srv.accept()
        with conn:
            f = conn.makefile("rwb")
            f.write(b"220 real.example ESMTP\r\n")
            f.flush()
            for raw in f:
                cmd = raw.decode().strip().upper()
                f.write(b"221 2.0.0 Bye\r\n" if cmd == "QUIT" else b"250 2.0.0 Ok\r\n")
                f.flush()
                if cmd == "QUIT":
                    return

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        m = ConsoleModel(None, reply_timeout=5)
        assert m.connect("127.0.0.1", port, protocol="smtp")[0].lines == ["220 real.example ESMTP"]
        assert [r.status for r in m.send_raw("NOOP\nNOOP\n")] == ["250", "250"]
        assert m.send("QUIT")[0].status == "221"
        assert not m.connected
    finally:
        t.join(5)
        srv.close()


# -- the view -------------------------------------------------------------------------------------
def test_console_widget_buttons_drive_the_model() -> None:
    net, _ = lab()
    view = ConsoleWidget(ConsoleModel(net, "pc.example.com"), dest="10.0.0.25", port=25)
    assert "(not connected)" in view.transcript.value
    view.connect_btn.click()
    assert "220 mail.example.com" in view.transcript.value and "Introduce yourself" in view.tutor.value
    view.line.value = "EHLO pc.example.com"          # Enter in the text field
    assert view.line.value == "" and "250-mail.example.com" in view.transcript.value
    view.up_btn.click()
    assert view.line.value == "EHLO pc.example.com"
    view.line.value = ""
    view.raw.value = "MAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\n"
    view.raw_btn.click()
    assert "&lt;b@example.com&gt;" in view.envelope.value
    view.close_btn.click()
    view.send_btn.click()
    view.line.value = "NOOP"
    assert "You are not connected" in view.status.value
    view.port.value = 9
    view.connect_btn.click()
    assert "Connection refused" in view.status.value


@pytest.mark.parametrize("bad", [lambda m: m.session.channel.send(b""), lambda m: None])
def test_model_survives_a_broken_channel(bad) -> None:
    net, _ = lab()
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 25)

    class Broken:
        eof = False
        where = "10.0.0.25 port 25"

        def send(self, data: bytes) -> None:
            raise BrokenPipeError(32, "Broken pipe")

        def close(self) -> None:
            pass

    bad(m)
    m.session.channel = Broken()
    assert m.send("NOOP") == [] and "was cut" in m.error and not m.connected


def test_listen_shows_what_the_server_says_on_its_own() -> None:
    net, _ = lab()

    async def impatient(reader, writer) -> None:
        writer.write(b"220 mail.example.com ESMTP Postfix\r\n")
        await asyncio.sleep(300)
        writer.write(b"421 4.4.2 mail.example.com Error: timeout exceeded\r\n")
        writer.close()

    net.hosts["mail.example.com"].listen_streams(2525, impatient, component="smtpd")
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 2525)
    assert m.poll(timeout=1.0) == [] and m.connected
    reps = m.poll(timeout=400.0)
    assert [r.status for r in reps] == ["421"] and not m.connected
    assert m.session.explanations[-1].title.startswith("421 — Service not available")
    assert "persistent transient failure (try later) · network and routing · bad connection" in m.tutor_html()
    assert m.next_step() == "The session is over; connect again to start a new one."
