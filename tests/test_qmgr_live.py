"""The whole path on a running instance: smtpd -> cleanup -> qmgr -> local/bounce, under master(8)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from _delivery_lab import LAB, log_keys, normalize, postalias, postmap, scenario, split_mbox
from simlab import Network
from simlab.postfix.system import PostfixSystem

FILES = {"main.cf": "etc/postfix/main.cf", "master.cf": "etc/postfix/master.cf",
         "aliases": "etc/aliases", "virtual": "etc/postfix/virtual",
         "vmailbox": "etc/postfix/vmailbox", "transport": "etc/postfix/transport",
         "incl.list": "etc/postfix/incl.list", "bob.forward": "home/bob/.forward"}


@pytest.fixture
def live(tmp_path: Path):
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    from simlab.sim.rootfs import init_root
    root = init_root(host.root, hostname="mail.example.com", domain="example.com",
                     users=["alice", "bob", "erin"], overwrite=True)
    for src, dst in FILES.items():
        (root / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LAB / src, root / dst)
    for table in ("virtual", "vmailbox", "transport"):
        postmap(root, f"hash:/etc/postfix/{table}")
    postalias(root, "hash:/etc/aliases")
    (root / "var/spool/labfiles").mkdir(parents=True, exist_ok=True)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    yield net, host, pf
    net.run_sync(pf.stop())


async def replay(host: Any, data: dict[str, Any]) -> None:
    reader, writer = await host.open_connection("127.0.0.1", 25, component="test")
    items = data["transcript"]
    expect = 0
    for t in items:
        if t.get("dir") == "S":
            expect += 1
        elif t.get("dir") == "C" and "data" in t:
            for _ in range(expect):
                await reader.readline()
            expect = 0
            writer.write(t["data"].encode())
    for _ in range(expect):
        await reader.readline()
    writer.close()


@pytest.mark.parametrize("name", ["10_alias_list", "22_address_forms_local", "77_delivered_to_loop"])
def test_live_scenario_delivers_like_postfix(live, name):
    net, host, pf = live
    data = scenario(name)
    net.run_sync(replay(host, data))
    net.run(until=net.now + 5)
    lines = pf.ctx.log.lines
    programs = ("local", "qmgr", "bounce", "cleanup")
    assert sorted(log_keys(lines, programs)) == sorted(log_keys(data["mail_log"], programs))
    for dl in data["deliveries"]:
        path = pf.ctx.path("/" + dl["file"])
        ours = sorted(normalize(m) for m in split_mbox(path.read_text()))
        assert ours == sorted(normalize(m) for m in split_mbox(dl["content"])), dl["file"]


def test_live_local_processes_come_from_master(live):
    net, host, pf = live
    net.run_sync(replay(host, scenario("10_alias_list")))
    net.run(until=net.now + 5)
    procs = {p.command for p in pf.master.processes()}
    assert {"qmgr", "local"} <= procs
