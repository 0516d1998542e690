"""NAME
    showq - list the Postfix mail queue

SUMMARY
    entries = scan(ctx)
    text = format_compat(entries, long_ids=False)     # mailq / postqueue -p
    text = format_json(entries)                         # postqueue -j

DESCRIPTION
    showq(8) walks the maildrop, active, incoming, deferred and hold queues
    and reports, per message, the queue, queue id, arrival time, size,
    forced-expiry flag, sender and the recipients that are still to be
    delivered, each with its deferral reason from the defer log
    (``defer/C/C086916052C``, written by the defer service; the latest entry
    of a recipient counts). The recipients of the defer log come first, in
    its order, then the other pending ones (under "(reason unavailable)"
    when a reason was shown before them). Done recipients
    are not listed; the null sender shows as ``MAILER-DAEMON``
    (empty_address_recipient).

    The two output formats are postqueue's: the Sendmail-compatible table
    (``-Queue ID-  --Size-- ...``, ``*`` after an active id, ``!`` after a
    held one, ``#`` after a force-expired one, reasons in parentheses right
    aligned to column 76, and the ``-- N Kbytes in M Requests.`` footer) and
    one JSON object per message.

PARAMETERS
    enable_long_queue_ids, empty_address_recipient, queue_directory,
    hash_queue_names, hash_queue_depth.

SEE ALSO
    showq(8), postqueue(1), mailq(1)
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from ..common.queue import QueueStore
from ..common.records import RecordError

SCAN_ORDER = ("maildrop", "active", "incoming", "deferred", "hold")

S_STRING = "%-11s %7s %-20s %s\n"
S_SENDER = "%-11s %7d %20.20s %s\n"
S_HEADINGS = ("-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")
L_STRING = "%-17s %8s %-19s %s\n"
L_SENDER = "%-17s %8d %19.19s %s\n"
L_HEADINGS = ("----Queue ID-----", "--Size--", "---Arrival Time----", "--Sender/Recipient------")

_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


@dataclass
class QueueEntry:
    queue: str
    qid: str
    arrival: float
    size: int
    forced_expire: bool
    sender: str
    recipients: list[tuple[str, str]] = field(default_factory=list)   # (address, why)


def quote_822_local(addr: str) -> str:
    """Quote the local part of ``addr`` when it is not a plain dot-atom (quote_822_local)."""
    local, at, domain = addr.rpartition("@")
    if not at:
        local, domain = addr, ""
    if not local or _ATEXT.match(local) and not local.startswith(".") and ".." not in local \
            and not local.endswith("."):
        return addr
    quoted = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted + (f"@{domain}" if at else "")


def read_defer_log(ctx: Any, qid: str, kind: str = "defer") -> list[dict[str, str]]:
    """The entries of a bounce/defer/trace log: name=value lines, a blank line after each."""
    store = QueueStore(ctx)
    path = store.top / kind
    p = path.joinpath(*store.hash_dirs(kind, qid), qid)
    if not p.is_file():
        found = [f for f in path.rglob(qid) if f.is_file()] if path.is_dir() else []
        if not found:
            return []
        p = found[0]
    out: list[dict[str, str]] = []
    cur: dict[str, str] = {}
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
                cur = {}
            continue
        if "=" in line and not line.startswith("<"):
            name, _, value = line.partition("=")
            cur[name.strip()] = value.strip()
        elif line.startswith("<") and ">:" in line:      # the pre-2.3 "<rcpt>: reason" form
            rcpt, _, why = line[1:].partition(">:")
            out.append({"recipient": rcpt, "reason": why.strip()})
    if cur:
        out.append(cur)
    return out


def scan(ctx: Any) -> list[QueueEntry]:
    """Every message in the queues, in showq's order."""
    store = QueueStore(ctx)
    empty = ctx.config["empty_address_recipient"] or "MAILER-DAEMON"
    entries: list[QueueEntry] = []
    for queue in SCAN_ORDER:
        for qid in store.list(queue):
            try:
                qf = store.read(queue, qid)
            except (FileNotFoundError, RecordError, ValueError):
                continue
            reasons: dict[str, str] = {}            # in defer log order; the latest reason wins
            for entry in read_defer_log(ctx, qid):
                rcpt = entry.get("recipient", "")
                if rcpt:
                    reasons[rcpt] = entry.get("reason", "")
            path = store.locate(queue, qid)
            file_size = path.stat().st_size if path is not None else 0
            # postdrop's files have no size record: showq falls back to the file size (a file
            # that postsuper -r moved to the maildrop still has one)
            has_size = path is not None and (queue != "maildrop" or _starts_with_size(path))
            if not has_size and "submit_uid" in qf.attrs:
                # the submitter's uid is the file's owner on a real system; here it is a record
                file_size -= 2 + len(f"submit_uid={qf.attrs['submit_uid']}")
            size = qf.size if has_size and qf.size > 0 else file_size
            e = QueueEntry(queue, qid, qf.arrival or store.mtime(queue, qid), size, qf.forced_expire,
                           quote_822_local(qf.sender or empty))
            # showq lists the defer log's recipients first (a reason line whenever it changes),
            # then the other pending ones ("(reason unavailable)" after a reason)
            pending = {r.address for r in qf.pending()}
            for rcpt, why in reasons.items():
                if rcpt in pending:
                    e.recipients.append((quote_822_local(rcpt or empty), why))
            for r in qf.pending():
                if r.address not in reasons:
                    e.recipients.append((quote_822_local(r.address or empty), ""))
            entries.append(e)
    return entries


def _starts_with_size(path: Any) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(1) == R_SIZE
    except OSError:
        return False


R_SIZE = b"C"       # REC_TYPE_SIZE, the first record of a queue file that cleanup wrote


def _asctime(epoch: float) -> str:
    t = time.gmtime(int(epoch))
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", t)


def format_compat(entries: list[QueueEntry], long_ids: bool = False) -> str:
    """postqueue -p / mailq output."""
    string_fmt, sender_fmt, headings = (L_STRING, L_SENDER, L_HEADINGS) if long_ids else \
        (S_STRING, S_SENDER, S_HEADINGS)
    out: list[str] = []
    total = 0
    for n, e in enumerate(entries):
        out.append("\n" if n else string_fmt % headings)
        status = e.qid + {"active": "*", "hold": "!"}.get(e.queue, "") + ("#" if e.forced_expire else "")
        out.append(sender_fmt % (status, e.size, _asctime(e.arrival), e.sender))
        saved = ""
        for addr, why in e.recipients:
            if why != saved:
                saved = why
                shown = why or "reason unavailable"
                out.append(" " * max(0, 76 - len(shown)) + f"({shown})\n")
            out.append(string_fmt % ("", "", "", addr))
        total += e.size
    if not entries:
        out.append("Mail queue is empty\n")
    else:
        n = len(entries)
        out.append(f"\n-- {total // 1024} Kbytes in {n} Request{'' if n == 1 else 's'}.\n")
    return "".join(out)


def format_json(entries: list[QueueEntry]) -> str:
    """postqueue -j output: one JSON object per line."""
    lines = []
    for e in entries:
        obj = {
            "queue_name": e.queue, "queue_id": e.qid, "arrival_time": int(e.arrival),
            "message_size": e.size, "forced_expire": e.forced_expire, "sender": e.sender,
            "recipients": [{"address": a, **({"delay_reason": w} if w else {})} for a, w in e.recipients],
        }
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    return "".join(lines)
