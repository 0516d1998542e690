"""SMTP cases outside the reference battery, measured on real Postfix 3.7.11 on loopback (see the data file)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from simlab.sim.network import Network

DATA = json.loads((Path(__file__).parent / "data/measured/smtp_generic.json").read_text())
CASES = DATA["cases"]


def mask(line: str) -> str:
    return re.sub(r"queued as \w+", "queued as QID", line)


@pytest.fixture(scope="module")
def net():
    net = Network(seed=1)
    mx = net.host("mail.example.com", ip="10.0.0.25", users=["alice"])
    cf = mx.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text().replace("mydestination = $myhostname, localhost.$mydomain, localhost, $mydomain",
                                         "mydestination = $myhostname, localhost")
                  + "default_transport = error:no outbound in this lab\nmynetworks = 127.0.0.0/8\n")
    mx.start_postfix()
    yield net
    net.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_smtpd_matches_measured_postfix(net: Network, name: str) -> None:
    case = CASES[name]
    expected = case["server"]
    cut = next((i for i, line in enumerate(expected) if line == "" or line.startswith("<")), len(expected))
    expected = expected[:cut]
    host = net["mail.example.com"]

    async def replay() -> list[str]:
        reader, writer = await host.open_connection("127.0.0.1", 25, component="client")
        out: list[str] = []

        async def replies(n: int) -> None:
            for _ in range(n):
                while True:
                    line = await reader.readline()
                    if not line:
                        return
                    out.append(line.decode().rstrip("\r\n"))
                    if line[3:4] != b"-":
                        break

        await replies(1)
        for chunk in case["client"]:
            if len(out) >= len(expected):
                break
            writer.write(chunk.encode())
            await replies(6 if chunk.startswith("EHLO c.example\r\nMAIL") else 1)
        writer.close()
        return out

    got = net.run_sync(replay())
    net.run()
    assert [mask(x) for x in got[:len(expected)]] == [mask(x) for x in expected]
