"""The reference battery's lab host as a simlab root, with smtpd listening on the virtual network.

make_root(tmp_path)          lays out mail.example.com: the lab's main.cf, master.cf, aliases,
                             virtual, vmailbox, transport (copies in tests/data/smtp/lab),
                             /etc/passwd with alice, bob, erin, robot and vmail, hash tables
                             built with postmap/postalias.
Lab(tmp_path)                a Network with that host, a PostfixContext on it, and every
                             smtpd listener of master.cf on its port (no master, no qmgr:
                             accepted mail stays in the incoming queue).
lab.replay(scenario)         sends each recorded client chunk, reads as many server lines as
                             Postfix sent before the next chunk; returns (expected, got) lines.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

from simlab.postfix.common.context import LAB_EPOCH, HostTrace, PostfixContext, VirtualClock, VirtualNetAccess
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

DATA = Path(__file__).parent / "data" / "smtp"
LAB = DATA / "lab"
USERS = ["alice", "bob", "erin", "robot", "vmail"]
LAB_FILES = {
    "main.cf": "etc/postfix/main.cf",
    "master.cf": "etc/postfix/master.cf",
    "aliases": "etc/aliases",
    "virtual": "etc/postfix/virtual",
    "vmailbox": "etc/postfix/vmailbox",
    "transport": "etc/postfix/transport",
    "incl.list": "etc/postfix/incl.list",
    "bob.forward": "home/bob/.forward",
    "dovecot-users": "etc/dovecot/users",
}
PORTS = {"smtp": 25}


def scenarios() -> list[Path]:
    return sorted(DATA.glob("[0-9][0-9]_*.json"))


def load(path: Path | str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        p = next(DATA.glob(f"{path}*.json"))
    return json.loads(p.read_text())


def _run(main: Any, argv: list[str]) -> None:
    err = io.StringIO()
    rc = main(argv, stdout=io.StringIO(), stderr=err)
    assert rc == 0, err.getvalue()


def make_root(tmp_path: Path, main_cf_extra: str = "") -> Path:
    from simlab.postfix.commands import postalias, postmap
    root = init_root(tmp_path / "mail.example.com", hostname="mail.example.com", domain="example.com",
                     users=USERS)
    for src, dst in LAB_FILES.items():
        target = root / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LAB / src, target)
    if main_cf_extra:
        with open(root / "etc/postfix/main.cf", "a") as f:
            f.write(main_cf_extra)
    for table in ("virtual", "vmailbox", "transport"):
        _run(postmap.main, ["--root", str(root), f"hash:/etc/postfix/{table}"])
    _run(postalias.main, ["--root", str(root), "hash:/etc/aliases"])
    return root


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
        steps = scenario["transcript"]
        reader, writer = await self.connect(scenario["listener"])
        expected: list[str] = []
        got: list[str] = []
        i = 0
        while i < len(steps):
            step = steps[i]
            i += 1
            if step["dir"] == "S" and "line" in step:
                expected.append(step["line"])
                got.append(await _line(reader))
            elif step["dir"] == "C" and "data" in step:
                writer.write(step["data"].encode("utf-8", "surrogateescape"))
            elif step["dir"] == "C" and step.get("event") == "client closed connection":
                writer.close()
            elif step["dir"] == "S" and step.get("event") == "connection closed by server":
                expected.append("<EOF>")
                got.append(await _line(reader))
        writer.close()
        while await _line(reader) not in ("<EOF>", "<TIMEOUT>"):
            pass
        await asyncio.sleep(1)
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
