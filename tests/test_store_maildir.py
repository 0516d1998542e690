"""Maildir as Postfix writes it (simlab.store.maildir)."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

from simlab.store.maildir import Maildir

WHEN = 1795527603.25


def test_maildir_append_names_the_file_like_postfix(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Maildir", hostname="mail.example.com")
    name = md.append(b"Subject: hi\r\n\r\nbody\r\n", "alice@example.com", WHEN, pid=4242)
    assert re.fullmatch(r"1795527603\.V[0-9a-f]+I[0-9a-f]+M250000\.mail\.example\.com", name)
    path = tmp_path / "Maildir" / "new" / name
    assert path.read_bytes() == b"Subject: hi\n\nbody\n"
    assert os.listdir(tmp_path / "Maildir" / "tmp") == []
    assert path.stat().st_mtime == WHEN


def test_maildir_counter_gives_reproducible_names_and_safe_host(tmp_path: Path) -> None:
    counter = itertools.count(1)
    md = Maildir(tmp_path / "md", hostname="odd/host:name", counter=lambda: next(counter))
    assert md.append(b"x\n", "", 1000.0) == "1000.V0I1M0.odd\\057host\\072name"
    assert md.append(b"y\n", "", 1000.0) == "1000.V0I2M0.odd\\057host\\072name"


def test_maildir_flags_move_to_cur_with_info_and_expunge(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "md", hostname="h")
    a = md.append(b"Subject: a\n\nx\n", "", WHEN)
    b = md.append(b"Subject: b\n\ny\n", "", WHEN + 1)
    md.set_flags(a, add={"\\Seen", "\\Flagged", "\\Answered"})
    assert (tmp_path / "md" / "cur" / f"{a}:2,FRS").exists()
    md.set_flags(a, remove={"\\Flagged"}, add={"\\Deleted"})
    assert (tmp_path / "md" / "cur" / f"{a}:2,RST").exists()
    msgs = {m.key: m for m in md.messages()}
    assert msgs[a].flags == {"\\Seen", "\\Answered", "\\Deleted"} and msgs[b].flags == frozenset()
    assert msgs[a].size == len(b"Subject: a\r\n\r\nx\r\n")
    md.expunge([a])
    assert [m.key for m in md.messages()] == [b]
