"""Queue administration on a running instance: smtpd -> cleanup -> qmgr -> smtp (deferred), then
mailq, postsuper -h/-H/-e, postqueue -f/-i as in reference steps 2-15."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _queue_lab import install_lab, ref
from simlab import Network
from simlab.postfix.system import PostfixSystem

REASON = "(connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)"


@pytest.fixture
def live(tmp_path: Path) -> tuple[Network, PostfixSystem]:
    qmgr = pytest.importorskip("simlab.postfix.qmgr")
    if not hasattr(qmgr, "QueueManager"):
        pytest.skip("qmgr not available")
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    install_lab(host.root)      # the lab's files and tables (newaliases, postmap done)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    yield net, pf
    net.run_sync(pf.stop())


async def submit(host: Any, rcpts: list[str]) -> str:
    reader, writer = await host.open_connection("127.0.0.1", 25, component="test")
    await reader.readline()
    lines = ["EHLO client.example", "MAIL FROM:<bob@example.com>", *[f"RCPT TO:<{r}>" for r in rcpts], "DATA"]
    for line in lines:
        writer.write((line + "\r\n").encode())
        while (reply := (await reader.readline()).decode())[3:4] == "-":
            pass
    writer.write(b"Subject: queue-one\r\n\r\nHello from the Postfix reference battery.\r\n.\r\n")
    queued = (await reader.readline()).decode()
    writer.write(b"QUIT\r\n")
    await reader.read()
    return queued.rsplit(" ", 1)[1].strip()


def test_deferred_mail_through_the_admin_commands(live: Any) -> None:
    net, pf = live
    host = net["mail.example.com"]
    qid = net.run_sync(submit(host, ["user1@deferred.example"]))
    net.run(until=net.now + 1)
    assert pf.store.find(qid) == "deferred"
    out = pf.command("mailq").stdout
    heading = ref("mailq", "mailq / postqueue -p with deferred")["stdout"].split("\n", 1)[0]
    assert out.startswith(heading + "\n" + qid) and f"\n{REASON:>78}\n" in out
    assert out.endswith("                                         user1@deferred.example\n\n-- 0 Kbytes in 1 Request.\n")

    assert pf.command("postsuper", "-h", qid).stderr == \
        f"postsuper: {qid}: placed on hold\npostsuper: Placed on hold: 1 message\n"
    assert f"{qid}!" in pf.command("mailq").stdout
    pf.command("postsuper", "-H", qid)
    assert pf.command("postqueue", "-f").rc == 0
    net.run(until=net.now + 1)
    attempts = [line for line in pf.ctx.log.lines if f"{qid}: to=<user1@deferred.example>" in line]
    assert len(attempts) == 2 and all("status=deferred" in line for line in attempts)

    assert pf.command("postsuper", "-e", qid).stderr == \
        f"postsuper: {qid}: expired\npostsuper: Force-expired: 1 message\n"
    assert pf.command("postqueue", "-i", qid).rc == 0
    net.run(until=net.now + 1)
    assert any(line.endswith(f"{qid}: from=<bob@example.com>, status=force-expired, returned to sender")
               for line in pf.ctx.log.lines)
    assert pf.store.find(qid) is None
