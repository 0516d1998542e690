"""Replays whole POP3/IMAP sessions measured on a real Dovecot 2.3.19.1 against simlab.

tests/data/dovecot_measured/sessions/{pop3,imap}*.json hold 109 single sessions captured with
the lab's dovecot.conf (mbox, erin's two messages of tests/data/dovecot/mailbox-before.txt,
Dovecot restarted and the mbox reset before each session; the *_batch3/4/5 files were held
out while simlab was fixed, 29 of their 34 passed at once), and chains.json 13 chains (57
sessions) run one after the other on the same mbox and Dovecot, with no reset and anvil
penalties carried over, as in the reference: r1 is the reference battery itself followed by
four more sessions, h1-h3 were held out (all passed at once); all in the reference's format:
every client write (``data``; ``data_parts`` spells out a long run of one character) with
the second it was sent (``at``), every server line or literal, the Dovecot log lines, and
erin's mbox after the session (``mailbox_after``, null when unchanged; other folders in
``folders_after``). The core runs on a clock set to those seconds, so UIDVALIDITY values,
internal dates and delays agree.

Masked, because they are not simlab's to reproduce:
* the timing in tagged OKs, and the ``out=`` byte count by exactly the length those
  timings differ in; the seconds in "(CMD finished N secs ago)";
* pids, session ids and log time stamps (dovecot_harness.normalize_log);
* the host name (``vm``) in the From_ line and pseudo message of a mbox Dovecot wrote;
* times that depend on when Dovecot's process looked at its clock: a UIDVALIDITY or
  "in N secs" off by at most 2 s is accepted (the values are aligned, not dropped);
* the order of LIST lines (Dovecot lists a directory in readdir order).
Dovecot never runs here: the JSON files are the captured facts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dovecot_harness import CONN, FakeClock, LogCollector, lab_root, make_store, normalize_log, pump

from simlab.proto.actions import Close
from simlab.proto.imap import ImapServer
from simlab.proto.pop3 import Pop3Server

DATA = Path(__file__).parent / "data" / "dovecot_measured" / "sessions"
BEFORE = Path(__file__).parent / "data" / "dovecot" / "mailbox-before.txt"
TIMING = re.compile(r" \(\d+\.\d{3} \+ \d+\.\d{3}(?: \+ \d+\.\d{3})? secs\)\.")
SESSIONS = {s["id"]: s for path in sorted(DATA.glob("*.json")) if path.name != "chains.json"
            for s in json.loads(path.read_text())["sessions"]}
CHAINS: dict[str, list[dict]] = {}
for _s in json.loads((DATA / "chains.json").read_text())["sessions"]:
    CHAINS.setdefault(_s["chain"], []).append(_s)

# Sessions simlab still answers differently, with why
_SAVED = ("a message appended to an INBOX that already holds messages: Dovecot's sync then "
          "rewrites the file and spreads the padding over all messages (17/17/18/18 spaces, "
          "or one byte off the reserved space); simlab keeps each header's place")
KNOWN: dict[str, str] = {
    "i_append": _SAVED,
    "i_append_mime": _SAVED,
    "i_misc_extensions": "after ENABLE CONDSTORE Dovecot's SELECT adds '* OK [HIGHESTMODSEQ 2] "
                         "Highest': CONDSTORE mod-sequences are not implemented",
}


def _data(item: dict) -> bytes:
    if "data_parts" in item:
        head, (char, count), tail = item["data_parts"]
        return (head + char * count + tail).encode()
    return item["data"].encode("utf-8", "surrogateescape")


def _expected(session: dict) -> str:
    out = []
    for item in session["transcript"]:
        if item["dir"] == "S" and "event" not in item:
            out.append(item["line"] + "\r\n" if "line" in item else item.get("literal", ""))
    return "".join(out)


def _run(session: dict, root: Path, clock: FakeClock, store: object
         ) -> tuple[str, list[str], str, dict[str, str]]:
    clock.now = max(clock.now, session["started_at"])
    log = LogCollector()
    core_type = Pop3Server if session["proto"] == "pop3" else ImapServer
    core = core_type(store, CONN, clock, log)  # type: ignore[arg-type]
    out = [pump(core, clock)]
    for item in session["transcript"]:
        if item["dir"] == "C" and "event" not in item:
            clock.now = max(clock.now, item["at"])
            core.receive_data(_data(item))
            out.append(pump(core, clock))
    if not isinstance(core.next_action(), Close):
        core.receive_data(b"")
        out.append(pump(core, clock))
    mbox = (root / "var/mail/erin").read_bytes().decode("utf-8", "surrogateescape")
    home = root / "home/erin/mail"
    folders = {str(p.relative_to(home)): p.read_text() for p in sorted(home.rglob("*"))
               if p.is_file() and not any(part.startswith(".") for part in
                                          p.relative_to(home).parts)} if home.is_dir() else {}
    return b"".join(out).decode("utf-8", "surrogateescape"), [normalize_log(x) for x in log], mbox, folders


def _align(expected: str, got: str) -> str:
    """Give GOT Dovecot's value for every UIDVALIDITY-like time within 2 s of it."""
    want = sorted(set(re.findall(r"\b17\d{8}\b", expected)))
    for value in sorted(set(re.findall(r"\b17\d{8}\b", got))):
        near = [w for w in want if abs(int(w) - int(value)) <= 2]
        if near and value not in want:
            got = got.replace(value, near[0]).replace(f"{int(value):08x}", f"{int(near[0]):08x}")
    return got


