"""The reference battery's lab host as a simlab root: the one lab-root builder of the tests.

make_root(tmp_path)          lays out mail.example.com the way the battery's README table
                             says: simlab's shipped copy of the lab (simlab/data/lab, installed
                             by simlab.scenarios.lab.install_lab: main.cf, master.cf, aliases,
                             virtual, vmailbox, transport, incl.list, bob's .forward, the two
                             lab scripts, the Dovecot files), /etc/passwd with alice, bob, erin,
                             robot and vmail, hash tables built with postmap/postalias.
lab_network(seed)            the whole lab system on a virtual Network: that root on host
                             mail.example.com (10.0.0.25), the lab's two scripts registered as
                             programs, Postfix started (master and every service), the three
                             smtp-sinks of the battery listening; returns (net, host).
Lab(tmp_path)                a Network with that host, a PostfixContext on it, and every
                             smtpd listener of master.cf on its port (no master, no qmgr:
                             accepted mail stays in the incoming queue).
lab.replay(scenario)         sends each recorded client chunk, reads as many server lines as
                             Postfix sent before the next chunk; returns (expected, got) lines.
replay_streams(r, w, sc)     the same replay on any pair of asyncio streams (virtual or real).
"""

from __future__ import annotations

import asyncio
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from simlab.postfix.common.context import LAB_EPOCH, HostTrace, PostfixContext, VirtualClock
from simlab.postfix.common.netaccess import VirtualNetAccess
from simlab.scenarios.lab import install_lab
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

DATA = Path(__file__).parent / "data" / "smtp"
MEASURED = Path(__file__).parent / "data" / "smtp_measured"   # captured on the real lab (see its README)
LAB = Path(str(resources.files("simlab").joinpath("data/lab")))
USERS = ["alice", "bob", "erin", "robot", "vmail"]
PORTS = {"smtp": 25}
# listener name in the battery -> master.cf port
LISTENERS = {"inside": 25, "outside": 2525, "limits": 2527, "strict": 2523, "barelf": 2522}


def scenarios(folder: Path = DATA) -> list[Path]:
    """The scenario files of a folder (the reference battery's by default), in number order."""
    return sorted(folder.glob("[0-9]*_*.json"), key=lambda p: (int(p.name.split("_")[0]), p.name))


def load(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        p = next((q for d in (DATA, MEASURED) for q in d.glob(f"{path}*.json")))
    return json.loads(p.read_text())


def make_root(tmp_path: Path, main_cf_extra: str = "", name: str = "mail.example.com") -> Path:
    """The lab host's root at tmp_path/name (main_cf_extra is appended to main.cf)."""
    return lab_root(tmp_path / name, main_cf_extra)


def lab_root(root: Path, main_cf_extra: str = "") -> Path:
    """Lay out the lab host in ``root`` (which may exist): accounts, lab files, tables."""
    root = init_root(root, hostname="mail.example.com", domain="example.com", users=USERS)
    install_lab(root)
    if main_cf_extra:
        with open(root / "etc/postfix/main.cf", "a") as f:
            f.write(main_cf_extra)
    return root


def lab_network(seed: int = 1) -> tuple[Network, Any]:
    """The lab as simlab.scenarios.lab builds it, on this module's root (with the vmail user)."""
    from simlab.postfix.smtp_sink import smtp_sink
    from simlab.scenarios.lab import SINKS, register_lab_programs
    net = Network(seed=seed)
    host = net.host("mail.example.com", ip="10.0.0.25")
    lab_root(host.root)
    register_lab_programs(host)
    host.start_postfix()
    for argv in SINKS.values():
        smtp_sink(host, argv)
    return net, host


class Lab:
    """mail.example.com (10.0.0.25) with its smtpd listeners, in virtual time."""

    def __init__(self, tmp_path: Path, main_cf_extra: str = "", seed: int = 1) -> None:
        from simlab.postfix.config import HostFacts, load_config, read_master_cf
        from simlab.postfix.smtpd import make_smtpd_protocol
        self.root = make_root(tmp_path, main_cf_extra)
        self.net = Network(seed=seed, workdir=tmp_path / "net")
        self.host = self.net.host("mail.example.com", ip="10.0.0.25", root=self.root)
        facts = HostFacts(hostname="mail.example.com", interfaces=("127.0.0.1/8", "10.0.0.25/24", "::1/128"))
        config = load_config(self.root / "etc/postfix", facts=facts)
        loop = self.net.loop
        self.ctx = PostfixContext(root=self.root, hostname="mail.example.com", config=config,
                                  clock=VirtualClock(loop, LAB_EPOCH),
                                  trace=HostTrace(self.net.trace, self.host.name, loop.time),
                                  net=VirtualNetAccess(self.host), facts=facts)
        self.ports: dict[str, int] = {}
        for svc in read_master_cf(self.root / "etc/postfix"):
            if svc.type != "inet" or svc.command != "smtpd":
                continue
            name = svc.name.rpartition(":")[2]
            port = PORTS.get(name) or int(name)
            addr = svc.name.rpartition(":")[0] or "*"
            self.host.listen(port, make_smtpd_protocol(self.ctx, svc), component="smtpd", addr=addr)
            label = svc.overrides.get("syslog_name", "postfix").rpartition("/")[2]
            self.ports["inside" if label == "postfix" else label] = port

    def run(self, coro: Any) -> Any:
        return self.net.run_sync(coro)

    def maillog(self) -> list[str]:
        return list(self.ctx.log.lines)

    async def connect(self, listener: str = "inside") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await self.host.open_connection("127.0.0.1", self.ports[listener], component="client")

    async def dialog(self, listener: str, chunks: list[str | None]) -> list[str]:
        """Send chunks (None: read one line) and return every server line received."""
        reader, writer = await self.connect(listener)
        lines = [await _line(reader)]
        for chunk in chunks:
            if chunk is None:
                lines.append(await _line(reader))
                continue
            writer.write(chunk.encode("utf-8", "surrogateescape"))
            await asyncio.sleep(0.01)
        writer.write_eof()
        while True:
            more = await _line(reader)
            if more in ("<EOF>", "<TIMEOUT>"):
                break
            lines.append(more)
        return lines

    def replay(self, scenario: dict[str, Any]) -> tuple[list[str], list[str]]:
        return self.run(self._replay(scenario))

    async def _replay(self, scenario: dict[str, Any]) -> tuple[list[str], list[str]]:
        reader, writer = await self.connect(scenario["listener"])
        result = await replay_streams(reader, writer, scenario)
        await asyncio.sleep(1)
        return result


async def replay_streams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         scenario: dict[str, Any], timeout: float = 60.0) -> tuple[list[str], list[str]]:
    """Send each client chunk as recorded, read one line per recorded server line.

    Returns (expected, got); a recorded "connection closed by server" is the line "<EOF>".
    """
    expected: list[str] = []
    got: list[str] = []
    for step in scenario["transcript"]:
        if step["dir"] == "S" and "line" in step:
            expected.append(step["line"])
            got.append(await _line(reader, timeout))
        elif step["dir"] == "C" and "data" in step:
            writer.write(step["data"].encode("utf-8", "surrogateescape"))
        elif step["dir"] == "C" and step.get("event") == "client closed connection":
            writer.close()
        elif step["dir"] == "S" and step.get("event") == "connection closed by server":
            expected.append("<EOF>")
            got.append(await _line(reader, timeout))
    writer.close()
    while await _line(reader, timeout) not in ("<EOF>", "<TIMEOUT>"):
        pass
    return expected, got


