"""Every SMTP scenario of the reference battery against the whole lab system, on the virtual network.

For each scenario (tests/data/smtp/*.json, captured from real Postfix 3.7.11, and
tests/data/smtp_measured/*.json, measured later on the same lab set up on the real
Postfix 3.7.11 of a Debian 12 machine: cases the reference does not show, see its README) a
fresh lab host (postfix_lab.lab_network: the lab's files installed as the
battery's README says, users alice, bob, erin, robot and vmail) runs master,
smtpd, cleanup, qmgr, local, virtual, the smtp/lmtp clients towards the lab's
smtp-sinks, pipe and bounce.
The recorded client chunks are replayed on the listener the scenario names,
the network runs until it is quiet, and three things are compared:

1. every server line (queue ids aside);
2. the complete maillog of the scenario, every program's lines, as a multiset
   after masking time stamps, pids, delay=/delays= numbers and client ports;
   queue ids are renamed Q1, Q2, ... in order of first appearance, so lines
   of one message stay tied together. Causal order is checked per queue id:
   client= before message-id= before qmgr's from= before each to= before
   removed, and a notification or forwarded copy starts after its parent
   became active;
3. every delivered byte: what was appended to each mailbox, each new Maildir
   file, pipe output and sink dump (queue ids, dates, and the names that
   embed a time stamp aside).

Differences that are inherent, not bugs:

* Real Postfix delivers the recipients of one message in parallel local(8)
  processes (one queue per recipient: local_destination_recipient_limit=1);
  the order in which they get the mailbox lock is the kernel's choice (the
  reference shows waits of 0.8-1.1 s on the lock). Where the reference log
  shows more than one agent process for a message, the messages appended to
  one mailbox are compared as a multiset; otherwise in order.
* For the same reason the per-recipient paragraphs and groups of a delivery
  status notification follow the order in which parallel agents finished (it
  changes from run to run on real Postfix): where the log shows parallel
  agents they are compared sorted.
* smtp-sink names its dump files and its Received: id with a random number
  (the same one in both): both are masked, and the test checks they agree.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from _delivery_lab import normalize, split_mbox
from postfix_lab import LISTENERS, MEASURED, lab_network, load, mask, replay_streams, scenarios

# Known differences on the measured cases: (scenario, check) -> why (strict xfail, so a fix shows up).
XFAIL: dict[tuple[str, str], str] = {}
NAMES = [p.stem for p in scenarios()] + [p.stem for p in scenarios(MEASURED)]


def cases(check: str) -> list[object]:
    """The scenario names for one check, known differences marked xfail(strict)."""
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=XFAIL[(n, check)]))
            if (n, check) in XFAIL else n for n in NAMES]
WATCHED = ("var/mail", "home", "var/spool/labpipe", "var/spool/labfiles", "var/spool/labsink")


@dataclass(frozen=True)
class Outcome:
    expected: list[str]            # server lines of the reference
    got: list[str]                 # ours
    log: list[str]                 # our maillog lines of the scenario (after postfix start)
    deliveries: dict[str, bytes]   # path -> bytes appended during the scenario


def _snapshot(root: Path) -> dict[str, bytes]:
    out = {}
    for top in WATCHED:
        for p in sorted((root / top).rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


@functools.lru_cache(maxsize=None)
def run(name: str) -> Outcome:
    sc = load(name)
    net, host = lab_network(seed=1)
    try:
        before = _snapshot(host.root)
        start = len(host.maillog())

        async def client() -> tuple[list[str], list[str]]:
            reader, writer = await host.open_connection("127.0.0.1", LISTENERS[sc["listener"]],
                                                        component="client")
            return await replay_streams(reader, writer, sc)

        expected, got = net.run_sync(client())
        net.run()
        after = _snapshot(host.root)
        deliveries = {}
        for path, data in after.items():
            old = before.get(path, b"")
            if data != old:
                assert data.startswith(old), f"{path} was rewritten, not appended to"
                deliveries[path] = data[len(old):]
        return Outcome(expected, got, host.maillog()[start:], deliveries)
    finally:
        net.close()


# -- the maillog --------------------------------------------------------------------------------
_STAMP = re.compile(r"^\w{3} [ \d]\d \d\d:\d\d:\d\d ")
_PID = re.compile(r"\[\d+\]: ")
_DELAYS = re.compile(r"delay=[\d.]+, delays=[\d.]+/[\d.]+/[\d.]+/[\d.]+")
_QID = re.compile(r"\b[0-9A-F]{10,12}\b")
_LINE_QID = re.compile(r"\]: ([0-9A-F]{10,12}): ")


def log_keys(lines: list[str]) -> list[str]:
    """The lines without time stamps, pids, timings, client port; queue ids as Q1, Q2, ..."""
    names: dict[str, str] = {}

    def qid(m: re.Match[str]) -> str:
        return names.setdefault(m.group(0), f"Q{len(names) + 1}")

    out = []
    for line in lines:
        line = _PID.sub("[PID]: ", _STAMP.sub("", line))
        line = _DELAYS.sub("delay=D, delays=D", line)
        line = re.sub(r"client_port=\d+", "client_port=PORT", line)
        line = re.sub(r"<\d{14}\.(?=[0-9A-F]{10,12}@)", "<STAMP.", line)     # Message-Id: time + queue id
        out.append(_QID.sub(qid, line))
    return out


def causal_errors(lines: list[str]) -> list[str]:
    """Violations of the per-message order of events in a maillog."""
    first: dict[str, int] = {}
    events: dict[str, dict[str, list[int]]] = {}
    children: list[tuple[str, str, int]] = []
    for i, line in enumerate(lines):
        m = _LINE_QID.search(line)
        if not m:
            continue
        q = m.group(1)
        first.setdefault(q, i)
        text = line[m.end():]
        kind = ("client" if text.startswith("client=") else
                "msgid" if text.startswith("message-id=") else
                "active" if "/qmgr[" in line and text.startswith("from=") and "(queue active)" in text else
                "to" if text.startswith("to=") else
                "removed" if text == "removed" else None)
        if kind:
            events.setdefault(q, {}).setdefault(kind, []).append(i)
        for child in re.findall(r"(?:notification: |forwarded as )([0-9A-F]{10,12})", text):
            children.append((q, child, i))
    errors = []
    for q, ev in events.items():
        order = [k for k in ("client", "msgid", "active") if k in ev]
        for a, b in zip(order, order[1:]):
            if max(ev[a]) > min(ev[b]):
                errors.append(f"{q}: {a} after {b}")
        for t in ev.get("to", []):
            if not any(a < t for a in ev.get("active", [])):
                errors.append(f"{q}: to= line {t} before the message was active")
        if "removed" in ev:
            last = max(i for k, v in ev.items() for i in v)
            if ev["removed"] != [last]:
                errors.append(f"{q}: removed is not its last event")
    for parent, child, at in children:
        active = events.get(parent, {}).get("active", [])
        if child in first and not any(a < first[child] for a in active):
            errors.append(f"{child}: logged before its parent {parent} was active")
        if events.get(parent, {}).get("removed", [at + 1])[0] < at:
            errors.append(f"{parent}: removed before its child {child} was announced")
    return errors


# -- deliveries ---------------------------------------------------------------------------------
_SINK_FILE = re.compile(r"^(var/spool/labsink/(?:smtp|lmtp))-\d{14}\.([0-9a-f]{8})$")
_SINK_ID = re.compile(r"\(smtp-sink\) with (?:E?SMTP|LMTP) id ([0-9a-f]{8});")


def delivery_path(path: str) -> str:
    """A delivered file's name without the parts that embed time or chance."""
    m = _SINK_FILE.match(path)
    if m:
        return f"{m.group(1)}-STAMP.ID"
    path = re.sub(r"/(new|cur|tmp)/\d+\.[^/]+$", r"/\1/MAILDIR-NAME", path)
    return re.sub(r"^(var/spool/(?:labpipe/msg|labfiles/pipe))\.\d+$", r"\1.N", path)