def _lines(text: str) -> list[str]:
    lines = TIMING.sub(".", text).split("\r\n")
    if any(re.match(r"\* (LIST|LSUB) ", line) for line in lines):
        # readdir order: sort the LIST lines of each reply among themselves
        out: list[str] = []
        for line in lines:
            if re.match(r"\* (LIST|LSUB) ", line) and out and re.match(r"\* (LIST|LSUB) ", out[-1]):
                run = [line]
                while out and re.match(r"\* (LIST|LSUB) ", out[-1]):
                    run.append(out.pop())
                out += sorted(run)
            else:
                out.append(line)
        return out
    return lines


def _log(lines: list[str], delta: int) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r" out=(\d+) ", lambda m: f" out={int(m.group(1)) + delta} ", line)
        out.append(re.sub(r"finished \d+\.\d+ secs", "finished N secs", line))
    return out


def _close_seconds(expected: list[str], got: list[str]) -> list[str]:
    """Accept "in N secs" one second off (when Dovecot's and our clocks crossed a second)."""
    fixed = []
    for want, line in zip(expected, got):
        a, b = re.findall(r" in (\d+) secs", want), re.findall(r" in (\d+) secs", line)
        if len(a) == len(b) == 1 and abs(int(a[0]) - int(b[0])) <= 1:
            line = line.replace(f" in {b[0]} secs", f" in {a[0]} secs")
        fixed.append(line)
    return fixed + got[len(expected):]


def _mbox(text: str) -> str:
    text = re.sub(r"^From (\S+)@\S+  ", r"From \1@HOST  ", text, flags=re.M)
    return re.sub(r"(MAILER-DAEMON|<\d+)@[^>\s]+>", r"\1@HOST>", text)


def _check(session: dict, got: str, log: list[str], mbox: str, folders: dict[str, str],
           before: str) -> None:
    expected = _expected(session)
    got = _align(expected + (session["mailbox_after"] or ""), got)
    assert _lines(got) == _lines(expected)
    delta = (len(got) - len(TIMING.sub(".", got))) - (len(expected) - len(TIMING.sub(".", expected)))
    want_log = _log([normalize_log(x) for x in session["dovecot_log"]], delta)
    assert _close_seconds(want_log, _log(log, 0)) == want_log
    want_mbox = session["mailbox_after"] or before
    assert _mbox(_align(want_mbox, mbox)) == _mbox(want_mbox)
    want_folders = session.get("folders_after", {})
    assert {k: _mbox(_align(want_folders.get(k, ""), v)) for k, v in folders.items()} == {
        k: _mbox(v) for k, v in want_folders.items()}


@pytest.mark.parametrize("sid", [
    pytest.param(sid, marks=pytest.mark.xfail(strict=True, reason=KNOWN[sid])) if sid in KNOWN
    else sid for sid in SESSIONS])
def test_measured_dovecot_session(sid: str, tmp_path: Path) -> None:
    session = SESSIONS[sid]
    root = lab_root(tmp_path)
    clock = FakeClock(session["started_at"])
    _check(session, *_run(session, root, clock, make_store(root, clock)), BEFORE.read_text())


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_measured_dovecot_chain(chain: str, tmp_path: Path) -> None:
    """Sessions one after the other on the same mbox and Dovecot, as in the reference."""
    steps = CHAINS[chain]
    root = lab_root(tmp_path)
    clock = FakeClock(steps[0]["started_at"])
    store = make_store(root, clock)
    before = BEFORE.read_text()
    for session in steps:
        result = _run(session, root, clock, store)
        _check(session, *result, before)
        before = result[2]
