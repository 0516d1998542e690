"""The ready-made networks: one call each, deterministic for a seed, and really working."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from simlab.scenarios import SCENARIOS, Scenario, internet, lab, tour
from simlab.scenarios.lab import INSTALL

DATA = Path(__file__).parent / "data"


def ports(host) -> set[int]:
    return {lst.port for lst in host.listening()}


@pytest.fixture
def t():
    sc = tour(seed=1)
    yield sc
    sc.close()


def test_tour_layout(t: Scenario) -> None:
    assert set(t.hosts) == {"mail_example", "mail_oreilly", "pc_alice", "pc_bob", "pc_erin"}
    assert t.mail_example.name == "mail.example.com" and t.mail_oreilly.name == "mail.oreilly.com"
    assert t.mail_example.roles == ["MTA", "store"] and t.pc_alice.roles == ["MUA"]
    assert {25, 587, 110, 143} <= ports(t.mail_example) and {25, 587, 110, 143} <= ports(t.mail_oreilly)
    assert ports(t.pc_alice) == set()
    mx = {(r.name, r.data, r.pref) for r in t.net.dns.records if r.rtype == "MX"}
    assert mx == {("example.com", "mail.example.com", 10), ("oreilly.com", "mail.oreilly.com", 10)}
    assert t.alice.address == "alice@example.com" and t.alice.smtp == ("10.0.0.25", 587)
    assert t.erin.pop3 == ("10.0.1.25", 110) and t.erin.host is t.pc_erin
    text = t.describe()
    assert "mail.oreilly.com" in text and "MTA + store" in text and "alice, bob" in text
    with pytest.raises(AttributeError, match="no host or client 'carol'"):
        t.carol


def test_tour_message_crosses_two_servers(t: Scenario) -> None:
    result = t.alice.send_sync(to="erin@oreilly.com", subject="Hi", body="Hello Erin")
    assert result.ok and result.authenticated and result.queue_id
    t.run()
    conns = [(e.details["client"], e.details["server"], e.details["port"]) for e in t.trace.connections()]
    assert conns == [("alice-pc.example.com", "mail.example.com", 587), ("mail.example.com", "mail.oreilly.com", 25)]
    (msg,) = t.mail_oreilly.mailbox("erin")
    assert msg["Return-Path"] == "<alice@example.com>" and msg["Delivered-To"] == "erin@oreilly.com"
    received = msg.get_all("Received")
    assert len(received) == 2 and "by mail.oreilly.com (Postfix) with ESMTP" in received[0]
    assert "with ESMTPA" in received[1]                    # alice logged in on the submission port
    assert any("status=sent (delivered to mailbox)" in ln for ln in t.mail_oreilly.maillog())
    inbox = t.erin.imap_list_sync()
    assert [m.header("Subject") for m in inbox] == ["Hi"]
    assert [m.header("Subject") for m in t.erin.pop3_fetch_sync(keep=True)] == ["Hi"]


def run_and_dump(build, seed: int) -> str:
    sc = build(seed)
    try:
        sc.muas[next(iter(sc.muas))].send_sync(to="postmaster@example.com", subject="s", body="b")
        sc.run()
        return sc.trace.to_jsonl()
    finally:
        sc.close()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_seed_same_trace(name: str) -> None:
    first = run_and_dump(SCENARIOS[name], 5)
    assert first == run_and_dump(SCENARIOS[name], 5)
    assert "simlab-" not in first                          # no temporary folder leaks into the trace


def test_internet_reading_sending_and_postmaster() -> None:
    w = internet(seed=2)
    try:
        assert set(w.hosts) == {"mail_example", "mail_oreilly", "store_oreilly", "pc_alice", "pc_erin"}
        assert w.store_oreilly.roles == ["store"] and {24, 110, 143} == ports(w.store_oreilly)
        assert w.bob.host is w.mail_example                # a shell user on the server itself
        assert w.erin.smtp == (w.mail_oreilly.ip, 587) and w.erin.pop3 == (w.store_oreilly.ip, 110)
        assert w.alice.send_sync(to=["erin@oreilly.com", "bob@example.com"], subject="one", body="x").ok
        assert w.erin.send_sync(to="postmaster@example.com", subject="two", body="y").ok
        assert w.bob.send_sync(to="postmaster@oreilly.com", subject="three", body="z").ok
        w.run()
        lmtp = [e.details for e in w.trace.connections() if e.details["port"] == 24]
        assert {(d["client"], d["server"]) for d in lmtp} == {("mail.oreilly.com", "store.oreilly.com")}
        assert not w.mail_oreilly.path("/var/mail/erin").exists()     # the store keeps oreilly.com's mail
        (first, third) = w.store_oreilly.mailbox("erin")
        assert "by store.oreilly.com with LMTP" in first.get_all("Received")[0]
        assert [m.header("Subject") for m in w.erin.pop3_fetch_sync(keep=False)] == ["one", "three"]
        assert w.erin.pop3_fetch_sync() == []               # POP3 took the mail off the store
        assert [m.header("Subject") for m in w.bob.read_mbox()] == ["one"]
        assert [m.header("Subject") for m in w.alice.imap_list_sync()] == ["two"]   # postmaster -> root -> alice
        w.alice.smtp = (w.mail_example.ip, 25)              # no login on port 25: relaying is refused
        w.alice.password = None
        refused = w.alice.send_sync(to="erin@oreilly.com", subject="relay?", body="x")
        assert not refused.ok and refused.refused["erin@oreilly.com"][0] == 454
    finally:
        w.close()


@pytest.fixture(scope="module")
def the_lab():
    sc = lab(seed=1)
    yield sc
    sc.close()


def test_lab_files_installed_as_the_readme_says(the_lab: Scenario) -> None:
    host = the_lab.mail
    for name, unix in INSTALL.items():
        shipped = resources.files("simlab").joinpath("data/lab", name).read_bytes()
        assert host.path(unix).read_bytes() == shipped, unix
    assert (DATA / "postconf/lab/main.cf").read_bytes() == host.path("/etc/postfix/main.cf").read_bytes()
    assert host.path("/etc/dovecot/users").read_bytes() == host.path("/etc/dovecot/lab-users").read_bytes()
    for table in ("/etc/postfix/virtual.db", "/etc/postfix/transport.db", "/etc/postfix/vmailbox.db",
                  "/etc/aliases.db"):
        assert host.path(table).exists(), table
    out = host.postfix.command("postconf", "-n").stdout.splitlines()
    expected = (DATA / "postconf/postconf-n-lab.txt").read_text().splitlines()
    assert [ln for ln in out if not ln.startswith("config_directory =")] == expected


def test_lab_delivers_to_every_kind_of_destination(the_lab: Scenario) -> None:
    host = the_lab.mail
    rcpts = ["team@example.com", "robot@example.com", "x@relay.example", "y@lmtp.example",
             "carol@vmail.example", "info@alias.example"]
    result = the_lab.bob.send_sync(to=rcpts, subject="lab", body="hello lab")
    assert result.ok and result.accepted == rcpts
    the_lab.run()
    log = "\n".join(host.maillog())
    assert "relay=labpipe" in log and "relay=127.0.0.1[127.0.0.1]:2526" in log and "dsn=2.2.0" in log
    assert [p.name.split(".")[0] for p in host.path("/var/spool/labpipe").iterdir()] == ["msg"]
    piped = next(host.path("/var/spool/labpipe").iterdir()).read_text()
    assert piped.startswith("argv: bob@example.com robot@example.com example.com robot \nuid: nobody\n----\n")
    assert len(the_lab.sinks["relay"].messages) == 1 and len(the_lab.sinks["lmtp"].messages) == 1
    assert list(host.path("/var/mail/vhosts/vmail.example/carol/new").iterdir())
    assert [m["Subject"] for m in host.mailbox("alice")] == ["lab", "lab"]    # team + info@alias.example
    refused = the_lab.bob.send_sync(to="user@other.example", subject="out", body="x")
    assert refused.refused == {"user@other.example": (550, "5.1.1 <user@other.example>: Recipient address "
                                                           "rejected: no outbound in this lab")}
