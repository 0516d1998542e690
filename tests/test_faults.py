"""Each fault of the what-if labs, between two MTAs found through MX records: the deferral Postfix
logs, the retries with backoff in virtual time, and the end (delivered once undone, or bounced)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from simlab.dns.server import dns_server
from simlab.mua import MUA
from simlab.sim.faults import Fault, faults
from simlab.sim.network import Network
from simlab.sim.postgrey import Postgrey
from simlab.store.node import StoreNode

QUEUE = {"queue_run_delay": 60, "minimal_backoff_time": 60, "maximal_backoff_time": 240,
         "maximal_queue_lifetime": 1800, "bounce_queue_lifetime": 1800}
MAIN_CF = "".join(f"{k} = {v}s\n" for k, v in QUEUE.items())
TIMED_OUT = "connect to mail.oreilly.com[10.0.0.26]:25: Connection timed out"
TRY_AGAIN = "Host or domain name not found. Name service error for name=oreilly.com type=MX: " \
            "Host not found, try again"


@dataclass
class Lab:
    net: Network
    mail: Any          # mail.example.com, alice's MTA
    mx: Any            # mail.oreilly.com, bob's MTA (the MX of oreilly.com)
    alice: MUA
    store: StoreNode | None = None

    @property
    def f(self) -> Any:
        return faults(self.net)

    def send(self, subject: str = "what if") -> str:
        result = self.alice.send_sync(to=["bob@oreilly.com"], subject=subject, body="hello bob\n")
        assert result.ok, result.error
        return result.queue_id

    def run(self, seconds: float) -> None:
        self.net.run(until=self.net.now + seconds)

    def log(self, host: str, qid: str) -> list[tuple[float, str]]:
        """(virtual time, text) of HOST's maillog lines about QID."""
        return [(e.time, e.details["text"]) for e in self.net.trace.events("log", host=host)
                if str(e.details.get("text", "")).startswith(qid + ": ")]

    def queue_ids(self, host: str) -> list[str]:
        """HOST's queue ids, in the order they first went active."""
        out: list[str] = []
        for e in self.net.trace.events("log", host=host):
            text = str(e.details.get("text", ""))
            if text.endswith("(queue active)") and text.split(":")[0] not in out:
                out.append(text.split(":")[0])
        return out

    def attempts(self, host: str, qid: str) -> list[float]:
        return [t for t, text in self.log(host, qid) if text.endswith("(queue active)")]

    def deferrals(self, host: str, qid: str) -> list[tuple[float, str]]:
        return [(t, re.sub(r".*status=deferred \((.*)\)$", r"\1", text))
                for t, text in self.log(host, qid) if "status=deferred" in text]

    def outcome(self, host: str, qid: str) -> str:
        return [text for _, text in self.log(host, qid) if "status=" in text][-1]

    def check_backoff(self, host: str, qid: str) -> list[float]:
        """Each retry comes when qmgr's backoff says: the message's age, clamped to
        minimal/maximal_backoff_time, after the deferral, at the next deferred-queue scan
        (queue_run_delay). Returns the gaps between attempts."""
        tries = self.attempts(host, qid)
        defers = [t for t, _ in self.deferrals(host, qid)]
        arrival = tries[0]
        for d, nxt in zip(defers, tries[1:]):
            backoff = min(max(d - arrival, QUEUE["minimal_backoff_time"]), QUEUE["maximal_backoff_time"])
            assert d + backoff - 1 <= nxt <= d + backoff + QUEUE["queue_run_delay"], (d, backoff, nxt)
        gaps = [b - a for a, b in zip(tries, tries[1:])]
        assert gaps == sorted(gaps) or max(gaps) <= QUEUE["maximal_backoff_time"] + QUEUE["queue_run_delay"]
        return gaps


_OPEN: list[Network] = []


@pytest.fixture(autouse=True)
def _close_networks() -> Any:
    yield
    while _OPEN:
        _OPEN.pop().close()


def make_lab(store: bool = False, **store_options: Any) -> Lab:
    net = Network(seed=7)
    _OPEN.append(net)
    mail = net.host("mail.example.com", ip="10.0.0.25", users=["alice"])
    mx = net.host("mail.oreilly.com", ip="10.0.0.26", users=["bob"])
    pc = net.host("pc.example.com", ip="10.0.0.10")
    net.dns.mx("example.com", "mail.example.com")
    net.dns.mx("oreilly.com", "mail.oreilly.com")
    with open(mail.path("/etc/postfix/main.cf"), "a") as f:
        f.write("mynetworks = 10.0.0.0/24 127.0.0.0/8\n" + MAIN_CF)
    extra = "mailbox_transport = lmtp:inet:store.oreilly.com:24\n" if store else ""
    with open(mx.path("/etc/postfix/main.cf"), "a") as f:
        f.write(MAIN_CF + extra)
    node = StoreNode(net.host("store.oreilly.com", ip="10.0.0.30"), users=["bob"], **store_options) \
        if store else None
    mail.start_postfix()
    mx.start_postfix()
    return Lab(net, mail, mx, MUA(net, pc, "alice@example.com", smtp=("10.0.0.25", 25)), node)


