"""IMAP against Dovecot 2.3's recorded sessions (after the POP3 ones, as captured)."""

from __future__ import annotations

import pytest
from dovecot_harness import DATA, Battery, run_battery


@pytest.fixture(scope="module")
def battery(tmp_path_factory: pytest.TempPathFactory) -> Battery:
    return run_battery(tmp_path_factory.mktemp("battery"))


@pytest.mark.parametrize("sid", ["imap_main", "imap_bad_password", "imap_authenticate"])
def test_imap_reference_transcript_is_reproduced(battery: Battery, sid: str) -> None:
    assert battery.outputs[sid].decode().split("\r\n") == battery.expected[sid].decode().split("\r\n")


@pytest.mark.parametrize("sid", ["imap_main", "imap_bad_password", "imap_authenticate"])
def test_imap_reference_log_lines_with_byte_counts(battery: Battery, sid: str) -> None:
    assert battery.logs[sid] == battery.reference_logs[sid]


def test_imap_reference_mailbox_after_the_sessions(battery: Battery) -> None:
    # same bytes as Dovecot's file: X-IMAPbase, padded X-UID, Status: RO, message 2 gone
    assert (battery.root / "var/mail/erin").read_bytes() == (DATA / "mailbox-after.txt").read_bytes()


def test_imap_reference_failed_logins_wait_two_seconds_each(battery: Battery) -> None:
    # the same user+password pairs already failed over POP3: anvil adds no penalty
    assert battery.durations["imap_bad_password"] == 4.0
