"""The client core against the smtp-sink lookalike: in memory, on the virtual network, on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from simlab.io import run_client
from simlab.postfix.smtp_sink import SinkCore, SinkOptions, SmtpSink, parse_args, smtp_sink
from simlab.proto.smtp import Rcpt, SMTPClient, State
from simlab.sim.network import Network

DATA = Path(__file__).parent / "data" / "agents"
MESSAGE = (b"From: <bob@example.com>\nTo: <x@relay.example>\nSubject: relay_domain\n"
           b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <relay_domain@client.example>\n\n"
           b"Hello from the Postfix reference battery.\n")


def pump(c: SMTPClient, s: SinkCore) -> None:
    """Move bytes between two sans-IO cores until the client is done."""
    c.receive_data(s.data_to_send())
    for _ in range(100):
        out = c.data_to_send()
        if out:
            s.receive_data(out)
        back = s.data_to_send()
        if back:
            c.receive_data(back)
        elif s.closing:
            c.receive_eof()
        if c.done:
            return
    raise AssertionError("the pair did not finish")


def test_pair_smtp_client_and_sink_in_memory() -> None:
    s = SinkCore(SinkOptions(hostname="sink.example"))
    c = SMTPClient("mail.example.com", "someone@outside.example",
                   [Rcpt("x@relay.example", orcpt="rfc822;x@relay.example")], MESSAGE)
    pump(c, s)
    assert c.failure is None and str(c.rcpt_outcome(0).reply) == "250 2.0.0 Ok"
    assert c.features.keys() >= {"PIPELINING", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"}
    (msg,) = s.messages
    assert msg.rcpt_args == ["<x@relay.example> ORCPT=rfc822;x@relay.example"]


def test_pair_lmtp_client_gets_one_reply_per_recipient() -> None:
    s = SinkCore(SinkOptions(lmtp=True))
    c = SMTPClient("mail.example.com", "bob@example.com", ["a@lmtp.example", "b@lmtp.example"],
                   MESSAGE, lmtp=True)
    pump(c, s)
    assert [str(c.rcpt_outcome(i).reply) for i in range(2)] == ["250 2.2.0 Ok"] * 2
    assert c.hello_command == "LHLO"


def test_pair_sink_rejecting_rcpt_and_dot() -> None:
    s = SinkCore(parse_args("-f RCPT 127.0.0.1:2528 256")[0])
    c = SMTPClient("mail.example.com", "bob@example.com", ["user@bounce.example"], MESSAGE)
    pump(c, s)
    out = c.rcpt_outcome(0)
    assert out.state is State.RCPT and str(out.reply) == "500 5.3.0 Error: command failed"
    assert "PIPELINING" not in c.features            # -f implies -p
    s = SinkCore(parse_args("-L -r . 127.0.0.1:2524 256")[0])
    c = SMTPClient("mail.example.com", "bob@example.com", ["a@l", "b@l"], MESSAGE, lmtp=True)
    pump(c, s)
    assert [c.rcpt_outcome(i).reply.dsn for i in range(2)] == ["4.3.0", "4.3.0"]


def test_sink_dump_matches_the_reference_capture(tmp_path: Path) -> None:
    ref = json.loads((DATA / "19_relay_domain.json").read_text())
    (expected,) = ref["deliveries"]
    opt, where, backlog = parse_args("-h sink.example -d /var/spool/labsink/smtp-%Y%m%d%H%M%S. "
                                     "127.0.0.1:2526 256")
    assert (where, backlog) == ("127.0.0.1:2526", 256)
    received = "Received: from client.example (localhost [127.0.0.1])\n\tby mail.example.com (Postfix) " \
               "with ESMTP id E2726160592\n\tfor <x@relay.example>; Tue, 24 Nov 2026 13:37:08 +0000 (UTC)\n"
    sink = SmtpSink(opt, root=tmp_path, now=lambda: 1795527428.0)
    s = SinkCore(opt, "127.0.0.1", sink.now, sink.rng)
    c = SMTPClient("mail.example.com", "someone@outside.example",
                   [Rcpt("x@relay.example", orcpt="rfc822;x@relay.example")],
                   received.encode() + MESSAGE)
    pump(c, s)
    (msg,) = s.messages
    msg.id = 0x0784AFB0      # smtp-sink's random id, as in the capture
    sink.completed(msg)
    assert msg.path is not None and msg.path.name == Path(expected["file"]).name
    assert msg.path.read_text() == expected["content"]


def test_sink_refuses_unknown_and_out_of_order_commands() -> None:
    s = SinkCore(SinkOptions())
    s.receive_data(b"LHLO x\r\nRCPT TO:<a@b>\r\nDATA\r\n\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nQUIT\r\n")
    lines = s.data_to_send().decode().split("\r\n")
    assert lines[:7] == ["220 smtp-sink ESMTP", "500 5.5.1 Error: unknown command",
                         "503 5.5.1 Error: need MAIL command", "503 5.5.1 Error: need RCPT command",
                         "500 5.5.2 Error: unknown command", "250 2.1.0 Ok",
                         "503 5.5.1 Error: nested MAIL command"]
    assert lines[7] == "221 Bye" and s.closing
    with pytest.raises(ValueError):
        parse_args("-f BOGUS :25 10")


def test_run_client_over_the_virtual_network_with_the_sink() -> None:
    net = Network(seed=1)
    mx = net.host("sink.example", ip="10.0.0.2")
    pc = net.host("mail.example.com", ip="10.0.0.3")
    sink = smtp_sink(mx, "-h sink.example 10.0.0.2:25 256")

    async def go() -> SMTPClient:
        reader, writer = await pc.open_connection("10.0.0.2", 25, component="smtp")
        core = SMTPClient("mail.example.com", "bob@example.com", ["x@sink.example"], MESSAGE,
                          clock=lambda: net.now)
        return await run_client(core, reader, writer, timeout=300)

    core = net.run_sync(go())
    assert core.done and core.rcpt_outcome(0).ok
    assert sink.messages[0].helo == "mail.example.com"
    conn = net.trace.connections()[0].details["conn"]
    dialog = net.trace.dialog(conn)
    assert dialog[0] == ("S", "220 sink.example ESMTP") and dialog[-1] == ("S", "221 Bye")
    assert core.setup_done_at > 0
    net.close()


def test_run_client_time_out_in_virtual_time() -> None:
    net = Network(seed=1)
    srv = net.host("slow.example", ip="10.0.0.2")
    pc = net.host("pc.example", ip="10.0.0.3")

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()          # says nothing; returns when the client hangs up
        writer.close()

    srv.listen_streams(25, silent, component="tarpit")

    async def go() -> SMTPClient:
        reader, writer = await pc.open_connection("10.0.0.2", 25, component="smtp")
        return await run_client(SMTPClient("pc.example", "a@b", ["c@d"], b"x\n"), reader, writer,
                                timeout=300)

    core = net.run_sync(go())
    assert core.failure is not None and core.failure.kind == "timeout" and 300 <= net.now < 301
    net.close()


def test_run_client_over_real_loopback_sockets() -> None:
    async def go() -> tuple[SMTPClient, SmtpSink]:
        sink = SmtpSink(SinkOptions(lmtp=True))
        server = await sink.serve("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            core = SMTPClient("mail.example.com", "bob@example.com", ["a@l", "b@l"], MESSAGE, lmtp=True)
            await run_client(core, reader, writer, timeout=10)
        finally:
            server.close()
            await server.wait_closed()
        return core, sink

    core, sink = asyncio.run(go())
    assert [str(core.rcpt_outcome(i).reply) for i in range(2)] == ["250 2.2.0 Ok"] * 2
    assert sink.messages[0].proto == "LMTP"
