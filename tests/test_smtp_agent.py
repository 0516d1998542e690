"""smtp(8) and lmtp(8) on the virtual network: MX order, fallback, defer, bounce, LMTP, loops."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from simlab.postfix.bounce import read_log
from simlab.postfix.common.queue import QueueFile, QueueStore, Recipient, new_queue_id
from simlab.postfix.config import MasterService
from simlab.postfix.qmgr import DeliveryRequest
from simlab.postfix.smtp import deliver, parse_nexthop
from simlab.postfix.smtp.nexthop import NextHopError
from simlab.postfix.smtp_sink import smtp_sink
from simlab.postfix.system import PostfixSystem
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

DATA = Path(__file__).parent / "data" / "agents"
BODY = (b"Received: from client.example (localhost [127.0.0.1])\n\tby mail.example.com (Postfix) with "
        b"ESMTP id E2726160592\n\tfor <x@relay.example>; Tue, 24 Nov 2026 13:37:08 +0000 (UTC)\n"
        b"From: <bob@example.com>\nTo: <x@relay.example>\nSubject: relay_domain\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <relay_domain@client.example>\n\n"
        b"Hello from the Postfix reference battery.\n")
SMTP = MasterService("smtp", "unix", True, True, False, 0, None, "smtp")
LMTP = MasterService("lmtp", "unix", True, True, False, 0, None, "lmtp")


class Lab:
    """mail.example.com (10.0.0.25) with its Postfix context, plus other hosts."""

    def __init__(self, main_cf: str = "") -> None:
        self.net = Network(seed=4)
        self.mail = self.net.host("mail.example.com", ip="10.0.0.25")
        init_root(self.mail.root, "mail.example.com")
        with open(self.mail.path("/etc/postfix/main.cf"), "a") as f:
            f.write(main_cf)
        self.ctx = PostfixSystem.for_host(self.mail).ctx
        self.store = QueueStore(self.ctx)

    def host(self, name: str, ip: str) -> Any:
        return self.net.host(name, ip=ip)

    def deliver(self, service: MasterService, nexthop: str, rcpts: list[str],
                sender: str = "bob@example.com", trace_flags: int = 0) -> tuple[str, list[Any]]:
        qid = new_queue_id(self.ctx)
        arrival = self.ctx.now()
        recipients = [Recipient(r, r) for r in rcpts]
        self.store.write("active", QueueFile(qid, arrival, sender, recipients, BODY))
        qf = self.store.read("active", qid)
        req = DeliveryRequest(qid=qid, queue="active", sender=sender, nexthop=nexthop,
                              recipients=tuple(qf.recipients), transport=service.name,
                              arrival=arrival, attrs={}, trace_flags=trace_flags)
        return qid, self.net.run_sync(deliver(self.ctx, service, req))

    def log(self) -> list[str]:
        return [line.split(": ", 1)[1] for line in self.ctx.log.lines]

    def close(self) -> None:
        self.net.close()


def strip_delays(line: str) -> str:
    return re.sub(r"delay=[\d.]+, delays=[\d./]+", "delay=D, delays=D", line)


@pytest.fixture
def lab() -> Any:
    made: list[Lab] = []

    def make(main_cf: str = "") -> Lab:
        made.append(Lab(main_cf))
        return made[-1]

    yield make
    for lb in made:
        lb.close()


def test_smtp_agent_relays_to_the_sink_as_in_the_reference(lab: Any) -> None:
    L = lab()
    sink = smtp_sink(L.mail, "-h sink.example -d /var/spool/labsink/smtp-%Y%m%d%H%M%S. 127.0.0.1:2526 256")
    qid, (st,) = L.deliver(SMTP, "[127.0.0.1]:2526", ["x@relay.example"])
    assert (st.status, st.dsn) == ("sent", "2.0.0")
    ref = json.loads((DATA / "19_relay_domain.json").read_text())
    want = next(line for line in ref["mail_log"] if "postfix/smtp[" in line).split(": ", 1)[1]
    got = next(line for line in L.log() if "to=<x@relay.example>" in line)
    assert strip_delays(got.replace(qid, "QID")) == strip_delays(want.replace("E2726160592", "QID"))
    dump = sink.messages[0].path.read_text()
    expected = ref["deliveries"][0]["content"]

    def after_sink_received(text: str) -> str:
        return text.split("\tby sink.example")[1].split("\n", 2)[2]

    assert after_sink_received(dump) == after_sink_received(expected)
    assert dump.startswith("X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: mail.example.com\n"
                           "X-Mail-Args: <bob@example.com>\n"
                           "X-Rcpt-Args: <x@relay.example> ORCPT=rfc822;x@relay.example\n")


def test_smtp_agent_bounces_a_5xx_rcpt_with_the_reference_text(lab: Any) -> None:
    L = lab()
    smtp_sink(L.mail, "-f RCPT 127.0.0.1:2528 256")
    qid, (st,) = L.deliver(SMTP, "[127.0.0.1]:2528", ["user@bounce.example"])
    assert (st.status, st.dsn) == ("bounced", "5.3.0")
    ref = json.loads((DATA / "31_relay_inside_remote_bounce.json").read_text())
    want = next(line for line in ref["mail_log"] if "postfix/smtp[" in line).split(": ", 1)[1]
    got = next(line for line in L.log() if "to=<user@bounce.example>" in line)
    assert strip_delays(got.replace(qid, "QID")) == strip_delays(want.replace("D103A160599", "QID"))
    (rec,) = read_log(L.ctx, "bounce", qid)
    assert (rec.diag_type, rec.diag_text, rec.mta_mname) == ("smtp", "500 5.3.0 Error: command failed",
                                                              "127.0.0.1")


def test_smtp_agent_defers_on_connection_refused_like_the_reference(lab: Any) -> None:
    L = lab()
    qid, (st,) = L.deliver(SMTP, "[127.0.0.1]:2599", ["user1@deferred.example"])
    assert (st.status, st.dsn) == ("deferred", "4.4.1")
    ref = (DATA / "queue_deferrals.log").read_text().splitlines()
    got = L.log()
    assert got[0] == ref[0].split(": ", 1)[1] == "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused"
    want = next(line for line in ref if "C086916052C: to=" in line).split(": ", 1)[1]
    assert strip_delays(got[1].replace(qid, "QID")) == strip_delays(want.replace("C086916052C", "QID"))
    (rec,) = read_log(L.ctx, "defer", qid)
    assert rec.reason == "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused" and rec.diag_type == ""


def test_smtp_agent_defers_on_4xx_and_names_the_command(lab: Any) -> None:
    L = lab()
    smtp_sink(L.mail, "-r MAIL 127.0.0.1:2530 256")
    qid, (st, _) = L.deliver(SMTP, "[127.0.0.1]:2530", ["a@relay.example", "b@relay.example"])
    assert (st.status, st.dsn) == ("deferred", "4.3.0")
    lines = [line for line in L.log() if "status=deferred" in line]
    assert len(lines) == 2 and lines[0].endswith(
        "status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.3.0 Error: command failed "
        "(in reply to MAIL FROM command))")


def test_smtp_agent_follows_mx_preference_and_falls_back(lab: Any) -> None:
    L = lab()
    mx1, mx2 = L.host("mx1.example.net", "10.0.0.31"), L.host("mx2.example.net", "10.0.0.32")
    L.net.dns.mx("example.net", "mx1.example.net", pref=10)
    L.net.dns.mx("example.net", "mx2.example.net", pref=20)
    s2 = smtp_sink(mx2, "-h mx2.example.net :25 256")
    qid, (st,) = L.deliver(SMTP, "example.net", ["bob@example.net"])       # mx1 listens nowhere
    assert st.status == "sent"
    log = L.log()
    assert log[0] == "connect to mx1.example.net[10.0.0.31]:25: Connection refused"
    assert "relay=mx2.example.net[10.0.0.32]:25" in log[1] and s2.messages
    s1 = smtp_sink(mx1, "-h mx1.example.net :25 256")
    L.deliver(SMTP, "example.net", ["bob@example.net"])
    assert len(s1.messages) == 1 and len(s2.messages) == 1
    mx1.crash()
    t0 = L.net.now
    qid, (st,) = L.deliver(SMTP, "example.net", ["bob@example.net"])
    assert st.status == "sent" and L.net.now - t0 >= 30                     # smtp_connect_timeout
    assert "connect to mx1.example.net[10.0.0.31]:25: Connection timed out" in L.log()


def test_smtp_agent_tries_the_next_mx_after_a_4xx_rcpt(lab: Any) -> None:
    L = lab()
    mx1, mx2 = L.host("mx1.example.net", "10.0.0.31"), L.host("mx2.example.net", "10.0.0.32")
    L.net.dns.mx("example.net", "mx1.example.net", pref=10)
    L.net.dns.mx("example.net", "mx2.example.net", pref=20)
    smtp_sink(mx1, "-h mx1.example.net -r RCPT :25 256")
    smtp_sink(mx2, "-h mx2.example.net :25 256")
    qid, (st,) = L.deliver(SMTP, "example.net", ["bob@example.net"])
    assert st.status == "sent"
    assert f"{qid}: host mx1.example.net[10.0.0.31] said: 450 4.3.0 Error: command failed " \
           f"(in reply to RCPT TO command)" in L.log()
    # the last MX's 4xx is final: deferred
    qid, (st,) = L.deliver(SMTP, "[mx1.example.net]", ["bob@example.net"])
    assert (st.status, st.dsn) == ("deferred", "4.3.0")


def test_lmtp_agent_gets_a_reply_per_recipient(lab: Any) -> None:
    L = lab()
    smtp_sink(L.mail, "-L -h lmtpsink.example 127.0.0.1:2524 256")
    qid, sts = L.deliver(LMTP, "inet:[127.0.0.1]:2524", ["y@lmtp.example", "z@lmtp.example"])
    assert [(s.status, s.dsn) for s in sts] == [("sent", "2.2.0")] * 2
    ref = json.loads((DATA / "20_lmtp_domain.json").read_text())
    want = next(line for line in ref["mail_log"] if "postfix/lmtp[" in line).split(": ", 1)[1]
    got = next(line for line in L.log() if "to=<y@lmtp.example>" in line)
    assert strip_delays(got.replace(qid, "QID")) == strip_delays(want.replace("CF36B160593", "QID"))
    assert any(line.split(" ", 4)[4].startswith("postfix/lmtp[") for line in L.ctx.log.lines)


def test_smtp_agent_address_probe_sends_no_message(lab: Any) -> None:
    from simlab.postfix.bounce import TRACE_USR_VRFY
    L = lab()
    sink = smtp_sink(L.mail, "127.0.0.1:2526 256")
    qid, (st,) = L.deliver(SMTP, "[127.0.0.1]:2526", ["x@relay.example"], trace_flags=TRACE_USR_VRFY)
    assert not sink.messages
    assert L.log()[-1].endswith("dsn=2.1.5, status=deliverable (250 2.1.5 Ok)")
    (rec,) = read_log(L.ctx, "trace", qid)
    assert rec.action == "deliverable"


def test_smtp_agent_loop_detection(lab: Any) -> None:
    L = lab()
    other = L.host("other.example.net", "10.0.0.40")
    smtp_sink(other, "-h mail.example.com :25 256")              # greets with our own name
    qid, (st,) = L.deliver(SMTP, "[other.example.net]", ["u@example.net"])
    assert (st.status, st.dsn) == ("bounced", "5.4.6")
    assert "warning: host other.example.net[10.0.0.40]:25 replied to HELO/EHLO with my own hostname " \
           "mail.example.com" in L.log()
    assert st.reason == "mail for [other.example.net] loops back to myself"
    L.net.dns.mx("example.org", "mail.example.com", pref=10)    # the MX is this very host
    qid, (st,) = L.deliver(SMTP, "example.org", ["u@example.org"])
    assert (st.status, st.dsn, st.reason) == ("bounced", "5.4.6", "mail for example.org loops back to myself")
    assert "relay=none" in L.log()[-1]


def test_smtp_agent_dns_failures(lab: Any) -> None:
    L = lab()
    qid, (st,) = L.deliver(SMTP, "nosuch.example", ["u@nosuch.example"])
    assert (st.status, st.dsn) == ("bounced", "5.4.4")
    assert st.reason.startswith("Host or domain name not found. Name service error for name=nosuch.example type=MX")
    L.net.dns.mx("broken.example", "mx.broken.example")
    L.net.dns.break_zone("broken.example")
    qid, (st,) = L.deliver(SMTP, "broken.example", ["u@broken.example"])
    assert (st.status, st.dsn) == ("deferred", "4.4.3")


def test_smtp_agent_relayhost_and_helo_name(lab: Any) -> None:
    L = lab("relayhost = [smarthost.example]:2525\nsmtp_helo_name = helo.example.com\n")
    smart = L.host("smarthost.example", "10.0.0.50")
    sink = smtp_sink(smart, ":2525 256")
    qid, (st,) = L.deliver(SMTP, "", ["anyone@far.example"])
    assert st.status == "sent" and sink.messages[0].helo == "helo.example.com"


def test_smtp_agent_end_to_end_through_smtpd_cleanup_and_qmgr() -> None:
    from simlab.mua import MUA
    net = Network(seed=1)
    mail = net.host("mail.example.com", ip="10.0.0.25")
    pc = net.host("pc.example.com", ip="10.0.0.10")
    init_root(mail.root, "mail.example.com")
    with open(mail.path("/etc/postfix/main.cf"), "a") as f:
        f.write("relay_domains = relay.example, deferred.example\nmynetworks = 10.0.0.0/24 127.0.0.0/8\n"
                "transport_maps = inline:{relay.example=smtp:[127.0.0.1]:2526, "
                "deferred.example=smtp:[127.0.0.1]:2599}\n")
    pf = PostfixSystem.for_host(mail)
    net.run_sync(pf.start())
    sink = smtp_sink(mail, "-h sink.example 127.0.0.1:2526 256")
    alice = MUA(net, pc, "alice@example.com", smtp=("10.0.0.25", 25))
    result = alice.send_sync(to=["x@relay.example", "y@deferred.example"], subject="hi", body="hello")
    assert result.ok
    net.run(until=net.now + 10)
    log = net.trace.maillog("mail.example.com")
    qid = result.queue_id
    assert any("postfix/smtp[" in line and f"{qid}: to=<x@relay.example>, relay=127.0.0.1[127.0.0.1]:2526"
               in line and "status=sent (250 2.0.0 Ok)" in line for line in log)
    assert any(f"{qid}: to=<y@deferred.example>, relay=none" in line and
               "status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)" in line
               for line in log)
    assert b"Received: from pc.example.com" in sink.messages[0].content
    net.run_sync(pf.stop())
    net.close()


def test_smtp_agent_sasl_login_to_a_relayhost(lab: Any) -> None:
    from aiosmtpd.handlers import Sink
    from aiosmtpd.smtp import SMTP as Server
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mail", b"s3cret")
        return AuthResult(success=ok, handled=False)

    main_cf = ("relayhost = [smarthost.example]:587\nsmtp_sasl_auth_enable = yes\n"
               "smtp_sasl_password_maps = inline:{[smarthost.example]:587=mail:s3cret}\n")
    L = lab(main_cf)
    smart = L.host("smarthost.example", "10.0.0.50")
    smart.listen(587, lambda: Server(Sink(), hostname="smarthost.example", loop=L.net.loop,
                                   authenticator=check, auth_require_tls=False), component="smtpd")
    qid, (st,) = L.deliver(SMTP, "", ["anyone@far.example"])
    assert (st.status, st.dsn) == ("deferred", "4.7.0")            # noplaintext is the default
    assert "warning: SASL authentication failure: No worthy mechs found" in L.log()
    assert st.reason == ("SASL authentication failed; cannot authenticate to server "
                         "smarthost.example[10.0.0.50]: no mechanism available")
    L2 = lab(main_cf + "smtp_sasl_security_options = noanonymous\n")
    smart2 = L2.host("smarthost.example", "10.0.0.50")
    smart2.listen(587, lambda: Server(Sink(), hostname="smarthost.example", loop=L2.net.loop,
                                    authenticator=check, auth_require_tls=False), component="smtpd")
    qid, (st,) = L2.deliver(SMTP, "", ["anyone@far.example"])
    assert st.status == "sent" and "relay=smarthost.example[10.0.0.50]:587" in L2.log()[-1]


def test_relay_service_logs_under_its_syslog_name(lab: Any) -> None:
    L = lab()
    smtp_sink(L.mail, "127.0.0.1:2526 256")
    relay = MasterService("relay", "unix", True, True, False, 0, None, "smtp",
                          overrides={"syslog_name": "postfix/$service_name"})
    L.deliver(relay, "[127.0.0.1]:2526", ["x@relay.example"])
    assert L.ctx.log.lines[-1].split()[4].startswith("postfix/relay/smtp[")


def test_lmtp_unix(tmp_path: Path) -> None:
    """Under simlab serve, lmtp:unix:private/NAME is a real UNIX-domain socket in the queue directory."""
    import asyncio

    from simlab.postfix.smtp_sink import SinkOptions, SmtpSink
    root = init_root(tmp_path / "r", "mail.example.com")
    ctx = PostfixSystem.for_root(root, fsync=False).ctx
    sock = root / "var/spool/postfix/private/l"
    sock.parent.mkdir(parents=True, exist_ok=True)
    store = QueueStore(ctx)
    qid = new_queue_id(ctx)
    store.write("active", QueueFile(qid, ctx.now(), "bob@example.com", [Recipient("y@l.example")], BODY))
    qf = store.read("active", qid)
    req = DeliveryRequest(qid=qid, queue="active", sender="bob@example.com", nexthop="unix:private/l",
                          recipients=tuple(qf.recipients), transport="lmtp", arrival=qf.arrival)

    async def go() -> list[Any]:
        sink = SmtpSink(SinkOptions(lmtp=True))
        server = await sink.serve(f"unix:{sock}")
        try:
            return await deliver(ctx, LMTP, req)
        finally:
            server.close()
            await server.wait_closed()

    (st,) = asyncio.run(go())
    assert (st.status, st.dsn) == ("sent", "2.2.0")
    assert "relay=mail.example.com[private/l]," in ctx.log.lines[-1]


@pytest.mark.parametrize("spec, lmtp, host, port, mx", [
    ("[127.0.0.1]:2526", False, "127.0.0.1", 2526, False),
    ("example.com", False, "example.com", 25, True),
    ("Example.COM.:2525", False, "example.com", 2525, True),
    ("[mail.example.com]", False, "mail.example.com", 25, False),
    ("inet:[127.0.0.1]:2524", True, "127.0.0.1", 24 * 0 + 2524, False),
    ("lmtp.example", True, "lmtp.example", 24, False),
    ("[ipv6:::1]:smtp", False, "::1", 25, False),
    ("10.0.0.2", False, "10.0.0.2", 25, False),
])
def test_parse_nexthop(spec: str, lmtp: bool, host: str, port: int, mx: bool) -> None:
    d = parse_nexthop(spec, lmtp)
    assert (d.host, d.port, d.mx) == (host, port, mx)


def test_parse_nexthop_unix_and_errors() -> None:
    assert parse_nexthop("unix:private/dovecot-lmtp", True).unix
    with pytest.raises(NextHopError):
        parse_nexthop("[127.0.0.1", False)
    with pytest.raises(NextHopError):
        parse_nexthop("[127.0.0.1]:nosuchservice", False)
