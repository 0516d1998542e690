"""The reference battery's lab host (mail.example.com) as a simlab root, for the delivery tests.

lab(tmp_path) lays out the host root with postfix_lab.make_root (simlab's shipped
copy of the lab files, installed as the battery's README says, hash tables built)
and returns a PostfixContext on a VirtualLoop whose clock starts at the capture's
epoch. The scenarios are the battery's (tests/data/smtp), the queue steps its
queue capture (tests/data/queue/steps.json).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

from postfix_lab import LAB  # noqa: F401  (the lab files, for tests that install them one by one)
from postfix_lab import make_root as _make_root
from simlab.postfix.common.context import LAB_EPOCH, PostfixContext, VirtualClock
from simlab.sim.loop import VirtualLoop

DATA = Path(__file__).parent / "data"


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
    return _make_root(tmp_path, main_cf_extra, name="mail")


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
_STAMP = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun),? ( ?\d\d? )?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                    r"(  ?\d\d?)?( \d{4})? \d\d:\d\d:\d\d( \d{4})?( \+0000 \(UTC\))?")   # days 1-9 are padded


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


def reference_message(mbox_entry: str) -> bytes:
    """The queued message inside a reference mailbox entry: drop From_, the 3 local headers, the blank."""
    lines = mbox_entry.split("\n")
    assert lines[0].startswith("From ")
    body = lines[1:]
    while body and body[0].split(":", 1)[0] in ("Return-Path", "X-Original-To", "Delivered-To"):
        body = body[1:]
    text = "\n".join(body)
    assert text.endswith("\n\n")
    return text[:-1].encode()


async def submit(ctx: Any, sender: str, rcpts: list[Any], content: bytes,
                 attrs: dict[str, str] | None = None, context: str = "local") -> str:
    """Queue a message through cleanup as smtpd would; returns the queue id."""
    from simlab.postfix.cleanup import ClientInfo, open_cleanup
    from simlab.postfix.common.queue import Recipient
    client = ClientInfo(name="localhost", addr="127.0.0.1", port=40000, helo="client.example",
                        protocol="ESMTP", rewrite_context=context)
    cs = open_cleanup(ctx, ctx.config, client)
    recips = [r if isinstance(r, Recipient) else Recipient(r, r) for r in rcpts]
    merged = {"rewrite_context": context}
    merged.update(attrs or {})
    res = await cs.finish(sender, recips, content, merged)
    assert res.ok, res.reply
    return res.qid


def start_qmgr(ctx: Any) -> Any:
    from simlab.postfix.qmgr import QueueManager
    qmgr = QueueManager(ctx)
    ctx.qmgr_task = ctx.loop.create_task(qmgr.run())  # type: ignore[attr-defined]
    return qmgr


def deliver_now(ctx: Any, sender: str, rcpts: list[Any], content: bytes, **kw: Any) -> str:
    """Submit one message and run the virtual loop until the system is quiet."""
    if not hasattr(ctx, "qmgr_task"):
        start_qmgr(ctx)
    qid = ctx.loop.run_until_complete(submit(ctx, sender, rcpts, content, **kw))
    ctx.loop.run()
    return qid


def maillog(ctx: Any, program: str | None = None) -> list[str]:
    lines = list(ctx.log.lines)
    if program:
        lines = [ln for ln in lines if f"/{program}[" in ln]
    return lines


def read(ctx: Any, path: str) -> str:
    p = ctx.path(path)
    return p.read_text() if p.exists() else ""


def transactions(data: dict[str, Any]) -> list[tuple[str, list[Any], bytes, dict[str, str]]]:
    """(sender, recipients, DATA bytes, MAIL attrs) of every accepted transaction in a transcript."""
    from simlab.postfix.common.queue import Recipient
    out = []
    sender, rcpts, attrs = None, [], {}
    pending: list[Any] = []
    items = data["transcript"]
    for i, t in enumerate(items):
        if t.get("dir") != "C" or "data" not in t:
            continue
        line = t["data"]
        reply = next((x["line"] for x in items[i + 1:] if x.get("dir") == "S"), "")
        up = line.upper()
        if up.startswith("MAIL FROM:"):
            m = re.match(r"(?i)MAIL FROM:\s*<([^>]*)>(.*)", line.strip())
            sender, rcpts, attrs = m.group(1), [], {}
            for p in m.group(2).split():
                k, _, v = p.partition("=")
                if k.upper() == "RET":
                    attrs["ret_flags"] = {"FULL": "1", "HDRS": "2"}[v.upper()]
                elif k.upper() == "ENVID":
                    attrs["envelope_id"] = v
        elif up.startswith("RCPT TO:") and reply.startswith("250"):
            m = re.match(r"(?i)RCPT TO:\s*<([^>]*)>(.*)", line.strip())
            addr, notify, orcpt = m.group(1), "", ""
            for p in m.group(2).split():
                k, _, v = p.partition("=")
                if k.upper() == "NOTIFY":
                    notify = v.upper()
                elif k.upper() == "ORCPT":
                    orcpt = v
            from simlab.postfix.trivial_rewrite import unquote_822_local
            internal = unquote_822_local(addr)
            rcpts.append(Recipient(internal, internal, notify, orcpt or f"rfc822;{internal}"))
        elif up.startswith("DATA") and sender is not None and rcpts:
            pending = list(rcpts)
        elif pending and reply.startswith("250 2.0.0 Ok: queued"):
            body = line.replace("\r\n", "\n")
            assert body.endswith("\n.\n")
            body = body[:-2]
            text = "\n".join(x[1:] if x.startswith(".") else x for x in body.split("\n"))
            out.append((sender, pending, text.encode(), attrs))
            pending = []
    return out


def smtpd_content(ctx: Any, rcpts: list[Any], data: bytes) -> bytes:
    """What smtpd queues: its Received: header, then the client's data."""
    from simlab.postfix.cleanup.headers import received_smtpd
    first = rcpts[0].address if len(rcpts) == 1 else None
    return received_smtpd(helo="client.example", name="localhost", addr="127.0.0.1",
                          myhostname="mail.example.com", mail_name="Postfix", protocol="ESMTP",
                          qid="00000000000", recipient=first, when=ctx.now()) + data


def replay(ctx: Any, name: str, context: str = "local") -> list[str]:
    """Queue every transaction of a reference scenario and deliver; returns the queue ids."""
    qids = []
    for sender, rcpts, data, attrs in transactions(scenario(name)):
        qids.append(deliver_now(ctx, sender, rcpts, smtpd_content(ctx, rcpts, data), attrs=attrs,
                                context=context))
    return qids


def stop(ctx: Any) -> None:
    task = getattr(ctx, "qmgr_task", None)
    if task is not None and not task.done():
        task.cancel()
        try:
            ctx.loop.run_until_complete(task)
        except BaseException:
            pass


def log_key(line: str) -> str:
    """A maillog line without time stamp, pid, queue ids and timings, for comparisons."""
    text = line.split("]: ", 1)[1] if "]: " in line else line
    prog = re.search(r"postfix/([\w/-]+)\[", line)
    text = re.sub(r"delay=[\d.]+, delays=[\d./]+", "delay=D", text)
    return f"{prog.group(1) if prog else '?'}: {normalize(text)}"


def log_keys(lines: list[str], programs: tuple[str, ...]) -> list[str]:
    return [log_key(ln) for ln in lines if re.search(r"postfix/(%s)\[" % "|".join(programs), ln)]
