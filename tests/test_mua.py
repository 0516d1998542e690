"""The simulated mail client: compose, submit (25 and 587 with AUTH), per-recipient refusals, reading."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from simlab.mua import MUA, compose
from simlab.mua.imap import IMAPClient, parse
from simlab.mua.pop3 import POP3Client
from simlab.postfix.smtp_sink import smtp_sink
from simlab.sim.network import Network


class Recorder:
    """An aiosmtpd handler that keeps envelopes and refuses some recipients."""

    def __init__(self, refuse: tuple[str, ...] = ()) -> None:
        self.refuse = refuse
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 Ok: queued as 4F2A1160541"


def lab(refuse: tuple[str, ...] = (), auth: bool = False) -> tuple[Network, Recorder, MUA]:
    net = Network(seed=7)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    pc = net.host("pc.example.com", ip="10.0.0.10")
    rec = Recorder(refuse)

    def check(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"alice" and data.password == b"alice-pw"
        return AuthResult(success=ok, handled=False)

    port = 587 if auth else 25
    mx.listen(port, lambda: SMTP(rec, hostname="mail.example.com", loop=net.loop,
                                 authenticator=check if auth else None, auth_require_tls=False,
                                 auth_required=False), component="smtpd")
    mua = MUA(net, pc, "Alice Liddell <alice@example.com>", smtp=("10.0.0.25", port),
              user="alice", password="alice-pw" if auth else None)
    return net, rec, mua


def test_mua_bcc_is_in_the_envelope_not_in_the_header() -> None:
    net, rec, alice = lab()
    result = alice.send_sync(to=["bob@example.net"], cc="Carol <carol@example.org>",
                             bcc=["dave@example.org"], subject="Lunch", body="At noon?",
                             reply_to="alice+replies@example.com")
    assert result.ok and result.refused == {} and result.queue_id == "4F2A1160541"
    (env,) = rec.envelopes
    assert env.mail_from == "alice@example.com"
    assert env.rcpt_tos == ["bob@example.net", "carol@example.org", "dave@example.org"]
    msg = message_from_bytes(env.original_content, policy=default)
    assert "Bcc" not in msg and b"dave@example.org" not in env.original_content
    assert msg["From"] == "Alice Liddell <alice@example.com>" and msg["Cc"] == "Carol <carol@example.org>"
    assert msg["Reply-To"] == "alice+replies@example.com" and msg["Subject"] == "Lunch"
    assert msg["Date"] == "Tue, 24 Nov 2026 13:36:50 +0000"          # the lab epoch, virtual time
    assert msg["Message-ID"].endswith("@example.com>") and msg.get_content().rstrip() == "At noon?"
    net.close()


def test_mua_reports_refused_recipients_like_smtplib() -> None:
    net, rec, alice = lab(refuse=("nosuch@example.net",))
    result = alice.send_sync(to=["bob@example.net", "nosuch@example.net"], subject="x", body="y")
    assert result.ok and result.accepted == ["bob@example.net"]
    assert result.refused == {"nosuch@example.net": (550, "5.1.1 <nosuch@example.net>: "
                                                          "Recipient address rejected: User unknown")}
    net.close()
    net, rec, alice = lab(refuse=("nosuch@example.net",))
    result = alice.send_sync(to="nosuch@example.net", subject="x", body="y")
    assert not result.ok and list(result.refused) == ["nosuch@example.net"] and not rec.envelopes
    net.close()


def test_mua_submission_port_with_auth() -> None:
    net, rec, alice = lab(auth=True)
    result = alice.send_sync(to=["bob@example.net"], subject="via 587", body="hi",
                             attachments=[("notes.txt", b"some notes\n", "text/plain"),
                                          ("data.bin", b"\x00\x01\x02", "application/octet-stream")])
    assert result.ok and result.authenticated
    msg = message_from_bytes(rec.envelopes[0].original_content, policy=default)
    names = [part.get_filename() for part in msg.iter_attachments()]
    assert names == ["notes.txt", "data.bin"]
    net.close()
    net, rec, alice = lab(auth=True)
    alice.password = "wrong"
    result = alice.send_sync(to=["bob@example.net"], subject="x", body="y")
    assert not result.ok and result.error.startswith("AUTH: 535")
    net.close()


def test_mua_to_the_smtp_sink_and_a_closed_port() -> None:
    net = Network(seed=2)
    mx = net.host("sink.example", ip="10.0.0.2")
    pc = net.host("pc.example", ip="10.0.0.3")
    sink = smtp_sink(mx, "-h sink.example :25 256")
    alice = MUA(net, pc, "alice@example.com", smtp=("10.0.0.2", 25))
    result = alice.send_sync(to="x@sink.example", subject="t", body="héllo wörld")
    assert result.ok and str(result.reply) == "250 2.0.0 Ok"
    assert sink.messages[0].mail_args == "<alice@example.com> BODY=8BITMIME"
    alice.smtp = ("10.0.0.2", 2599)
    result = alice.send_sync(to="x@sink.example", subject="t", body="b")
    assert not result.ok and result.error == "connect to 10.0.0.2:2599: Connection refused"
    net.close()


def test_compose_envelope_dedupes_and_keeps_order() -> None:
    msg, (sender, rcpts) = compose("a@x.example", to="b@y.example, c@y.example", cc=["b@y.example"],
                                   bcc="d@z.example", subject="s", body="b")
    assert sender == "a@x.example" and rcpts == ["b@y.example", "c@y.example", "d@z.example"]
    assert msg["To"] == "b@y.example, c@y.example" and "Bcc" not in msg


# -- reading: the client cores against canned server dialogs ---------------------------------
def feed(core: Any, server: list[bytes]) -> list[bytes]:
    sent = [core.data_to_send()]
    for chunk in server:
        core.receive_data(chunk)
        sent.append(core.data_to_send())
    return sent


def test_pop3_client_retrieves_and_deletes() -> None:
    core = POP3Client("erin", "erin-pw", delete=True)
    sent = feed(core, [b"+OK Dovecot (Debian) ready.\r\n", b"+OK\r\n", b"+OK Logged in.\r\n",
                       b"+OK 1 42\r\n", b"+OK 1 messages:\r\n1 42\r\n.\r\n",
                       b"+OK\r\n1 00000001575f6a01\r\n.\r\n",
                       b"+OK 42 octets\r\nSubject: a\r\n\r\n..dot line\r\n.\r\n",
                       b"+OK Marked to be deleted.\r\n", b"+OK Logging out, messages deleted.\r\n"])
    assert b"".join(sent) == (b"USER erin\r\nPASS erin-pw\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\n"
                              b"DELE 1\r\nQUIT\r\n")
    assert core.done and core.error == "" and core.deleted == [1]
    (m,) = core.messages
    assert (m.uid, m.size, m.raw) == ("00000001575f6a01", 42, b"Subject: a\n\n.dot line\n")
    core = POP3Client("erin", "bad")
    feed(core, [b"+OK ready.\r\n", b"+OK\r\n", b"-ERR [AUTH] Authentication failed.\r\n", b"+OK bye\r\n"])
    assert core.done and core.error == "-ERR [AUTH] Authentication failed."


def test_imap_client_lists_fetches_and_stores() -> None:
    core = IMAPClient("erin", "erin-pw", list_folders=True, stores=[(2, "+", ["\\Seen"])])
    body = b"Subject: hi\r\n\r\nbody\r\n"
    sent = feed(core, [
        b"* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n",
        b"a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n",
        b'* LIST (\\HasNoChildren) "/" INBOX\r\n* LIST (\\HasNoChildren) "/" "Sent Items"\r\n'
        b"a2 OK List completed (0.001 + 0.000 secs).\r\n",
        b"* 2 EXISTS\r\na3 OK [READ-WRITE] Select completed.\r\n",
        b"* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 21 BODY[] {" + str(len(body)).encode() + b"}\r\n"
        + body + b")\r\n* 2 FETCH (UID 2 FLAGS () RFC822.SIZE 3 BODY[] {3}\r\nabc)\r\na4 OK Fetch completed.\r\n",
        b"a5 OK Store completed.\r\n", b"* BYE Logging out\r\na6 OK Logout completed.\r\n"])
    assert sent[1:] == [b'a1 LOGIN "erin" "erin-pw"\r\n', b'a2 LIST "" "*"\r\n', b'a3 SELECT "INBOX"\r\n',
                        b"a4 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])\r\n",
                        b"a5 UID STORE 2 +FLAGS.SILENT (\\Seen)\r\n", b"a6 LOGOUT\r\n", b""]
    assert core.done and core.folders == ["INBOX", "Sent Items"] and core.exists == 2
    assert [(f["uid"], f["flags"], f["raw"]) for f in core.fetched] == [(1, ["\\Seen"], body), (2, [], b"abc")]
    assert parse(b'* 1 FETCH (FLAGS (\\Answered) UID 7)') == ["*", "1", "FETCH", ["FLAGS", ["\\Answered"], "UID", "7"]]
    core = IMAPClient("erin", "bad")
    feed(core, [b"* OK ready\r\n", b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", b"a2 OK bye\r\n"])
    assert core.done and "AUTHENTICATIONFAILED" in core.error


def test_mua_reads_its_own_mbox() -> None:
    net = Network(seed=1)
    h = net.host("mail.example.com", ip="10.0.0.25")
    box = h.path("/var/mail/erin")
    box.parent.mkdir(parents=True, exist_ok=True)
    box.write_bytes(b"From bob@example.com  Tue Nov 24 13:36:54 2026\nReturn-Path: <bob@example.com>\n"
                    b"Subject: one\nStatus: RO\n\nfirst\n\n"
                    b"From MAILER-DAEMON  Tue Nov 24 13:37:54 2026\nSubject: two\n\nsecond\n\n")
    erin = MUA(net, h, "erin@example.com")
    inbox = erin.read_mbox()
    assert [m.header("Subject") for m in inbox] == ["one", "two"]
    assert inbox[0].envelope_sender == "bob@example.com" and "\\Seen" in inbox[0].flags
    assert erin.inbox_table()[1]["subject"] == "two"
    net.close()