def delivery_text(path: str, text: str) -> str:
    """Delivered bytes without queue ids, dates and smtp-sink's random id."""
    m = _SINK_FILE.match(path)
    if m:
        ids = _SINK_ID.findall(text)
        assert ids == [m.group(2)], f"{path}: smtp-sink id {ids} does not match its file name"
        text = _SINK_ID.sub("(smtp-sink) with PROTO id ID;", text)
    return normalize(text)


def delivery_table(items: list[tuple[str, str]], unordered: bool) -> dict[str, list[str]]:
    """masked path -> its deliveries (mbox files split into messages).

    Sorted when the order is not Postfix's to keep: deliveries of parallel agents
    (``unordered``), or several files whose names differ only in masked parts.
    """
    table: dict[str, list[str]] = {}
    files: Counter[str] = Counter()
    for path, text in items:
        key = delivery_path(path)
        files[key] += 1
        parts = split_mbox(text) if text.startswith("From ") else [text]
        table.setdefault(key, []).extend(delivery_text(path, part) for part in parts)
    for key, parts in table.items():
        if unordered:
            parts[:] = [_dsn_records_sorted(part) for part in parts]
        if unordered or files[key] > 1:
            parts.sort()
    return table


def _sort_blocks(m: re.Match[str]) -> str:
    return "\n\n".join(sorted(m.group(0).split("\n\n")))


