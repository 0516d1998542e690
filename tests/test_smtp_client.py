"""The sans-IO SMTP/LMTP client core: its transition table, both directions of the wire."""

from __future__ import annotations

import base64

import pytest

from simlab.proto.smtp import Credentials, Rcpt, SMTPClient, State, dot_stuff, quote_821, xtext
from simlab.proto.smtp_reply import Reply, ReplyParser, SMTPProtocolError
from simlab.proto.smtp_table import SKIP, TRANSITIONS, diagram, next_state

EHLO_PIPE = b"250-sink.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 DSN\r\n"
EHLO_PLAIN = b"250-sink.example\r\n250 8BITMIME\r\n"


# -- the table ------------------------------------------------------------------------------
@pytest.mark.parametrize("state, key, target", [
    (State.GREETING, 220, State.EHLO),
    (State.GREETING, 554, State.QUIT),
    (State.GREETING, 421, State.QUIT),
    (State.EHLO, 250, State.AUTH),
    (State.EHLO, 502, State.HELO),
    (State.EHLO, 500, State.HELO),
    (State.EHLO, 421, State.QUIT),
    (State.EHLO, SKIP, State.LHLO),
    (State.LHLO, SKIP, State.HELO),
    (State.LHLO, 500, State.QUIT),
    (State.HELO, 250, State.AUTH),
    (State.HELO, 501, State.QUIT),
    (State.AUTH, SKIP, State.XFORWARD),
    (State.AUTH, 334, State.AUTH),
    (State.AUTH, 235, State.XFORWARD),
    (State.AUTH, 535, State.QUIT),
    (State.XFORWARD, SKIP, State.MAIL),
    (State.XFORWARD, 250, State.XFORWARD),
    (State.XFORWARD, 550, State.XFORWARD),      # a refusal is only a warning
    (State.MAIL, 250, State.RCPT),
    (State.MAIL, 451, State.RSET),
    (State.MAIL, 553, State.RSET),
    (State.RCPT, 250, State.RCPT),
    (State.RCPT, 550, State.RCPT),
    (State.RCPT, SKIP, State.DATA),
    (State.DATA, 354, State.DOT),
    (State.DATA, 554, State.RSET),
    (State.DATA, 250, State.RSET),
    (State.DATA, SKIP, State.RSET),
    (State.DOT, 250, State.DOT),
    (State.DOT, SKIP, State.QUIT),
    (State.RSET, 250, State.QUIT),
    (State.QUIT, 221, State.CLOSED),
    (State.MAIL, 199, State.RSET),          # an odd code counts as a failure
])
def test_smtp_table_transitions(state: State, key: int | str, target: State) -> None:
    assert next_state(state, key) is target


def test_smtp_table_covers_every_reply_class_of_every_waiting_state() -> None:
    for state in State:
        if state is State.CLOSED:
            continue
        for cls in (2, 3, 4, 5):
            assert (state, cls) in TRANSITIONS, (state, cls)
    assert "MAIL -> RCPT" in diagram()


# -- both directions: drive the client through a dialog ----------------------------------------
def client(**kw: object) -> SMTPClient:
    args = dict(helo_name="mail.example.com", sender="bob@example.com",
                recipients=["alice@example.net", "carol@example.net"],
                message=b"Subject: t\n\nhello\n")
    args.update(kw)
    return SMTPClient(**args)  # type: ignore[arg-type]


def dialog(c: SMTPClient, steps: list[tuple[bytes, bytes]]) -> None:
    """Each step: (server bytes to feed, exact client bytes expected next)."""
    for server, expected in steps:
        c.receive_data(server)
        assert c.data_to_send() == expected, server