def flat(text: str) -> str:
    """Text with its folded lines joined (DSN reports wrap long reasons)."""
    return " ".join(text.split())


def assert_delivered(lab: Lab, qid: str) -> None:
    assert "status=sent (250 2.0.0 Ok: queued as" in lab.outcome("mail.example.com", qid)
    assert [m["Subject"] for m in lab.mx.mailbox("bob")] == ["what if"]


def assert_returned_at_expiry(lab: Lab, qid: str, reason: str) -> None:
    tries = lab.attempts("mail.example.com", qid)
    expired = [t for t, text in lab.log("mail.example.com", qid)
               if text == f"{qid}: from=<alice@example.com>, status=expired, returned to sender"]
    assert len(expired) == 1 and expired[0] - tries[0] >= QUEUE["maximal_queue_lifetime"]
    assert any(text.startswith(f"{qid}: sender non-delivery notification: ")
               for _, text in lab.log("mail.example.com", qid))
    (dsn,) = lab.mail.mailbox("alice")
    assert dsn["Subject"] == "Undelivered Mail Returned to Sender"
    assert dsn["From"] == "Mail Delivery System <MAILER-DAEMON@example.com>"
    assert reason in flat(dsn.as_string())
    assert "Action: failed" in dsn.as_string()
    assert lab.mx.mailbox("bob") == []


# -- the network ------------------------------------------------------------------------------
def test_fault_link_down_defers_retries_with_backoff_and_delivers_after_undo() -> None:
    lab = make_lab()
    cut = lab.f.link_down(lab.mail, lab.mx)
    qid = lab.send()
    lab.run(900)
    defers = lab.deferrals("mail.example.com", qid)
    assert len(defers) >= 4 and {text for _, text in defers} == {TIMED_OUT}
    assert [ln for ln in lab.net.trace.maillog("mail.example.com") if f"{qid}: to=<bob" in ln][0] \
        .endswith(f"relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred ({TIMED_OUT})")
    gaps = lab.check_backoff("mail.example.com", qid)
    assert gaps[0] >= QUEUE["minimal_backoff_time"] and max(gaps) > gaps[0]
    cut.undo()
    lab.run(600)
    assert_delivered(lab, qid)
    lab.check_backoff("mail.example.com", qid)


def test_fault_host_down_until_the_queue_lifetime_expires_returns_a_dsn() -> None:
    lab = make_lab()
    lab.f.host_down(lab.mx)
    qid = lab.send()
    lab.run(QUEUE["maximal_queue_lifetime"] + 600)
    assert {text for _, text in lab.deferrals("mail.example.com", qid)} == {TIMED_OUT}
    gaps = lab.check_backoff("mail.example.com", qid)
    assert gaps[-1] >= QUEUE["maximal_backoff_time"]
    assert_returned_at_expiry(lab, qid, TIMED_OUT)


def test_fault_port_closed_is_connection_refused() -> None:
    lab = make_lab()
    closed = lab.f.port_closed(lab.mx, 25)
    assert not [lst for lst in lab.mx.listening() if lst.port == 25]
    qid = lab.send()
    lab.run(400)
    assert {text for _, text in lab.deferrals("mail.example.com", qid)} == \
        {"connect to mail.oreilly.com[10.0.0.26]:25: Connection refused"}
    lab.check_backoff("mail.example.com", qid)
    closed.undo()
    closed.undo()                      # a second undo does nothing
    lab.run(600)
    assert_delivered(lab, qid)


def test_fault_slow_link_times_out_the_connection_then_delivers_when_fast_again() -> None:
    lab = make_lab()
    slow = lab.f.slow_link(lab.mail, lab.mx, 20.0)     # a 40 s round trip > smtp_connect_timeout
    qid = lab.send()
    lab.run(600)
    assert {text for _, text in lab.deferrals("mail.example.com", qid)} == {TIMED_OUT}
    lab.check_backoff("mail.example.com", qid)
    slow.undo()
    lab.f.slow_link(lab.mail, lab.mx, 2.0)           # slow but workable: the delays show it
    lab.run(600)
    assert_delivered(lab, qid)
    delays = re.search(r"delays=([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+)", lab.outcome("mail.example.com", qid))
    assert delays is not None and float(delays.group(3)) >= 8 and float(delays.group(4)) >= 4


