"""The same smtpd on a real asyncio loop and a real loopback socket (what ``simlab serve`` does)."""

from __future__ import annotations

import asyncio
import re

from postfix_lab import make_root
from simlab.postfix.common.context import PostfixContext, RealClock
from simlab.postfix.common.netaccess import RealNetAccess
from simlab.postfix.common.queue import QueueStore
from simlab.postfix.config import read_master_cf
from simlab.postfix.smtpd import make_smtpd_protocol


def test_smtpd_on_loopback_socket(tmp_path):
    root = make_root(tmp_path)
    ctx = PostfixContext.create(root, hostname="mail.example.com", clock=RealClock(), net=RealNetAccess())
    svc = next(s for s in read_master_cf(root / "etc/postfix") if s.name == "smtp")

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(make_smtpd_protocol(ctx, svc), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [(await reader.readline()).decode()]
        for cmd in ["EHLO client.example", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>", "DATA",
                    "Subject: real\r\n\r\nover a socket\r\n.", "foo bar", "1234 x"]:
            writer.write(cmd.encode() + b"\r\n")
            while True:
                line = (await asyncio.wait_for(reader.readline(), 10)).decode()
                lines.append(line)
                if not line or line[3:4] != "-":
                    break
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        server.close()
        await server.wait_closed()
        return [ln.rstrip("\r\n") for ln in lines] + [rest.decode()]

    lines = asyncio.run(main())
    assert lines[0] == "220 mail.example.com ESMTP Postfix"
    assert lines[-6:-4] == ["250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"]
    assert re.match(r"250 2\.0\.0 Ok: queued as [0-9A-F]+$", lines[-4])
    assert lines[-3:] == ["500 5.5.2 Error: command not recognized",
                          "221 2.7.0 Error: I can break rules, too. Goodbye.", ""]
    qid = lines[-4].rsplit(" ", 1)[1]
    assert QueueStore(ctx).list("incoming") == [qid]
    log = (root / "var/log/postfix.log").read_text()
    assert "warning: non-SMTP command from localhost[127.0.0.1]: 1234 x" in log


def test_smtpd_timeout_counts_from_the_last_command_on_a_real_loop(tmp_path):
    # The timer is armed once and re-armed when it fires before the deadline
    # that the later commands moved; the client still gets its full smtpd_timeout.
    root = make_root(tmp_path)
    with open(root / "etc/postfix/main.cf", "a") as f:
        f.write("smtpd_timeout = 1s\n")
    ctx = PostfixContext.create(root, hostname="mail.example.com", clock=RealClock(), net=RealNetAccess())
    svc = next(s for s in read_master_cf(root / "etc/postfix") if s.name == "smtp")

    async def main() -> tuple[float, list[str]]:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(make_smtpd_protocol(ctx, svc), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [(await reader.readline()).decode()]
        for _ in range(3):
            await asyncio.sleep(0.6)
            writer.write(b"NOOP\r\n")
            lines.append((await reader.readline()).decode())
        last = loop.time()
        lines.append((await asyncio.wait_for(reader.readline(), 10)).decode())
        waited = loop.time() - last
        writer.close()
        server.close()
        await server.wait_closed()
        return waited, [ln.rstrip("\r\n") for ln in lines]

    waited, lines = asyncio.run(main())
    assert lines[1:4] == ["250 2.0.0 Ok"] * 3
    assert lines[4] == "421 4.4.2 mail.example.com Error: timeout exceeded"
    assert 0.9 <= waited < 2.0
    assert "timeout after NOOP from localhost[127.0.0.1]" in (root / "var/log/postfix.log").read_text()