def test_smtp_client_pipelines_mail_rcpt_data_in_one_write() -> None:
    c = client()
    assert c.data_to_send() == b""
    dialog(c, [
        (b"220 sink.example ESMTP\r\n", b"EHLO mail.example.com\r\n"),
        (EHLO_PIPE, b"MAIL FROM:<bob@example.com> SIZE=18\r\nRCPT TO:<alice@example.net>\r\n"
                    b"RCPT TO:<carol@example.net>\r\nDATA\r\n"),
        (b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n", b""),
        (b"550 5.1.1 <carol@example.net>: unknown\r\n", b""),
        (b"354 End data with <CR><LF>.<CR><LF>\r\n", b"Subject: t\r\n\r\nhello\r\n.\r\n"),
        (b"250 2.0.0 Ok: queued as ABC\r\n", b"QUIT\r\n"),
        (b"221 2.0.0 Bye\r\n", b""),
    ])
    assert c.done and c.failure is None
    assert c.rcpt_outcome(0).ok and str(c.rcpt_outcome(0).reply) == "250 2.0.0 Ok: queued as ABC"
    bad = c.rcpt_outcome(1)
    assert bad.state is State.RCPT and bad.reply is not None and bad.reply.dsn == "5.1.1"


def test_smtp_client_without_pipelining_sends_one_command_per_reply() -> None:
    c = client(recipients=["alice@example.net"])
    dialog(c, [
        (b"220 sink.example ESMTP\r\n", b"EHLO mail.example.com\r\n"),
        (EHLO_PLAIN, b"MAIL FROM:<bob@example.com>\r\n"),
        (b"250 Ok\r\n", b"RCPT TO:<alice@example.net>\r\n"),
        (b"250 Ok\r\n", b"DATA\r\n"),
        (b"354 go\r\n", b"Subject: t\r\n\r\nhello\r\n.\r\n"),
        (b"250 Ok\r\n", b"QUIT\r\n"),
    ])
    assert c.rcpt_outcome(0).ok


def test_smtp_client_falls_back_to_helo_when_ehlo_is_refused() -> None:
    c = client(recipients=["alice@example.net"])
    dialog(c, [
        (b"220 old.example\r\n", b"EHLO mail.example.com\r\n"),
        (b"502 5.5.2 Error: command not recognized\r\n", b"HELO mail.example.com\r\n"),
        (b"250 old.example\r\n", b"MAIL FROM:<bob@example.com>\r\n"),
    ])
    assert c.hello_command == "HELO" and c.features == {} and c.failure is None


def test_smtp_client_gives_up_after_421_to_ehlo_and_on_a_bad_greeting() -> None:
    c = client()
    dialog(c, [(b"220 x ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (b"421 4.3.2 shutting down\r\n", b"QUIT\r\n")])
    assert c.failure is not None and c.failure.state is State.EHLO and c.failure.reply.code == 421
    c = client()
    dialog(c, [(b"554 5.7.1 go away\r\n", b"QUIT\r\n"), (b"221 Bye\r\n", b"")])
    assert c.done and c.rcpt_outcome(1).state is State.GREETING


def test_smtp_client_mail_refused_while_pipelining_reads_the_rest_then_rsets() -> None:
    c = client()
    dialog(c, [
        (b"220 sink ESMTP\r\n", b"EHLO mail.example.com\r\n"),
        (EHLO_PIPE, b"MAIL FROM:<bob@example.com> SIZE=18\r\nRCPT TO:<alice@example.net>\r\n"
                    b"RCPT TO:<carol@example.net>\r\nDATA\r\n"),
        (b"553 5.7.1 <bob@example.com>: Sender address rejected\r\n", b""),
        (b"503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n", b""),
        (b"503 5.5.1 Error: need RCPT command\r\n", b"RSET\r\n"),
        (b"250 2.0.0 Ok\r\n", b"QUIT\r\n"),
    ])
    out = c.rcpt_outcome(0)
    assert out.state is State.MAIL and out.failure is not None and out.failure.command == "MAIL FROM command"
    assert c.rcpt_replies == [None, None]      # the 503s to stale RCPTs are not recorded


def test_smtp_client_all_recipients_refused_skips_data_without_pipelining() -> None:
    c = client(recipients=["x@example.net"])
    dialog(c, [
        (b"220 sink ESMTP\r\n", b"EHLO mail.example.com\r\n"),
        (EHLO_PLAIN, b"MAIL FROM:<bob@example.com>\r\n"),
        (b"250 2.1.0 Ok\r\n", b"RCPT TO:<x@example.net>\r\n"),
        (b"500 5.3.0 Error: command failed\r\n", b"RSET\r\n"),
        (b"250 2.1.0 Ok\r\n", b"QUIT\r\n"),
    ])
    assert str(c.rcpt_outcome(0).reply) == "500 5.3.0 Error: command failed"


def test_lmtp_client_reads_one_final_reply_per_accepted_recipient() -> None:
    c = client(lmtp=True, recipients=["a@l.example", "b@l.example", "c@l.example"])
    dialog(c, [
        (b"220 lmtp ESMTP\r\n", b"LHLO mail.example.com\r\n"),
        (b"250-lmtp\r\n250 PIPELINING\r\n",
         b"MAIL FROM:<bob@example.com>\r\nRCPT TO:<a@l.example>\r\nRCPT TO:<b@l.example>\r\n"
         b"RCPT TO:<c@l.example>\r\nDATA\r\n"),
        (b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no b\r\n250 2.1.5 Ok\r\n354 go\r\n",
         b"Subject: t\r\n\r\nhello\r\n.\r\n"),
        (b"250 2.2.0 Ok a\r\n", b""),
        (b"452 4.2.2 Mailbox full c\r\n", b"QUIT\r\n"),
    ])
    assert str(c.rcpt_outcome(0).reply) == "250 2.2.0 Ok a"
    assert c.rcpt_outcome(1).state is State.RCPT
    last = c.rcpt_outcome(2)
    assert last.state is State.DOT and last.reply is not None and last.reply.dsn == "4.2.2"


def test_smtp_client_auth_plain_and_login() -> None:
    c = client(recipients=["a@x.example"], credentials=Credentials("bob", "pw", "PLAIN"))
    token = base64.b64encode(b"\0bob\0pw")
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (b"250-s\r\n250 AUTH PLAIN LOGIN\r\n", b"AUTH PLAIN " + token + b"\r\n"),
               (b"235 2.7.0 Authentication successful\r\n", b"MAIL FROM:<bob@example.com>\r\n")])
    assert c.authenticated
    c = client(recipients=["a@x.example"], credentials=Credentials("bob", "pw"))
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (b"250-s\r\n250 AUTH=LOGIN\r\n", b"AUTH LOGIN\r\n"),
               (b"334 VXNlcm5hbWU6\r\n", base64.b64encode(b"bob") + b"\r\n"),
               (b"334 UGFzc3dvcmQ6\r\n", base64.b64encode(b"pw") + b"\r\n"),
               (b"535 5.7.8 Error: authentication failed\r\n", b"QUIT\r\n")])
    assert c.failure is not None and c.failure.state is State.AUTH and not c.authenticated


