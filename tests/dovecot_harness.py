"""Shared helpers for the POP3/IMAP reference-transcript tests.

The transcripts under tests/data/dovecot/ were captured from Dovecot 2.3.19
on loopback (see /work/shared/reference/postfix/README.md item 31). A core is
driven in memory by a clock that only Sleep requests move, as on the virtual
network.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from simlab.proto.actions import Close, ConnectionInfo, NeedData, ServerCore, Sleep
from simlab.store.mailstore import MailStore

DATA = Path(__file__).parent / "data" / "dovecot"
# 2026-11-24 13:40:05 UTC, when pop3_main logged in (and UIDVALIDITY 1795527605 was made)
T0 = 1795527605.0


@dataclass
class FakeClock:
    now: float = T0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now


def load_sessions(name: str) -> dict[str, dict]:
    data = json.loads((DATA / name).read_text())
    return {s["id"]: s for s in data["sessions"]}


def expected_output(session: dict) -> bytes:
    out = []
    for item in session["transcript"]:
        if item["dir"] == "S":
            out.append(item["line"].encode() + b"\r\n" if "line" in item else item["literal"].encode())
    return b"".join(out)


def lab_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "var" / "mail").mkdir(parents=True)
    (root / "etc" / "dovecot").mkdir(parents=True)
    shutil.copy(DATA / "mailbox-before.txt", root / "var" / "mail" / "erin")
    (root / "var" / "mail" / "erin").chmod(0o600)
    shutil.copy(DATA / "dovecot-users", root / "etc" / "dovecot" / "users")
    return root


def make_store(root: Path, clock: FakeClock) -> MailStore:
    return MailStore(root, root / "etc" / "dovecot" / "users", "mail.example.com", clock=clock,
                     first_pid=31085)


def pump(core: ServerCore, clock: FakeClock) -> bytes:
    """Run CORE until it wants input or closes; Sleep requests move the clock."""
    out = []
    while True:
        out.append(core.data_to_send())
        action = core.next_action()
        if isinstance(action, Sleep):
            clock.slept.append(action.seconds)
            clock.now += action.seconds
            core.wake()
            continue
        out.append(core.data_to_send())
        return b"".join(out)


def run_session(core: ServerCore, session: dict, clock: FakeClock) -> bytes:
    out = [pump(core, clock)]
    for item in session["transcript"]:
        if item["dir"] != "C":
            continue
        core.receive_data(item["data"].encode() if "data" in item else b"")
        out.append(pump(core, clock))
    if not isinstance(core.next_action(), Close):
        core.receive_data(b"")
        out.append(pump(core, clock))
    return b"".join(out)


def normalize_log(line: str) -> str:
    """Drop what differs between runs: time stamp prefix, pids, session ids."""
    line = re.sub(r"^\w{3} +\d+ [\d:]+ ", "", line)
    line = re.sub(r"mpid=\d+", "mpid=N", line)
    line = re.sub(r"session=<[^>]*>", "session=<S>", line)
    return re.sub(r"<\d+><[^>]*>", "<N><S>", line)


class LogCollector(list):
    def __call__(self, program: str, text: str) -> None:
        self.append(f"{program}: {text}")


CONN = ConnectionInfo("127.0.0.1", 47316, "127.0.0.1", 110)
NeedData = NeedData


# The battery's timeline (from the reference log): pop3_main logs in at 13:40:05;
# pop3_bad_password starts right after it (two failures, 8 s); pop3_auth_plain
# starts at 13:40:13 (held 8 s by anvil); the IMAP sessions follow at 13:40:22.
BATTERY = (
    ("pop3.json", "pop3_main", T0),
    ("pop3.json", "pop3_bad_password", T0 + 0.5),
    ("pop3.json", "pop3_auth_plain", T0 + 8.0),
    ("imap.json", "imap_main", T0 + 17.0),
    ("imap.json", "imap_bad_password", T0 + 17.5),
    ("imap.json", "imap_authenticate", T0 + 21.5),
)


@dataclass
class Battery:
    root: Path
    outputs: dict[str, bytes]
    expected: dict[str, bytes]
    logs: dict[str, list[str]]
    reference_logs: dict[str, list[str]]
    durations: dict[str, float]


def run_battery(tmp_path: Path) -> Battery:
    from simlab.proto.imap import ImapServer
    from simlab.proto.pop3 import Pop3Server

    root = lab_root(tmp_path)
    clock = FakeClock()
    store = make_store(root, clock)
    battery = Battery(root, {}, {}, {}, {}, {})
    for file, sid, start in BATTERY:
        session = load_sessions(file)[sid]
        clock.now = max(clock.now, start)
        began = clock.now
        log = LogCollector()
        core_type = Pop3Server if file.startswith("pop3") else ImapServer
        battery.outputs[sid] = run_session(core_type(store, CONN, clock, log), session, clock)
        battery.expected[sid] = expected_output(session)
        battery.logs[sid] = [normalize_log(line) for line in log]
        battery.reference_logs[sid] = [normalize_log(line).replace("Info: ", "Info: ", 1)
                                       for line in session["dovecot_log"]]
        battery.durations[sid] = clock.now - began
    return battery