def _dsn_records_sorted(text: str) -> str:
    """A delivery status notification with its per-recipient paragraphs and groups sorted:
    parallel agents append them to the trace/bounce log in the order they finish."""
    if "Content-Type: multipart/report" not in text:
        return text
    text = re.sub(r"(?ms)^<[^\n]*>: .*?(?=\n\n--)", _sort_blocks, text)
    return re.sub(r"(?ms)^Final-Recipient: .*?(?=\n\n--)", _sort_blocks, text)


def parallel_agents(mail_log: list[str]) -> bool:
    """Did real Postfix run more than one delivery agent process for one message?"""
    pids: dict[str, set[str]] = {}
    for line in mail_log:
        m = re.search(r"postfix/(local|virtual|pipe|smtp|lmtp)\[(\d+)\]: ([0-9A-F]+): to=", line)
        if m:
            pids.setdefault(m.group(3), set()).add(m.group(2))
    return any(len(p) > 1 for p in pids.values())


# -- the tests ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", cases("server_lines"))
def test_e2e_server_lines(name: str) -> None:
    out = run(name)
    assert [mask(x) for x in out.got] == [mask(x) for x in out.expected]


@pytest.mark.parametrize("name", cases("maillog"))
def test_e2e_maillog(name: str) -> None:
    ref = load(name)["mail_log"]
    out = run(name)
    ours, theirs = log_keys(out.log), log_keys(ref)
    missing, extra = Counter(theirs) - Counter(ours), Counter(ours) - Counter(theirs)
    assert not missing and not extra, f"missing: {list(missing.elements())}\nextra: {list(extra.elements())}"
    assert causal_errors(ref) == []
    assert causal_errors(out.log) == []


@pytest.mark.parametrize("name", cases("deliveries"))
def test_e2e_deliveries(name: str) -> None:
    sc = load(name)
    out = run(name)
    unordered = parallel_agents(sc["mail_log"])
    ours = delivery_table([(p, b.decode("utf-8", "surrogateescape")) for p, b in out.deliveries.items()],
                          unordered)
    theirs = delivery_table([(d["file"], d["content"]) for d in sc["deliveries"]], unordered)
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        assert ours[key] == theirs[key], key


def test_causal_check_catches_disorder() -> None:
    good = load("31_relay_inside_remote_bounce")["mail_log"]
    assert causal_errors(good) == []
    swapped = list(good)
    swapped[1], swapped[2] = swapped[2], swapped[1]        # message-id= before client=
    assert causal_errors(swapped) == ["D103A160599: client after msgid"]
    early = [ln for ln in good if not ln.endswith("D103A160599: removed")]
    early.insert(4, next(ln for ln in good if ln.endswith("D103A160599: removed")))
    assert "D103A160599: removed is not its last event" in causal_errors(early)


def test_sink_names_are_masked_consistently() -> None:
    text = "Received: from x ([127.0.0.1])\n\tby sink.example (smtp-sink) with ESMTP id 0784afb0;\n"
    name = "var/spool/labsink/smtp-20261124133708.0784afb0"
    assert delivery_path(name) == "var/spool/labsink/smtp-STAMP.ID"
    assert "with PROTO id ID;" in delivery_text(name, text)
    with pytest.raises(AssertionError):
        delivery_text("var/spool/labsink/smtp-20261124133708.12345678", text)


def test_qmgr_hands_recipients_over_in_postfix_order() -> None:
    """qmgr_message_sort(): by domain (case ignored), then address (strcmp) -- not in RCPT order.

    Measured on real Postfix 3.7.11: tests/data/smtp_measured/219_relay_rcpt_order_case.json."""
    from simlab.scenarios.lab import lab
    world = lab(seed=1)
    try:
        world.bob.send_sync(to=["c@relay.example", "alice@localhost", "B@relay.example", "a@relay.example",
                                "alice@example.com"], subject="order", body="sorted")
        world.run()
        host = world.mail
        dump = next(host.path("/var/spool/labsink").glob("smtp-*")).read_text()
        assert re.findall(r"X-Rcpt-Args: <([^>]+)>", dump) == ["B@relay.example", "a@relay.example",
                                                              "c@relay.example"]
        box = host.path("/var/mail/alice").read_text()
        assert re.findall(r"X-Original-To: (\S+)", box) == ["alice@example.com", "alice@localhost"]
    finally:
        world.close()


def test_dsn_records_sorted_only_reorders() -> None:
    sc = load("1270_dsn_success_local_forms")
    dsn = next(d["content"] for d in sc["deliveries"] if d["file"] == "var/mail/alice")
    a, b = "<bob@example.com>: delivery via local: alias expanded", "<x@discard.example>: lab discard"
    swapped = dsn.replace(a, "@@").replace(b, a).replace("@@", b)
    assert swapped != dsn and _dsn_records_sorted(swapped) == _dsn_records_sorted(dsn)
    assert _dsn_records_sorted(dsn.replace("lab discard", "other")) != _dsn_records_sorted(dsn)