def test_smtp_client_dsn_parameters_only_to_a_dsn_server() -> None:
    rcpt = Rcpt("x@relay.example", orcpt="rfc822;x+y=z@relay.example", notify="SUCCESS,FAILURE")
    c = client(recipients=[rcpt], envid="id 1", ret="HDRS", body="8BITMIME")
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (EHLO_PIPE, b"MAIL FROM:<bob@example.com> SIZE=18 BODY=8BITMIME ENVID=id+201 RET=HDRS\r\n"
                           b"RCPT TO:<x@relay.example> ORCPT=rfc822;x+2By+3Dz@relay.example "
                           b"NOTIFY=SUCCESS,FAILURE\r\nDATA\r\n")])
    c = client(recipients=[rcpt])
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (EHLO_PLAIN, b"MAIL FROM:<bob@example.com>\r\n"),
               (b"250 Ok\r\n", b"RCPT TO:<x@relay.example>\r\n")])


def test_smtp_client_verify_probe_stops_after_rcpt() -> None:
    c = client(verify=True)
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (EHLO_PIPE, b"MAIL FROM:<bob@example.com> SIZE=18\r\nRCPT TO:<alice@example.net>\r\n"
                           b"RCPT TO:<carol@example.net>\r\n"),
               (b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n", b"RSET\r\n"),
               (b"250 2.0.0 Ok\r\n", b"QUIT\r\n")])
    assert c.rcpt_outcome(0).ok and not c.rcpt_outcome(1).ok


