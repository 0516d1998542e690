"""mbox(5) as Postfix local(8) writes it and Dovecot keeps it (simlab.store.mbox)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simlab.store.locking import mailbox_lock
from simlab.store.mbox import Mbox, asctime, parse_from_line, parse_mbox
from simlab.store.message import MailboxLockedError, rfc822_size

DATA = Path(__file__).parent / "data" / "dovecot"
WHEN = 1795527603.0  # Tue Nov 24 13:40:03 2026 UTC


def test_mbox_append_writes_from_line_quotes_from_and_blank_line(tmp_path: Path) -> None:
    box = Mbox(tmp_path / "var/mail/alice")
    box.append(b"Subject: hi\r\n\r\nFrom here on\r\n>From stays\r\nend", "bob@example.com", WHEN)
    box.append(b"Subject: two\n\nbody\n", "", WHEN + 1)
    assert (tmp_path / "var/mail/alice").read_bytes() == (
        b"From bob@example.com  Tue Nov 24 13:40:03 2026\n"
        b"Subject: hi\n\n>From here on\n>From stays\nend\n\n"
        b"From MAILER-DAEMON  Tue Nov 24 13:40:04 2026\n"
        b"Subject: two\n\nbody\n\n")
    assert not (tmp_path / "var/mail/alice.lock").exists()


def test_mbox_asctime_pads_the_day_with_a_space() -> None:
    assert asctime(1796428800.0) == "Sat Dec  5 00:00:00 2026"
    assert parse_from_line(b"From x@y  Sat Dec  5 00:00:00 2026") == ("x@y", 1796428800.0)
    assert parse_from_line(b"From is not a separator") is None


def test_mbox_messages_of_the_reference_mailbox(tmp_path: Path) -> None:
    path = tmp_path / "erin"
    shutil.copy(DATA / "mailbox-before.txt", path)
    msgs = Mbox(path).messages()
    assert [(m.key, m.size, m.internaldate) for m in msgs] == [
        ("1", 499, 1795527603.0), ("2", 499, 1795527604.0)]
    assert msgs[1].data.endswith(b"Message two body.\n\nWith a blank line above.\n")
    assert msgs[0].flags == frozenset()


def test_mbox_rewrite_reproduces_dovecots_mailbox_after(tmp_path: Path) -> None:
    path = tmp_path / "erin"
    shutil.copy(DATA / "mailbox-before.txt", path)
    box = Mbox(path)
    box.rewrite(uidvalidity=1795527605, recent={1, 2})   # first POP3 session: UIDs written
    box.rewrite(uidvalidity=1795527605)                   # second session: no longer recent
    box.rewrite(uidvalidity=1795527605, flags={1: {"\\Seen"}}, expunge={2})  # IMAP EXPUNGE
    assert path.read_bytes() == (DATA / "mailbox-after.txt").read_bytes()
    (msg,) = box.messages()
    assert msg.flags == {"\\Seen"} and msg.size == 499 and b"X-UID" not in msg.data


def test_mbox_flags_round_trip_through_status_x_status_and_keywords(tmp_path: Path) -> None:
    box = Mbox(tmp_path / "box")
    box.append(b"Subject: a\n\nbody\n", "a@b", WHEN)
    box.set_flags("1", add={"\\SEEN", "\\Answered", "\\Flagged", "\\Draft", "$Label1"}, now=WHEN)
    text = (tmp_path / "box").read_text()
    assert "Status: RO\n" in text and "X-Status: AFT\n" in text and "X-Keywords: $Label1" in text
    assert box.messages()[0].flags == {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "$Label1"}
    size = len(text)
    box.set_flags("1", remove={"\\Flagged"}, now=WHEN)
    assert len((tmp_path / "box").read_text()) == size   # header keeps its size: padding grows
    assert "X-Status: AT\n" in (tmp_path / "box").read_text()


def test_mbox_expunge_and_new_uids_after_the_last_one(tmp_path: Path) -> None:
    box = Mbox(tmp_path / "box")
    for n in range(3):
        box.append(f"Subject: {n}\n\nx\n".encode(), "a@b", WHEN + n)
    box.expunge(["3"], now=WHEN)
    box.append(b"Subject: new\n\nx\n", "a@b", WHEN + 9)
    contents = box.read()
    assert [m.uid for m in contents.messages] == [1, 2, 4]
    assert contents.uidvalidity == int(WHEN)


def test_mbox_content_length_written_for_big_bodies_and_honoured(tmp_path: Path) -> None:
    box = Mbox(tmp_path / "box")
    box.append(b"Subject: big\n\n" + b"x" * 2000 + b"\n", "a@b", WHEN)
    box.set_flags("1", add={"\\Seen"}, now=WHEN)
    assert "Content-Length: 2001\n" in (tmp_path / "box").read_text()
    # a body line that looks like a separator does not split the message
    data = (b"From a@b  Tue Nov 24 13:40:03 2026\nContent-Length: 43\n\n"
            b"From a@b  Tue Nov 24 13:40:03 2026\nxxxxxxx\n\n")
    assert len(parse_mbox(data).messages) == 1


def test_mbox_broken_or_missing_x_uid_renumbers_the_rest(tmp_path: Path) -> None:
    data = (b"From a@b  Tue Nov 24 13:40:03 2026\nX-UID: 5\n\nx\n\n"
            b"From a@b  Tue Nov 24 13:40:03 2026\n\ny\n\n"
            b"From a@b  Tue Nov 24 13:40:03 2026\nX-UID: 6\n\nz\n\n")
    contents = parse_mbox(data)
    assert [m.uid for m in contents.messages] == [5, 7, 8]
    assert contents.needs_write


def test_mbox_lock_refuses_a_held_dotlock_and_removes_a_stale_one(tmp_path: Path) -> None:
    path = tmp_path / "alice"
    (tmp_path / "alice.lock").write_text("")
    with pytest.raises(MailboxLockedError, match="unable to create lock file"):
        Mbox(path).append(b"x\n", "a@b", WHEN)
    mtime = (tmp_path / "alice.lock").stat().st_mtime
    with mailbox_lock(path, now=mtime + 501) as fh:
        fh.write(b"")
    assert not (tmp_path / "alice.lock").exists()


def test_mbox_size_counts_line_ends_as_crlf() -> None:
    assert rfc822_size(b"a\nb\r\nc") == 7

