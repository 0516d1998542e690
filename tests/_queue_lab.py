"""Shared fixtures for the queue tests: the lab root and the reference battery's queue files.

tests/data/queue/steps.json is a copy of the real Postfix 3.7.11 capture
(reference/postfix/queue/steps.json); the lab root is postfix_lab's (simlab's
shipped copy of the lab files, installed as the battery's README says).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from postfix_lab import lab_root as _lab_root
from simlab.postfix.common.queue import QueueFile, QueueStore, Recipient

DATA = Path(__file__).parent / "data" / "queue"


def steps() -> list[dict[str, Any]]:
    return json.loads((DATA / "steps.json").read_text())


def ref(cmd: str, title: str = "") -> dict[str, Any]:
    """The first recorded command ``cmd`` (in a step whose title starts with ``title``)."""
    for st in steps():
        if st["title"].startswith(title):
            for c in st["commands"]:
                if c["cmd"] == cmd:
                    return c
    raise KeyError(cmd)


def lab_root(tmp: Path, **main_cf: str) -> Path:
    return install_lab(tmp / "mail", **main_cf)


def install_lab(root: Path, **main_cf: str) -> Path:
    """The reference lab in a host root (``main_cf`` settings are appended to main.cf)."""
    return _lab_root(root, "".join(f"{k} = {v}\n" for k, v in main_cf.items()))


def queue_file_from_postcat(text: str, qid: str, arrival: float) -> QueueFile:
    """Rebuild the queue file behind a recorded ``postcat -q`` output."""
    lines = text.splitlines()
    attrs: dict[str, str] = {}
    rcpts: list[Recipient] = []
    orig = orcpt = ""
    sender = ""
    for line in lines[1:]:
        if line.startswith("*** MESSAGE CONTENTS"):
            break
        name, val = line.split(": ", 1)
        if name == "named_attribute":
            k, v = val.split("=", 1)
            if k == "dsn_orig_rcpt":
                orcpt = v
            elif k != "log_ident":
                attrs[k] = v
        elif name == "sender":
            sender = val
        elif name == "original_recipient":
            orig = val
        elif name in ("recipient", "done_recipient"):
            rcpts.append(Recipient(val, orig, orcpt=orcpt, done=(name == "done_recipient")))
            orig = orcpt = ""
    content = text.split("***\n", 2)[2].split("*** HEADER EXTRACTED")[0].encode()
    return QueueFile(qid, arrival, sender, rcpts, content, attrs)


def write_defer_log(store: QueueStore, qid: str, rcpts: list[str], reason: str) -> None:
    """A defer logfile as bounce(8) writes it: name=value lines, a blank line after each entry."""
    p = store.top / "defer" / Path(*store.hash_dirs("defer", qid)) / qid
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(f"recipient={r}\noffset=0\ndsn_orig_rcpt=rfc822;{r}\nnotify_flags=0\n"
                         f"status=4.4.1\naction=delayed\nreason={reason}\n\n" for r in rcpts))


def run(module: Any, argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    inp = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    rc = module.main(argv, stdin=inp, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()