def test_smtp_client_loop_check_on_the_ehlo_name() -> None:
    c = client(loop_names=("mail.example.com",))
    dialog(c, [(b"220 mail.example.com ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (b"250-mail.example.com\r\n250 PIPELINING\r\n", b"QUIT\r\n")])
    assert c.failure is not None and c.failure.kind == "loop"


def test_smtp_client_connection_lost_and_timeout_name_the_stage() -> None:
    c = client()
    dialog(c, [(b"220 s ESMTP\r\n", b"EHLO mail.example.com\r\n"),
               (EHLO_PLAIN, b"MAIL FROM:<bob@example.com>\r\n"),
               (b"250 Ok\r\n", b"RCPT TO:<alice@example.net>\r\n")])
    c.receive_eof()
    assert c.done and c.failure is not None and c.failure.kind == "lost"
    assert c.failure.stage == "sending RCPT TO"
    c = client()
    c.receive_timeout()
    assert c.failure is not None and c.failure.kind == "timeout"
    assert c.failure.stage == "receiving the initial server greeting"


def test_smtp_client_quit_then_eof_is_a_clean_end() -> None:
    c = client(recipients=["a@x.example"])
    dialog(c, [(b"220 s\r\n", b"EHLO mail.example.com\r\n"), (b"421 bye\r\n", b"QUIT\r\n")])
    c.receive_eof()
    assert c.done and c.failure is not None and c.failure.kind == "reply"


def test_smtp_client_protocol_garbage_ends_the_session() -> None:
    c = client()
    c.receive_data(b"HTTP/1.0 200 OK\r\n")
    assert c.done and c.failure is not None and c.failure.kind == "protocol"


# -- message encoding -----------------------------------------------------------------------
def test_dot_stuff_converts_line_ends_doubles_dots_and_breaks_long_lines() -> None:
    data, broken = dot_stuff(b".hidden\nok\r\n..two\n")
    assert data == b"..hidden\r\nok\r\n...two\r\n" and not broken
    data, broken = dot_stuff(b"x" * 10 + b"\n", line_limit=4)
    assert data == b"xxxx\r\n xxx\r\n xxx\r\n" and broken
    assert dot_stuff(b"") == (b"", False)
    assert dot_stuff(b"no newline")[0] == b"no newline\r\n"


def test_quote_821_and_xtext() -> None:
    assert quote_821("bob@example.com") == "bob@example.com"
    assert quote_821("first last@example.com") == '"first last"@example.com'
    assert quote_821("") == ""
    assert xtext("a+b=c d") == "a+2Bb+3Dc+20d"


# -- replies ----------------------------------------------------------------------------------
def test_reply_parser_multiline_enhanced_and_log_form() -> None:
    p = ReplyParser()
    assert p.feed(b"550-5.1.1 The account\r\n550-5.1.1 does not\r") == []
    (r,) = p.feed(b"\n550 5.1.1 exist\r\n")
    assert r.code == 550 and r.enhanced == "5.1.1" and r.dsn == "5.1.1"
    assert str(r) == "550-5.1.1 The account 550-5.1.1 does not 550 5.1.1 exist"
    assert r.message.startswith("The account")
    assert r.wire() == b"550-5.1.1 The account\r\n550-5.1.1 does not\r\n550 5.1.1 exist\r\n"
    (r,) = p.feed(b"250 \n")
    assert r.code == 250 and r.dsn == "2.0.0" and r.enhanced == ""
    (r,) = p.feed(b"451 5.1.1 class mismatch\r\n")
    assert r.enhanced == "" and r.dsn == "4.0.0"
    assert Reply.make(250, "2.1.5 Ok").enhanced == "2.1.5"
    with pytest.raises(SMTPProtocolError):
        p.feed(b"hello\r\n")


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_reply_parser_never_crashes_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    p = ReplyParser(max_line=512)
    for chunk in chunks:
        try:
            for r in p.feed(chunk):
                assert 0 <= r.code <= 999 and isinstance(str(r), str)
        except SMTPProtocolError:
            p = ReplyParser(max_line=512)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=10))
def test_smtp_client_never_crashes_on_arbitrary_server_bytes(chunks: list[bytes]) -> None:
    c = client()
    for chunk in chunks:
        c.receive_data(chunk)
        c.data_to_send()
    c.receive_eof()
    assert c.done
    for i in range(2):
        c.rcpt_outcome(i)


def test_dot_stuff_with_the_smallest_line_limit_ends() -> None:
    # smtp_line_length_limit = 1: every continuation still carries one byte
    from simlab.proto.smtp_wire import dot_stuff
    assert dot_stuff(b"abc\n.x\n", 1) == (b"ab\r\n c\r\n..x\r\n", True)
    assert dot_stuff(b"abcdefgh\n", 4) == (b"abcd\r\n efg\r\n h\r\n", True)
