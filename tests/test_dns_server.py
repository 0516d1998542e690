"""The DNS server node and the resolver that asks it over the virtual network, with TTL caching."""

from __future__ import annotations

from typing import Any

import pytest

from simlab.dns.resolver import Resolver
from simlab.dns.server import DnsServer, dns_server
from simlab.dns.wire import ReplyReader, dns_error, parse_query, parse_record, query_line, record_line, \
    reply_lines
from simlab.dns.zone import NoData, NXDomain, Record, ServFail
from simlab.mua import MUA
from simlab.sim.faults import faults
from simlab.sim.network import Network


@pytest.fixture
def net() -> Any:
    net = Network(seed=4)
    net.host("ns.example.net", ip="10.0.0.53")
    net.host("mail.example.com", ip="10.0.0.25")
    net.host("mail.oreilly.com", ip="10.0.0.26")
    net.dns.mx("oreilly.com", "mail.oreilly.com", pref=10, ttl=600)
    net.dns.cname("www.oreilly.com", "mail.oreilly.com", ttl=300)
    yield net
    net.close()


def test_dns_wire_round_trip() -> None:
    assert query_line(7, "Oreilly.COM.", "mx") == b"QUERY 7 oreilly.com. IN MX\r\n"
    assert parse_query("QUERY 7 oreilly.com. IN MX") == (7, "oreilly.com", "MX")
    recs = [Record("oreilly.com", "MX", "mail.oreilly.com", pref=10, ttl=600),
            Record("www.oreilly.com", "CNAME", "mail.oreilly.com", ttl=300),
            Record("oreilly.com", "TXT", "v=spf1 mx -all", ttl=60),
            Record("mail.oreilly.com", "A", "10.0.0.26")]
    assert record_line(recs[0]) == "oreilly.com. 600 IN MX 10 mail.oreilly.com."
    assert [parse_record(record_line(r)) for r in recs] == recs
    data = reply_lines(7, "NOERROR", recs) + reply_lines(8, "NXDOMAIN", [])
    reader = ReplyReader()
    got = reader.feed(data[:10]) + reader.feed(data[10:])
    assert [(r.qid, r.rcode, list(r.records)) for r in got] == [(7, "NOERROR", recs), (8, "NXDOMAIN", [])]
    assert isinstance(dns_error("NXDOMAIN", "x.example", "MX"), NXDomain)
    assert str(dns_error("NOERROR", "x.example", "A")).endswith("type=A: No address associated with hostname")
    assert dns_error("SERVFAIL", "x.example", "A").transient


def test_dns_server_answers_over_a_connection_in_the_trace(net: Any) -> None:
    dns = dns_server(net["ns.example.net"])
    assert net.dns.server is dns and "DNS" in net["ns.example.net"].roles
    r = Resolver(net, net["mail.example.com"])
    assert net.run_sync(r.mx_hosts("oreilly.com", "smtp")) == [(10, "mail.oreilly.com")]
    conns = [e for e in net.trace.events("connect") if e.details["port"] == 53]
    assert len(conns) == 1 and conns[0].details["server"] == "ns.example.net"
    assert net.trace.transcript(conns[0].details["conn"]).splitlines() == [
        "C: QUERY 1 oreilly.com. IN MX",
        "S: REPLY 1 NOERROR ANCOUNT=1",
        "S: oreilly.com. 600 IN MX 10 mail.oreilly.com.",
    ]
    (ev,) = net.trace.events("dns", host="mail.example.com")
    assert ev.component == "smtp" and ev.details["server"] == "10.0.0.53"
    assert ev.details["answer"] == ["oreilly.com. 600 IN MX 10 mail.oreilly.com."]
    assert ev.time == pytest.approx(0.004)          # connect round trip + question and answer
    assert net.run_sync(r.addresses("www.oreilly.com")) == ["10.0.0.26"]


def test_dns_server_nxdomain_nodata_servfail(net: Any) -> None:
    dns_server(net["ns.example.net"])
    r = Resolver(net, net["mail.example.com"])
    with pytest.raises(NXDomain, match="name=nosuch.example type=MX: Host not found"):
        net.run_sync(r.query("nosuch.example", "MX"))
    with pytest.raises(NoData):
        net.run_sync(r.query("mail.oreilly.com", "MX"))
    # a name with an address but no MX is its own implicit MX (RFC 5321 5.1)
    assert net.run_sync(r.mx_hosts("mail.oreilly.com")) == [(0, "mail.oreilly.com")]
    net.dns.mx("broken.example", "mail.oreilly.com")
    net.dns.break_zone("broken.example")
    with pytest.raises(ServFail):
        net.run_sync(r.query("broken.example", "MX"))
    rcodes = [(e.details["query"], e.details["rcode"]) for e in net.trace.events("dns")]
    assert ("nosuch.example", "NXDOMAIN") in rcodes and ("broken.example", "SERVFAIL") in rcodes