async def _line(reader: asyncio.StreamReader, timeout: float = 60.0) -> str:
    try:
        raw = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        return "<TIMEOUT>"
    except ConnectionError:
        return "<EOF>"
    if not raw:
        return "<EOF>"
    return raw.decode("utf-8", "surrogateescape").rstrip("\r\n")


_B52 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"
_QID = re.compile(rf"\b(?:[0-9A-F]{{10,12}}|{_B52}{{12,}}z{_B52}+)\b")


async def smtp_session(host: Any, lines: list[str], data: bytes | None = None, port: int = 25) -> list[str]:
    """One SMTP session on a simulated host: the last reply line of every command (and of DATA's end)."""
    reader, writer = await host.open_connection("127.0.0.1", port, component="test")
    replies = [(await reader.readline()).decode().rstrip("\r\n")]

    async def reply() -> str:
        while (line := (await reader.readline()).decode().rstrip("\r\n"))[3:4] == "-":
            pass
        return line
    for line in lines:
        writer.write((line + "\r\n").encode())
        replies.append(await reply())
        if line == "DATA" and data is not None:
            writer.write(data.replace(b"\n", b"\r\n") + b".\r\n")
            replies.append(await reply())
    writer.write(b"QUIT\r\n")
    await reader.read()
    return replies


def submit_queued(net: Network, rcpts: list[str], body: bytes, port: int = 25) -> str:
    """EHLO, MAIL, RCPT..., DATA on mail.example.com; the queue id of the accepted message."""
    replies = net.run_sync(smtp_session(net["mail.example.com"], [
        "EHLO client.example", "MAIL FROM:<bob@example.com>", *[f"RCPT TO:<{r}>" for r in rcpts], "DATA"],
        body, port))
    assert replies[-1].startswith("250 2.0.0 Ok: queued as "), replies
    return replies[-1].rsplit(" ", 1)[1]


def mask(line: str) -> str:
    """Queue ids, pids and time stamps aside."""
    line = _QID.sub("QID", line)
    line = re.sub(r"^\w{3} [ 0-9]\d \d\d:\d\d:\d\d ", "STAMP ", line)
    line = re.sub(r"\[\d+\]: ", "[PID]: ", line)
    line = re.sub(r"\b\d{14}\.QID@", "DATE.QID@", line)
    line = re.sub(r"client_port=\d+", "client_port=PORT", line)
    return line


def receive_log(lines: list[str]) -> list[str]:
    """The smtpd lines of a maillog, and cleanup's for the messages smtpd received, masked.

    (cleanup also logs for the notifications that bounce(8) sends; those belong to delivery.)
    """
    smtpd = [ln for ln in lines if re.search(r" postfix/(?:\w+/)?smtpd\[", ln)]
    qids = {m.group(1) for ln in smtpd for m in [re.search(r": (\w+): client=", ln)] if m}
    keep = []
    for ln in lines:
        m = re.search(r" postfix/cleanup\[\d+\]: (\w+): ", ln)
        if ln in smtpd or (m and m.group(1) in qids):
            keep.append(mask(ln))
    return keep
