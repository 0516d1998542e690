"""POP3 against Dovecot 2.3's recorded sessions, and the rest of the POP3 core."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from dovecot_harness import (
    CONN,
    T0,
    Battery,
    FakeClock,
    LogCollector,
    lab_root,
    make_store,
    pump,
    run_battery,
)

from simlab.proto.actions import Close, ConnectionInfo, NeedData
from simlab.proto.pop3 import COMMANDS, TRANSITIONS, Pop3Server, State, message_lines


@pytest.fixture(scope="module")
def battery(tmp_path_factory: pytest.TempPathFactory) -> Battery:
    return run_battery(tmp_path_factory.mktemp("battery"))


@pytest.mark.parametrize("sid", ["pop3_main", "pop3_bad_password", "pop3_auth_plain"])
def test_pop3_reference_transcript_is_reproduced(battery: Battery, sid: str) -> None:
    assert battery.outputs[sid].decode().split("\r\n") == battery.expected[sid].decode().split("\r\n")


@pytest.mark.parametrize("sid", ["pop3_main", "pop3_bad_password", "pop3_auth_plain"])
def test_pop3_reference_log_lines(battery: Battery, sid: str) -> None:
    assert battery.logs[sid] == battery.reference_logs[sid]


def test_pop3_failures_take_dovecots_time(battery: Battery) -> None:
    # two failures: 2 s, then anvil's 4 s hold and 2 s; the next login is held 8 s
    assert battery.durations["pop3_bad_password"] == 8.0
    assert battery.durations["pop3_auth_plain"] == 8.0


# -- a session driven by hand ------------------------------------------------------------
class Session:
    def __init__(self, tmp_path: Path, conn: ConnectionInfo = CONN, **options: object) -> None:
        self.root = lab_root(tmp_path)
        self.clock = FakeClock()
        self.store = make_store(self.root, self.clock)
        self.log = LogCollector()
        self.core = Pop3Server(self.store, conn, self.clock, self.log, **options)  # type: ignore[arg-type]
        self.greeting = pump(self.core, self.clock).decode()

    def __call__(self, line: str) -> str:
        self.core.receive_data(line.encode() + b"\r\n")
        return pump(self.core, self.clock).decode()

    def login(self) -> None:
        self("USER erin")
        assert self("PASS erin-pw") == "+OK Logged in.\r\n"


def test_pop3_quit_expunges_deleted_and_marks_retrieved_seen(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.login()
    s("RETR 2")
    assert s("DELE 1") == "+OK Marked to be deleted.\r\n"
    assert s("QUIT") == "+OK Logging out, messages deleted.\r\n"
    assert isinstance(s.core.next_action(), Close)
    text = (s.root / "var/mail/erin").read_text()
    assert "Subject: First message" not in text
    assert "Status: RO\n" in text       # measured (p_dele_first_quit): O at once
    assert s.log[-1].endswith("Logged out top=0/0, retr=1/515, del=1/2, size=998")


def test_pop3_lost_connection_changes_nothing(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.login()
    s("DELE 1")
    s.core.receive_data(b"")
    assert isinstance(s.core.next_action(), Close)
    assert s.store.mailboxes("erin").status("INBOX").messages == 2
    assert s.log[-1].endswith("Disconnected: Connection closed top=0/0, retr=0/0, del=0/2, size=998")


def test_pop3_top_dot_stuffs_and_counts_body_lines() -> None:
    data = b"Subject: x\n\n.hidden\nline 2\n.\nlast\n"
    assert message_lines(data, 2) == b"Subject: x\r\n\r\n..hidden\r\nline 2\r\n"
    assert message_lines(data) == b"Subject: x\r\n\r\n..hidden\r\nline 2\r\n..\r\nlast\r\n"
    assert message_lines(b"no newline") == b"no newline\r\n"


def test_pop3_argument_errors_use_dovecots_texts(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s.login()
    assert s("RETR x") == "-ERR Invalid message number: x\r\n"
    assert s("RETR 1x") == "-ERR Noise after message number: x\r\n"
    assert s("TOP 1") == "-ERR Noise after message number: \r\n"
    assert s("TOP 1 z") == "-ERR Invalid size: z\r\n"
    assert s("LIST 0") == "-ERR There's no message 0.\r\n"
    assert s("CAPA") == "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n.\r\n"


def test_pop3_auth_login_continuations_and_abort(tmp_path: Path) -> None:
    s = Session(tmp_path)
    assert s("AUTH PLAIN") == "+ \r\n"
    assert s("*") == "-ERR Authentication aborted by client.\r\n"
    assert s("AUTH CRAM-MD5") == "-ERR [AUTH] Unsupported authentication mechanism.\r\n"
    assert s("AUTH LOGIN") == "+ VXNlcm5hbWU6\r\n"
    assert s(base64.b64encode(b"erin").decode()) == "+ UGFzc3dvcmQ6\r\n"
    assert s(base64.b64encode(b"erin-pw").decode()) == "+OK Logged in.\r\n"
    assert "method=LOGIN" in s.log[0]


def test_pop3_three_unknown_commands_before_login_disconnect(tmp_path: Path) -> None:
    s = Session(tmp_path)
    s("FOO")
    s("BAR")
    # measured (dovecot_measured/sessions p_three_bad_before_login): the third gets its reply too
    assert s("BAZ") == "-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n"
    assert isinstance(s.core.next_action(), Close)
    assert "Disconnected: Disconnected: Too many bad commands (no auth attempts in 0 secs)" in s.log[-1]


def test_pop3_idle_timeouts_are_requests_to_the_adapter(tmp_path: Path) -> None:
    s = Session(tmp_path)
    assert s.core.next_action() == NeedData(180.0)
    s.login()
    assert s.core.next_action() == NeedData(600.0)
    s.core.timeout()
    assert s.core.data_to_send() == b"-ERR Disconnected for inactivity.\r\n"
    assert isinstance(s.core.next_action(), Close)


def test_pop3_apop_when_enabled(tmp_path: Path) -> None:
    import hashlib
    s = Session(tmp_path, apop=True, hostname="mail.example.com")
    challenge = s.greeting.split()[-1]
    assert challenge.startswith("<") and challenge.endswith("@mail.example.com>")
    digest = hashlib.md5((challenge + "erin-pw").encode()).hexdigest()
    assert s(f"APOP erin {digest}") == "+OK Logged in.\r\n"
    assert Session(tmp_path / "x")("APOP erin " + "0" * 32) == "-ERR APOP not enabled.\r\n"


def test_pop3_state_table_covers_every_state() -> None:
    assert set(COMMANDS) == {State.AUTHORIZATION, State.TRANSACTION}
    assert {t[0] for t in TRANSITIONS} | {t[2] for t in TRANSITIONS} == set(State)


def test_pop3_not_secured_between_two_addresses(tmp_path: Path) -> None:
    s = Session(tmp_path, ConnectionInfo("10.0.0.2", 40000, "10.0.0.25", 110))
    s.login()
    assert "rip=10.0.0.2, lip=10.0.0.25, mpid=" in s.log[0] and "secured" not in s.log[0]
    assert T0 == s.store.mailboxes("erin").status("INBOX").uidvalidity
