"""The reference battery's lab host (mail.example.com) as a simlab root, for the delivery tests.

lab(tmp_path) lays out a host root with the lab's main.cf, master.cf, aliases,
virtual, vmailbox, transport, incl.list and bob's .forward (copies under
tests/data/delivery/lab), builds the hash tables, and returns a
PostfixContext on a VirtualLoop whose clock starts at the capture's epoch.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

from simlab.postfix.common.context import LAB_EPOCH, PostfixContext, VirtualClock
from simlab.sim.loop import VirtualLoop
from simlab.sim.rootfs import init_root

DATA = Path(__file__).parent / "data" / "delivery"
LAB = DATA / "lab"

LAB_FILES = {
    "main.cf": "etc/postfix/main.cf",
    "master.cf": "etc/postfix/master.cf",
    "aliases": "etc/aliases",
    "virtual": "etc/postfix/virtual",
    "vmailbox": "etc/postfix/vmailbox",
    "transport": "etc/postfix/transport",
    "incl.list": "etc/postfix/incl.list",
    "bob.forward": "home/bob/.forward",
}


def postmap(root: Path, spec: str) -> None:
    from simlab.postfix.commands import postmap as pm
    err = io.StringIO()
    rc = pm.main(["--root", str(root), spec], stdout=io.StringIO(), stderr=err)
    assert rc == 0, err.getvalue()


def postalias(root: Path, spec: str) -> None:
    from simlab.postfix.commands import postalias as pa
    err = io.StringIO()
    rc = pa.main(["--root", str(root), spec], stdout=io.StringIO(), stderr=err)
    assert rc == 0, err.getvalue()


def make_root(tmp_path: Path, main_cf_extra: str = "") -> Path:
    root = init_root(tmp_path / "mail", hostname="mail.example.com", domain="example.com",
                     users=["alice", "bob", "erin"])
    for src, dst in LAB_FILES.items():
        target = root / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LAB / src, target)
    if main_cf_extra:
        with open(root / "etc/postfix/main.cf", "a") as f:
            f.write(main_cf_extra)
    for table in ("virtual", "vmailbox", "transport"):
        postmap(root, f"hash:/etc/postfix/{table}")
    postalias(root, "hash:/etc/aliases")
    for d in ("var/spool/labfiles", "var/mail/vhosts", "usr/local/bin"):
        (root / d).mkdir(parents=True, exist_ok=True)
    return root


def lab(tmp_path: Path, main_cf_extra: str = "", loop: VirtualLoop | None = None) -> Any:
    """A context for the lab host; ``ctx.loop`` is its VirtualLoop."""
    root = make_root(tmp_path, main_cf_extra)
    loop = loop or VirtualLoop()
    ctx = PostfixContext.create(root, hostname="mail.example.com", clock=VirtualClock(loop, LAB_EPOCH))
    ctx.loop = loop  # type: ignore[attr-defined]
    return ctx


def scenario(name: str) -> dict[str, Any]:
    path = next((DATA / "smtp").glob(f"{name}*.json"))
    return json.loads(path.read_text())


def queue_steps() -> list[dict[str, Any]]:
    return json.loads((DATA / "queue" / "steps.json").read_text())


_QID = re.compile(r"\b[0-9A-F]{10,11}\b")
_STAMP = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun),? (\d\d? )?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                    r"( \d\d?)?( \d{4})? \d\d:\d\d:\d\d( \d{4})?( \+0000 \(UTC\))?")


def normalize(text: str) -> str:
    """Mask queue ids, dates and epoch stamps so deliveries can be compared."""
    text = _QID.sub("QUEUEID", text)
    text = _STAMP.sub("DATE", text)
    text = re.sub(r"\b\d{14}\.QUEUEID\b", "STAMP.QUEUEID", text)
    text = re.sub(r"QUEUEID\.\d{10}/", "QUEUEID.EPOCH/", text)
    return text


def split_mbox(text: str) -> list[str]:
    """The messages of an mbox (each starts with a From_ line)."""
    parts = re.split(r"(?m)^(?=From \S+  \w{3} \w{3} )", text)
    return [p for p in parts if p]
