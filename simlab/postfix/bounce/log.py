"""NAME
    log - the per-message status logs: defer/QID, bounce/QID, trace/QID

SUMMARY
    append_log(ctx, "defer", qid, LogRecord(recipient=..., status="4.4.1", action="delayed", reason=...))
    read_log(ctx, "defer", qid)   -> [LogRecord, ...]
    remove_log(ctx, "bounce", qid); has_log(ctx, "trace", qid)
    log_path(ctx, "defer", qid)   -> ROOT/var/spool/postfix/defer/C/C086916052C

DESCRIPTION
    Delivery agents do not write delivery status notifications themselves:
    they append one record per recipient to a log named after the queue id
    in the queue directory (Postfix's bounce(8) daemon does the writing for
    them). "defer" holds the reasons for recipients that will be tried
    again (mailq shows the last one), "bounce" the permanent failures, and
    "trace" the outcome for recipients that asked for a success report
    (NOTIFY=SUCCESS), sendmail -v or sendmail -bv. The queue manager turns a
    log into a notification to the sender (bounce_flush, defer_flush,
    defer_warn, trace_flush) and removes it.

    A record is a block of "name=value" lines ended by an empty line, in
    Postfix's attribute names: recipient, original_recipient,
    dsn_orig_rcpt, notify_flags, offset, status, action, reason, diag_type,
    diag_text, mta_type, mta_mname, log_time. Logs are hashed into
    subdirectories when their queue name is in hash_queue_names ("defer" is
    by default, "bounce" and "trace" are not), like the queue files.

PARAMETERS
    queue_directory, hash_queue_names, hash_queue_depth.

SEE ALSO
    bounce(8), showq(8), mailq(1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..common.queue import QueueStore, notify_mask, notify_words

LOG_SERVICES = ("defer", "bounce", "trace")


@dataclass
class LogRecord:
    """One recipient's status, as a delivery agent reported it."""

    recipient: str
    status: str
    action: str
    reason: str
    original_recipient: str = ""
    dsn_orig_rcpt: str = ""
    notify: str = ""               # DSN NOTIFY words ("SUCCESS,FAILURE"); "" = not specified
    offset: int | None = None
    diag_type: str = ""            # "smtp" when a remote server said it
    diag_text: str = ""
    mta_type: str = ""             # "dns"
    mta_mname: str = ""            # the remote MTA's name
    log_time: int = 0


_NAMES = {"notify": "notify_flags"}


def _clean(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def encode_record(rec: LogRecord) -> str:
    out = []
    for f in fields(LogRecord):
        value = getattr(rec, f.name)
        if f.name == "notify":
            value = notify_mask(value) if value else ""
        if value is None or value == "":
            continue
        out.append(f"{_NAMES.get(f.name, f.name)}={_clean(str(value))}\n")
    return "".join(out) + "\n"


def decode_records(text: str) -> list[LogRecord]:
    out: list[LogRecord] = []
    block: dict[str, str] = {}
    reverse = {v: k for k, v in _NAMES.items()}

    def flush() -> None:
        if block.get("recipient") is not None:
            kw: dict[str, Any] = {}
            for f in fields(LogRecord):
                if f.name in block:
                    kw[f.name] = block[f.name]
            kw.setdefault("status", "")
            kw.setdefault("action", "")
            kw.setdefault("reason", "")
            if "offset" in kw:
                kw["offset"] = int(kw["offset"]) if _is_number(str(kw["offset"]).lstrip("-")) else None
            if "log_time" in kw:
                kw["log_time"] = int(kw["log_time"]) if _is_number(str(kw["log_time"])) else 0
            if "notify" in kw:
                kw["notify"] = notify_words(int(kw["notify"])) if _is_number(kw["notify"]) else ""
            out.append(LogRecord(**kw))
        block.clear()

    for line in text.split("\n"):
        if not line:
            flush()
            continue
        name, _, value = line.partition("=")
        block[reverse.get(name, name)] = value
    flush()
    return out


def log_path(ctx: Any, service: str, qid: str) -> Path:
    """Where the ``service`` log (defer, bounce or trace) of ``qid`` lives."""
    return Path(_log_name(ctx, service, qid))


def _log_name(ctx: Any, service: str, qid: str) -> str:
    """log_path() as a string (the queue layout is cached per configuration)."""
    if service not in LOG_SERVICES:
        raise ValueError(f"not a status log: {service}")
    return _store(ctx)._name(service, qid)


def _store(ctx: Any) -> QueueStore:
    """One QueueStore per instance: it remembers the queue layout between messages."""
    shared = getattr(ctx, "shared", None)
    if not isinstance(shared, dict):
        return QueueStore(ctx)
    store = shared.get("bounce:store")
    if store is None or store.ctx is not ctx:
        store = shared["bounce:store"] = QueueStore(ctx)
    return store


def append_log(ctx: Any, service: str, qid: str, rec: LogRecord) -> None:
    path = log_path(ctx, service, qid)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rec.log_time:
        rec.log_time = int(ctx.now())
    with open(path, "a", encoding="utf-8", errors="surrogateescape") as f:
        f.write(encode_record(rec))
        f.flush()
        if ctx.fsync:
            os.fsync(f.fileno())


def read_log(ctx: Any, service: str, qid: str) -> list[LogRecord]:
    """The records of a status log; [] when there is none."""
    try:
        text = log_path(ctx, service, qid).read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return []
    return decode_records(text)


def has_log(ctx: Any, service: str, qid: str) -> bool:
    name = _log_name(ctx, service, qid)
    # access() first: asked per message, and isfile() of a missing file raises inside
    return os.access(name, os.F_OK) and os.path.isfile(name)


def remove_log(ctx: Any, service: str, qid: str) -> bool:
    try:
        os.unlink(_log_name(ctx, service, qid))
        return True
    except FileNotFoundError:
        return False


def last_reasons(ctx: Any, qid: str) -> dict[str, str]:
    """recipient -> latest deferral reason (what mailq and postqueue -j show)."""
    return {rec.recipient: rec.reason for rec in read_log(ctx, "defer", qid)}
