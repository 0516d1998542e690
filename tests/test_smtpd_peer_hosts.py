"""smtpd's /etc/hosts table: one stat() per connection, read again whenever the file may have changed."""

from __future__ import annotations

import time
from types import SimpleNamespace

from simlab.postfix.smtpd import peer


def _ctx(root):
    return SimpleNamespace(path=lambda p: root / p.lstrip("/"))


def _reads(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = peer._read_file

    def counting(path: str) -> bytes:
        calls.append(path)
        return real(path)
    monkeypatch.setattr(peer, "_read_file", counting)
    return calls


def test_settled_file_is_not_read_again_until_it_changes(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    hosts = tmp_path / "etc/hosts"
    hosts.write_text("10.0.0.1 one.example\n")
    later = time.time_ns() + 2 * peer._SETTLED_NS        # the clock has moved on: the file is settled
    monkeypatch.setattr(peer.time, "time_ns", lambda: later)
    reads = _reads(monkeypatch)
    ctx = _ctx(tmp_path)
    assert peer.hosts_file(ctx) == {"10.0.0.1": "one.example"}
    assert peer.hosts_file(ctx) == {"10.0.0.1": "one.example"}
    assert len(reads) == 1
    hosts.write_text("10.0.0.1 two.example\n")       # same size, rewritten in place
    assert peer.hosts_file(ctx) == {"10.0.0.1": "two.example"}
    hosts.unlink()
    assert peer.hosts_file(ctx) == {"127.0.0.1": "localhost", "::1": "localhost"}


def test_recent_file_is_read_on_every_lookup(tmp_path, monkeypatch):
    (tmp_path / "etc").mkdir()
    hosts = tmp_path / "etc/hosts"
    reads = _reads(monkeypatch)
    ctx = _ctx(tmp_path)
    for name in ("aaa.example", "bbb.example", "ccc.example"):
        # rewritten within one clock tick: the timestamps may not change, the contents do
        hosts.write_text(f"10.0.0.1 {name}\n")
        assert peer.hosts_file(ctx) == {"10.0.0.1": name}
    assert len(reads) == 3


def test_a_missing_file_is_found_once_it_is_created(tmp_path):
    (tmp_path / "etc").mkdir()
    hosts = tmp_path / "etc/hosts"
    ctx = _ctx(tmp_path)
    for _ in range(2):      # the second look takes the shortcut for a file known to be absent
        assert peer.hosts_file(ctx) == {"127.0.0.1": "localhost", "::1": "localhost"}
    hosts.write_text("10.0.0.1 one.example\n")
    assert peer.hosts_file(ctx) == {"10.0.0.1": "one.example"}
    hosts.unlink()
    assert peer.hosts_file(ctx) == {"127.0.0.1": "localhost", "::1": "localhost"}
    hosts.write_text("10.0.0.1 two.example\n")
    assert peer.hosts_file(ctx) == {"10.0.0.1": "two.example"}