def test_resolver_caches_answers_for_their_ttl_in_virtual_time(net: Any) -> None:
    dns = dns_server(net["ns.example.net"])
    r = Resolver(net, net["mail.example.com"])
    net.run_sync(r.mx_hosts("oreilly.com"))
    net.dns.remove("oreilly.com", "MX")
    net.dns.mx("oreilly.com", "mx2.oreilly.com", pref=20, ttl=600)
    net.run(until=599)
    assert net.run_sync(r.mx_hosts("oreilly.com")) == [(10, "mail.oreilly.com")]   # still cached
    hit = net.trace.events("dns")[-1]
    assert hit.details["cache"] == "hit" and hit.details["ttl"] == 0 + 1 and "server" not in hit.details
    assert len(dns.queries) == 1
    net.run(until=601)
    assert net.run_sync(r.mx_hosts("oreilly.com")) == [(20, "mx2.oreilly.com")]    # expired: asked again
    assert len(dns.queries) == 2
    # another host has its own cache
    r2 = Resolver(net, net["mail.oreilly.com"])
    net.run_sync(r2.mx_hosts("oreilly.com"))
    assert len(dns.queries) == 3


def test_resolver_negative_answers_are_cached_and_servfail_is_not(net: Any) -> None:
    dns = dns_server(net["ns.example.net"])
    r = Resolver(net, net["mail.example.com"], negative_ttl=60)
    for _ in range(2):
        with pytest.raises(NXDomain):
            net.run_sync(r.query("new.example", "MX"))
    assert len(dns.queries) == 1
    net.dns.mx("new.example", "mail.oreilly.com")
    net.run(until=net.now + 61)
    assert net.run_sync(r.mx_hosts("new.example")) == [(10, "mail.oreilly.com")]
    net.dns.break_zone("oreilly.com")
    for _ in range(2):
        with pytest.raises(ServFail):
            net.run_sync(r.query("www.oreilly.com", "A"))
    assert [q[3] for q in dns.queries[-2:]] == ["SERVFAIL", "SERVFAIL"]


def test_resolver_times_out_when_the_dns_host_is_down(net: Any) -> None:
    dns = dns_server(net["ns.example.net"])
    fault = faults(net).dns_failure()            # the DNS server's host goes down
    r = Resolver(net, net["mail.example.com"])
    start = net.now
    with pytest.raises(ServFail) as exc:
        net.run_sync(r.query("oreilly.com", "MX"))
    assert exc.value.transient
    assert net.now - start == pytest.approx(10.0)   # timeout:5 attempts:2
    ev = net.trace.events("dns")[-1]
    assert ev.details["rcode"] == "SERVFAIL" and ev.details["timeout"] is True
    assert r.reverse("10.0.0.26") is None          # the instant lookups fail too
    fault.undo()
    assert r.reverse("10.0.0.26") == "mail.oreilly.com"
    assert dns.queries[-1][1:] == ("26.0.0.10.in-addr.arpa", "PTR", "NOERROR")


def test_resolver_without_a_server_reads_the_zones_as_before(net: Any) -> None:
    r = Resolver(net, net["mail.example.com"])
    assert net.run_sync(r.mx_hosts("oreilly.com")) == [(10, "mail.oreilly.com")]
    assert net.now == pytest.approx(0.002)
    assert not [e for e in net.trace.events("connect") if e.details["port"] == 53]
    assert "server" not in net.trace.events("dns")[-1].details
    dns = DnsServer(net["ns.example.net"]).start(default=False)
    assert net.dns.server is None
    own = Resolver(net, net["mail.example.com"], server=dns)
    assert net.run_sync(own.addresses("mail.oreilly.com")) == ["10.0.0.26"]
    assert len(dns.queries) == 1
    dns.start()
    dns.stop()
    assert net.dns.server is None and not net["ns.example.net"].listening()


def test_backup_mx_over_the_dns_server_and_mail_across_two_mtas() -> None:
    net = Network(seed=3)
    ns = net.host("ns.example.net", ip="10.0.0.53")
    mail = net.host("mail.example.com", ip="10.0.0.25", users=["alice"])
    primary = net.host("mail.oreilly.com", ip="10.0.0.26", users=["bob"])
    backup = net.host("backup.oreilly.com", ip="10.0.0.27", users=["bob"])
    pc = net.host("pc.example.com", ip="10.0.0.10")
    net.dns.mx("oreilly.com", "mail.oreilly.com", pref=10)
    net.dns.mx("oreilly.com", "backup.oreilly.com", pref=20)
    with open(mail.path("/etc/postfix/main.cf"), "a") as f:
        f.write("mynetworks = 10.0.0.0/24 127.0.0.0/8\n")
    with open(backup.path("/etc/postfix/main.cf"), "a") as f:
        f.write("mydestination = $myhostname, localhost, oreilly.com\n")
    for h in (mail, primary, backup):
        h.start_postfix()
    dns_server(ns)
    faults(net).host_down(primary)
    alice = MUA(net, pc, "alice@example.com", smtp=("10.0.0.25", 25))
    assert alice.send_sync(to=["bob@oreilly.com"], subject="via backup", body="hi\n").ok
    net.run(until=net.now + 120)
    log = net.trace.maillog("mail.example.com")
    assert any("connect to mail.oreilly.com[10.0.0.26]:25: Connection timed out" in ln for ln in log)
    assert any("to=<bob@oreilly.com>, relay=backup.oreilly.com[10.0.0.27]:25" in ln and "status=sent" in ln
               for ln in log)
    assert [m["Subject"] for m in backup.mailbox("bob")] == ["via backup"]
    queried = {(e.details["query"], e.details["qtype"])
               for e in net.trace.events("dns", host="mail.example.com")}
    assert {("oreilly.com", "MX"), ("mail.oreilly.com", "A"), ("backup.oreilly.com", "A")} <= queried
    net.close()