# -- DNS --------------------------------------------------------------------------------------
def test_fault_dns_failure_of_the_zone_is_servfail_try_again() -> None:
    lab = make_lab()
    broken = lab.f.dns_failure("oreilly.com")
    qid = lab.send()
    lab.run(600)
    assert {text for _, text in lab.deferrals("mail.example.com", qid)} == {TRY_AGAIN}
    first = next(text for _, text in lab.log("mail.example.com", qid) if "status=deferred" in text)
    assert "relay=none, delay=0, delays=0/0/0/0, dsn=4.4.3, status=deferred" in first
    lab.check_backoff("mail.example.com", qid)
    broken.undo()
    lab.run(600)
    assert_delivered(lab, qid)


def test_fault_dns_server_down_times_out_the_resolver() -> None:
    lab = make_lab()
    dns_server(lab.net.host("ns.example.net", ip="10.0.0.53"))
    down = lab.f.dns_failure()
    qid = lab.send()
    lab.run(600)
    defers = lab.deferrals("mail.example.com", qid)
    assert {text for _, text in defers} == {TRY_AGAIN}
    assert defers[0][0] - lab.attempts("mail.example.com", qid)[0] == pytest.approx(10.0, abs=0.1)
    lab.check_backoff("mail.example.com", qid)
    down.undo()
    lab.run(600)
    assert_delivered(lab, qid)


# -- the message store ----------------------------------------------------------------------------
QUOTA = "Quota exceeded (mailbox for user is full)"


def test_fault_store_over_quota_bounces_with_dovecots_552() -> None:
    lab = make_lab(store=True)
    assert lab.store is not None
    lab.f.store_over_quota(lab.store, "bob")
    lab.send()
    lab.run(60)
    lines = [ln for ln in lab.net.trace.maillog("mail.oreilly.com") if "postfix/lmtp[" in ln]
    assert any("to=<bob@oreilly.com>, relay=store.oreilly.com[10.0.0.30]:24" in ln and
               f"dsn=5.2.2, status=bounced (host store.oreilly.com[10.0.0.30] said: 552 5.2.2 "
               f"<bob@oreilly.com> {QUOTA} (in reply to end of DATA command))" in ln for ln in lines)
    (dsn,) = lab.mail.mailbox("alice")
    assert dsn["Subject"] == "Undelivered Mail Returned to Sender" and QUOTA in flat(dsn.as_string())
    assert lab.store.messages("bob") == []


def test_fault_store_over_quota_with_quota_full_tempfail_defers_until_undone() -> None:
    lab = make_lab(store=True, quota_full_tempfail=True)
    assert lab.store is not None
    full = lab.f.store_over_quota(lab.store, "bob")
    lab.send()
    lab.run(600)
    qid = lab.queue_ids("mail.oreilly.com")[0]
    relayed = lab.attempts("mail.oreilly.com", qid)
    defers = lab.deferrals("mail.oreilly.com", qid)
    assert len(relayed) >= 3 and len(defers) >= 3
    assert {text for _, text in defers} == {
        f"host store.oreilly.com[10.0.0.30] said: 452 4.2.2 <bob@oreilly.com> {QUOTA} "
        "(in reply to end of DATA command)"}
    lab.check_backoff("mail.oreilly.com", qid)
    full.undo()
    lab.run(600)
    assert "status=sent (250 2.0.0 <bob@oreilly.com> " in lab.outcome("mail.oreilly.com", qid)
    assert [m["Subject"] for m in lab.store.messages("bob")] == ["what if"]


# -- the remote MTA -----------------------------------------------------------------------------
def test_fault_reject_all_4xx_defers_until_undone() -> None:
    lab = make_lab()
    refusing = lab.f.reject_all(lab.mx, code=450)
    qid = lab.send()
    lab.run(600)
    assert {text for _, text in lab.deferrals("mail.example.com", qid)} == {
        "host mail.oreilly.com[10.0.0.26] said: 450 4.3.2 <bob@oreilly.com>: Recipient address "
        "rejected: Try again later (in reply to RCPT TO command)"}      # smtpd_check.c: defer
    assert any("NOQUEUE: reject: RCPT from mail.example.com[10.0.0.25]: 450 4.3.2" in ln
               for ln in lab.net.trace.maillog("mail.oreilly.com"))
    lab.check_backoff("mail.example.com", qid)
    refusing.undo()
    assert "defer_code" not in lab.mx.path("/etc/postfix/main.cf").read_text()
    lab.run(600)
    assert_delivered(lab, qid)


def test_fault_reject_all_5xx_bounces_at_once() -> None:
    lab = make_lab()
    lab.f.reject_all(lab.mx, code=550)
    qid = lab.send()
    lab.run(60)
    assert lab.outcome("mail.example.com", qid).endswith(
        "dsn=5.7.1, status=bounced (host mail.oreilly.com[10.0.0.26] said: 550 5.7.1 <bob@oreilly.com>: "
        "Recipient address rejected: Access denied (in reply to RCPT TO command))")
    assert lab.deferrals("mail.example.com", qid) == []
    (dsn,) = lab.mail.mailbox("alice")
    assert "550 5.7.1 <bob@oreilly.com>: Recipient address rejected: Access denied" in \
        flat(dsn.as_string())
    with pytest.raises(ValueError):
        lab.f.reject_all(lab.mx, code=250)


GREYLISTED = ("host mail.oreilly.com[10.0.0.26] said: 450 4.2.0 <bob@oreilly.com>: Recipient address "
              "rejected: Greylisted, see http://postgrey.schweikert.ch/help/oreilly.com.html "
              "(in reply to RCPT TO command)")


def test_fault_greylist_defers_the_first_attempt_then_lets_the_retry_through() -> None:
    lab = make_lab()
    lab.f.greylist(lab.mx, for_seconds=300)
    qid = lab.send()
    lab.run(1200)
    defers = lab.deferrals("mail.example.com", qid)
    assert defers and {text for _, text in defers} == {GREYLISTED}
    lab.check_backoff("mail.example.com", qid)
    tries = lab.attempts("mail.example.com", qid)
    assert tries[-1] - tries[0] >= 300
    assert_delivered(lab, qid)
    assert lab.mx.mailbox("bob")[0]["X-Greylist"].startswith("delayed ")


def test_postgrey_policy_protocol_and_decisions() -> None:
    lab = make_lab()
    fault = lab.f.greylist(lab.mx, for_seconds=300)
    grey: Postgrey = fault.program
    assert "check_policy_service inet:127.0.0.1:10023" in \
        lab.mx.path("/etc/postfix/main.cf").read_text()
    request = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=10.0.0.25\n"
               "client_name=mail.example.com\nsender=alice+list@example.com\n"
               "recipient=bob@oreilly.com\netrn_domain=\n\n").encode()

    async def ask() -> bytes:
        reader, writer = await lab.mx.open_connection("127.0.0.1", 10023, component="smtpd")
        writer.write(request)
        answer = await reader.readuntil(b"\n\n")
        writer.close()
        return answer

    assert lab.net.run_sync(ask()) == (b"action=DEFER_IF_PERMIT 4.2.0 Greylisted, see "
                                       b"http://postgrey.schweikert.ch/help/oreilly.com.html\n\n")
    lab.run(100)
    assert lab.net.run_sync(ask()).startswith(b"action=DEFER_IF_PERMIT 4.2.0 Greylisted")
    lab.run(250)
    assert lab.net.run_sync(ask()).startswith(b"action=PREPEND X-Greylist: delayed 350 seconds by "
                                              b"postgrey-1.37 at mail; Tue, 24 Nov 2026 ")
    assert lab.net.run_sync(ask()) == b"action=DUNNO\n\n"
    texts = [text for _, text in grey.decisions]
    assert texts[0] == ("action=greylist, reason=new, client_name=mail.example.com, "
                        "client_address=10.0.0.25, sender=alice+list@example.com, recipient=bob@oreilly.com")
    assert texts[1].startswith("action=greylist, reason=early-retry (200s missing)")
    assert texts[2].startswith("action=pass, reason=triplet found, delay=350, ")
    assert any("postgrey[" in ln and "action=greylist, reason=new" in ln
               for ln in lab.net.trace.maillog("mail.oreilly.com"))
    lab.run(1)
    fault.undo()
    assert "check_policy_service" not in lab.mx.path("/etc/postfix/main.cf").read_text()
    assert not [lst for lst in lab.mx.listening() if lst.port == 10023]


# -- the panel ------------------------------------------------------------------------------------
def test_faults_panel_handles_and_trace_events() -> None:
    lab = make_lab()
    assert faults(lab.net) is lab.f
    with lab.f.host_down(lab.mx) as down:
        assert isinstance(down, Fault) and lab.f.active == [down] and not lab.mx.up
    assert lab.mx.up and lab.f.active == [] and not down.active
    lab.f.link_down(lab.mail, lab.mx)
    lab.f.dns_failure("oreilly.com")
    assert len(lab.f.active) == 2
    lab.f.undo_all()
    assert lab.f.active == [] and lab.net.path_up("mail.example.com", "mail.oreilly.com")
    assert lab.net.dns.broken == set()
    events = [(e.details["fault"], e.details["state"]) for e in lab.net.trace.events("fault")]
    assert events == [("host_down", "on"), ("host_down", "off"), ("link_down", "on"),
                      ("dns_failure", "on"), ("dns_failure", "off"), ("link_down", "off")]
    with pytest.raises(ValueError, match="no DNS server"):
        lab.f.dns_failure()
    with pytest.raises(ValueError, match="runs no Postfix"):
        lab.f.reject_all(lab.net.host("plain.example.com", ip="10.0.0.99"))
