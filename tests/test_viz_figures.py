"""The figures: structure (title, labels, legend, arrows, texts) and byte-identical output for one trace."""

from __future__ import annotations

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Annotation

from simlab.sim.network import Network
from simlab.viz import (Mermaid, address_class_figure, address_table, address_table_html, host_roles,
                        inside_postfix, message_route, message_steps, queue_figure, queue_series, route_figure,
                        save, sequence_figure, to_mermaid, to_png, to_svg, topology_figure)
from simlab.viz.sequence import sequence_turns
from test_viz_traces import IPS, deferral, journey, submission, Script


def legend_texts(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends + [a.get_legend() for a in fig.axes if a.get_legend()]
            for t in lg.get_texts()]


def arrows(fig) -> list[Annotation]:
    return [a for a in fig.axes[0].texts if isinstance(a, Annotation) and a.arrow_patch is not None]


def by_gid(fig, prefix: str) -> list:
    return [a for a in fig.findobj() if (a.get_gid() or "").startswith(prefix)]


def smtp_run(seed: int = 1) -> Network:
    net = Network(seed=seed)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    pc = net.host("pc.example.com", ip="10.0.0.5")
    mx.listen(25, lambda: SMTP(Sink(), hostname="mail.example.com", loop=net.loop), component="smtpd")

    async def client() -> None:
        r, w = await pc.open_connection("10.0.0.25", 25, component="mua")

        async def reply() -> None:
            while (await r.readline())[3:4] == b"-":
                pass

        await reply()
        w.write(b"EHLO pc.example.com\r\n")
        await reply()
        w.write(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n")
        for _ in range(3):
            await reply()
        w.write(b"Subject: hi\r\n\r\nbody\r\n.\r\n")
        await reply()
        w.write(b"QUIT\r\n")
        await reply()
        w.close()

    net.run_sync(client())
    net.run()
    return net


# -- sequence -------------------------------------------------------------------------------
def test_sequence_figure_from_a_real_virtual_smtp_session() -> None:
    net = smtp_run()
    info, ts = sequence_turns(net.trace, "c1")
    fig = sequence_figure(net.trace, "c1")
    assert fig._suptitle.get_text() == "SMTP dialog on connection c1: pc.example.com → mail.example.com port 25"
    assert len(arrows(fig)) == len(ts) == 13          # greeting, EHLO, 3 pipelined + 3 replies, content, ...
    texts = [t.get_text() for t in by_gid(fig, "text-")]
    assert texts[1] == "EHLO pc.example.com" and texts[2].startswith("250-mail.example.com\n250-SIZE")
    assert texts[3:6] == ["MAIL FROM:<a@example.com>", "RCPT TO:<b@example.com>", "DATA"]
    assert texts[9].startswith("[message content: 3 lines]\nSubject: hi")
    times = [t.get_text() for t in by_gid(fig, "time-")]
    assert times[3] == times[4] == times[5]            # pipelined: they left together
    assert "pc.example.com" in by_gid(fig, "lane-label-C")[0].get_text()
    assert fig.axes[0].get_ylabel().startswith("virtual time")
    legend = legend_texts(fig)
    assert "client command" in legend and "message content (after 354)" in legend
    assert "reply: success (2xx, +OK, OK)" in legend and "reply: go on (3xx, + continuation)" in legend


def test_sequence_until_shows_a_prefix_and_pop3_multiline() -> None:
    s = journey()
    fig = sequence_figure(s.trace, "c3")
    assert fig._suptitle.get_text().startswith("POP3 dialog on connection c3")
    texts = [t.get_text() for t in by_gid(fig, "text-")]
    assert texts[6] == "+OK 1 messages:\n1 600\n." and texts[8].startswith("+OK 600 octets\nSubject: Hi")
    first_send = next(i for i, ev in enumerate(s.trace) if ev.details.get("conn") == "c3" and ev.kind == "send")
    part = sequence_figure(s.trace, "c3", until=first_send + 2)
    assert len(arrows(part)) == 3


def test_sequence_limits_long_dialogs() -> None:
    s = Script()
    cid = s.dialog("pc.example.com", "mail.example.com", 25,
                   [("S", "220 hi")] + [x for i in range(50) for x in (("C", f"NOOP {i}"), ("S", "250 2.0.0 Ok"))])
    fig = sequence_figure(s.trace, cid, max_turns=20)
    assert len(arrows(fig)) == 20
    assert any("81 more commands and replies" in t.get_text() for t in fig.axes[0].texts)


def test_mermaid_text_escapes_and_renders_as_mermaid() -> None:
    net = smtp_run()
    text = to_mermaid(net.trace, "c1")
    lines = text.splitlines()
    assert lines[0] == "sequenceDiagram"
    assert lines[1] == "    participant C as pc.example.com (client, mua)"
    assert sum(ln.lstrip().startswith("C->>S:") for ln in lines) == 6
    assert sum(ln.lstrip().startswith("S-->>C:") for ln in lines) == 7
    assert "MAIL FROM:#60;a@example.com#62;" in text and "<a@" not in text
    assert "250-mail.example.com<br/>250-SIZE" in text
    bundle = Mermaid(text)._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == text


def test_unknown_connection_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no connection 'c9'"):
        sequence_figure(journey().trace, "c9")


# -- determinism and export ---------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda t: sequence_figure(t, "c1"),
    lambda t: inside_postfix(t, "mail.example.com", "AAA1110001"),
    lambda t: route_figure(t, conn="c1"),
    lambda t: queue_figure(t),
])
def test_same_trace_gives_identical_svg(make) -> None:
    a, b = to_svg(make(journey().trace)), to_svg(make(journey().trace))
    assert a == b and a.startswith(b"<?xml")
    assert b"<dc:date>" not in a


def test_same_virtual_run_gives_identical_svg_and_png() -> None:
    one, two = sequence_figure(smtp_run().trace, "c1"), sequence_figure(smtp_run().trace, "c1")
    assert to_svg(one) == to_svg(two)
    assert to_png(one) == to_png(two)


def test_save_by_suffix(tmp_path) -> None:
    fig = queue_figure(deferral().trace)
    for suffix, magic in ((".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")):
        p = save(fig, tmp_path / f"q{suffix}")
        assert p.read_bytes().startswith(magic)
    with pytest.raises(ValueError, match="use .svg, .png or .pdf"):
        save(fig, tmp_path / "q.gif")
    assert fig._repr_png_().startswith(b"\x89PNG")


# -- inside postfix ----------------------------------------------------------------------------
def test_inside_postfix_highlights_the_path_and_counts_queues() -> None:
    s = deferral()
    fig = inside_postfix(s.trace, "mail.example.com", "D0D0D0D001")
    title = fig._suptitle.get_text()
    assert title.startswith("Inside Postfix on mail.example.com: the path of D0D0D0D001")
    labels = {a.get_gid()[6:]: a.get_text() for a in by_gid(fig, "label-")}
    for name in ("master", "smtpd", "cleanup", "qmgr", "trivial-rewrite", "pickup", "sendmail", "bounce",
                 "local", "virtual", "smtp", "lmtp", "pipe", "error", "maildrop", "incoming", "active",
                 "deferred", "hold", "corrupt"):
        assert name in labels
    assert labels["hold"] == "hold\n1 message" and labels["deferred"] == "deferred\n0 messages"
    assert labels["qmgr"] == "qmgr\n1 running"
    lit = {p.get_gid()[5:] for p in by_gid(fig, "node-") if p.get_linewidth() == 3}
    assert {"smtpd", "cleanup", "incoming", "active", "deferred", "smtp", "dest-smtp", "network"} <= lit
    assert "local" not in lit and "hold" not in lit
    path = [p for p in by_gid(fig, "path-") if isinstance(p, FancyArrowPatch)]
    assert len(path) == 8  # network>smtpd>cleanup>incoming>active>smtp>deferred, deferred>active, smtp>dest
    steps = by_gid(fig, "steps")[0].get_text().splitlines()
    assert steps[0].split() == ["#", "time", "program", "what", "happened"]
    assert "+900.014 s" in steps[-1] or "removed" in steps[-1]
    assert "path of D0D0D0D001 (numbers: step order)" in legend_texts(fig)


def test_inside_postfix_without_a_message_and_at_an_earlier_moment() -> None:
    s = deferral()
    fig = inside_postfix(s.trace, "mail.example.com")
    assert fig._suptitle.get_text() == "Inside Postfix on mail.example.com: daemons, queues and delivery agents"
    assert not by_gid(fig, "path-") and not by_gid(fig, "steps")
    first_def = next(i for i, ev in enumerate(s.trace) if ev.kind == "queue" and ev.details["dst"] == "deferred")
    early = inside_postfix(s.trace, "mail.example.com", "D0D0D0D001", until=first_def)
    labels = {a.get_gid()[6:]: a.get_text() for a in by_gid(early, "label-")}
    assert labels["deferred"] == "deferred\n1 message"
    assert len(message_steps(s.trace, "D0D0D0D001", until=first_def)) == 7


# -- route -------------------------------------------------------------------------------------
def test_route_follows_queue_ids_across_hosts_to_the_reader() -> None:
    s = journey()
    hops = message_route(s.trace, conn="c1")
    assert [(h.src, h.dst, h.protocol, h.port, h.outcome) for h in hops] == [
        ("pc.example.com", "mail.example.com", "SMTP submission", 587, "queued"),
        ("mail.example.com", "mail.oreilly.com", "SMTP", 25, "queued"),
        ("mail.oreilly.com", "bob@oreilly.com's mailbox", "local(8) delivery", None, "sent"),
        ("mail.oreilly.com", "bobpc.oreilly.com", "POP3", 110, "read")]
    assert hops[0].sender == "alice@example.com" and hops[0].recipients == ["bob@oreilly.com"]
    assert hops[0].qid == "AAA1110001" and hops[3].detail == "RETR 1"
    assert message_route(s.trace, "BBB2220002", host="mail.oreilly.com") == hops
    fig = route_figure(s.trace, conn="c1")
    assert fig._suptitle.get_text() == "Route of a message: <alice@example.com> → bob@oreilly.com"
    assert len(arrows(fig)) == 4
    protos = [t.get_text() for t in by_gid(fig, "proto-")]
    assert protos == ["1. SMTP submission port 587", "2. SMTP port 25", "3. local(8) delivery", "4. POP3 port 110"]
    assert legend_texts(fig) == ["accepted and queued", "delivered", "read by the recipient's client"]   # in order of appearance


def test_route_shows_retries_and_the_bounce() -> None:
    s = deferral()
    hops = message_route(s.trace, "D0D0D0D001")
    assert [(h.dst, h.outcome, h.note) for h in hops] == [("mx.deferred.example", "deferred", ""),
                                                          ("mx.deferred.example", "deferred", "retry"),
                                                          ("mx.deferred.example", "sent", "retry")]
    hops = message_route(s.trace, "B0B0B0B002")
    assert [(h.outcome, h.note) for h in hops] == [("bounced", ""), ("sent", "non-delivery notification")]
    assert hops[1].dst == "alice@example.com's mailbox" and hops[1].sender == ""
    fig = route_figure(s.trace, "B0B0B0B002")
    assert "bounced (returned to sender)" in legend_texts(fig)
    empty = route_figure(s.trace, "NOSUCH0000")
    assert any("says nothing" in t.get_text() for t in empty.axes[0].texts)


# -- queues ------------------------------------------------------------------------------------
def test_queue_figure_curves_and_retries() -> None:
    s = deferral()
    series = queue_series(s.trace, "mail.example.com")
    assert max(n for _, n in series["deferred"]) == 1 and series["hold"][-1][1] == 1
    fig = queue_figure(s.trace, "mail.example.com")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "virtual time (minutes)" and ax.get_ylabel() == "messages in the queue"
    assert fig._suptitle.get_text() == "Postfix queues over time — mail.example.com"
    assert legend_texts(fig) == ["incoming queue", "active queue", "deferred queue", "hold queue",
                                 "retry: deferred → active"]
    retries = by_gid(fig, "retries")[0]
    assert len(retries.get_xdata()) == 2
    short = queue_figure(journey().trace)
    assert short.axes[0].get_xlabel() == "virtual time (seconds)"


# -- address classes ---------------------------------------------------------------------------
RECORDS = [
    {"address": "alice@example.com", "cls": "local", "transport": "local", "nexthop": "mail.example.com",
     "why": "mydestination contains example.com"},
    {"address": "carol@vmail.example", "cls": "virtual_mailbox", "transport": "virtual", "nexthop": "vmail.example",
     "why": "virtual_mailbox_domains contains vmail.example"},
    {"address": "bob@oreilly.com", "cls": "default", "transport": "error", "nexthop": "no outbound in this lab",
     "why": "default_transport = error:no outbound in this lab"},
]


def test_address_classes_table_and_figure() -> None:
    text = address_table(RECORDS).splitlines()
    assert text[0].split() == ["address", "address", "class", "transport", "next", "hop", "decided", "by"]
    assert text[2].split()[:4] == ["alice@example.com", "local", "local", "mail.example.com"]
    assert len(text) == 5
    html = address_table_html(RECORDS)
    assert html.count("<tr") == 4 and "virtual_mailbox_domains contains vmail.example" in html

    class Res:  # attribute records, like trivial_rewrite.Resolution
        address, cls, transport, nexthop, why = "x@relay.example", "relay", "smtp", "[127.0.0.1]:2526", "relay_domains"

    fig = address_class_figure(RECORDS + [Res()])
    assert fig._suptitle.get_text() == "Address classes: what trivial-rewrite decided for each recipient"
    table = fig.axes[0].tables[0]
    cells = table.get_celld()
    assert cells[(0, 1)].get_text().get_text() == "address class"
    assert cells[(4, 0)].get_text().get_text() == "x@relay.example"
    assert len([k for k in cells if k[1] == 0]) == 5
    legend = legend_texts(fig)
    assert len(legend) == 4 and legend[0].startswith("local:") and any(t.startswith("relay:") for t in legend)


# -- topology ----------------------------------------------------------------------------------
def lab_network() -> Network:
    net = Network(seed=1)
    for name in ("pc.example.com", "mail.example.com", "mail.oreilly.com", "bobpc.oreilly.com"):
        net.host(name, ip=IPS[name])
    net.host("backup.isp.net", ip="10.0.0.40")
    net["mail.example.com"].listen(25, lambda: SMTP(Sink(), loop=net.loop), component="smtpd")
    net["mail.oreilly.com"].roles += ["mta", "store"]
    net["backup.isp.net"].roles.append("mta")
    net.dns.mx("example.com", "mail.example.com", 10)
    net.dns.mx("oreilly.com", "mail.oreilly.com", 10)
    net.dns.mx("oreilly.com", "backup.isp.net", 20)
    net.link_down("mail.example.com", "backup.isp.net")
    net.trace.record(0.0, "pc.example.com", "mua", "connect", conn="c0", client="pc.example.com",
                     server="mail.example.com", port=25)
    return net


def test_topology_roles_domains_mx_and_path() -> None:
    net = lab_network()
    roles = host_roles(net)
    assert roles["mail.example.com"] == ["MTA"] and roles["mail.oreilly.com"] == ["MTA", "store"]
    assert roles["pc.example.com"] == ["MUA"] and roles["bobpc.oreilly.com"] == ["host"]
    fig = topology_figure(net, path=message_route(journey().trace, conn="c1"))
    assert fig._suptitle.get_text() == "Network: 5 hosts in 3 domains"
    assert {p.get_gid() for p in by_gid(fig, "domain-")} == {"domain-example.com", "domain-oreilly.com",
                                                             "domain-isp.net"}
    assert len(by_gid(fig, "host-")) == 5
    mx = sorted(p.get_gid() for p in by_gid(fig, "mx-"))
    assert mx == ["mx-example.com-mail.example.com", "mx-oreilly.com-backup.isp.net",
                  "mx-oreilly.com-mail.oreilly.com"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "MX 20" in texts and texts.count("MX 10") == 2
    assert len(by_gid(fig, "path-")) == 3 and by_gid(fig, "linkdown-")
    legend = legend_texts(fig)
    assert legend[:4] == ["MTA: sends and receives mail (smtpd)", "store: keeps mailboxes (POP3/IMAP/LMTP)",
                          "MUA: a mail client", "other host"]
    assert "MX record (preference)" in legend and "the message's path (numbered)" in legend
    assert "down (host or link)" in legend
    assert to_svg(topology_figure(lab_network())) == to_svg(topology_figure(lab_network()))


def test_topology_draws_an_mx_that_points_off_the_network() -> None:
    net = Network(seed=1)
    net.host("mail.example.com", ip="10.0.0.25").roles.append("mta")
    net.dns.mx("gone.example", "mx.gone.example", 5)
    fig = topology_figure(net)
    assert by_gid(fig, "host-mx.gone.example")
    assert any("not on this network" in t.get_text() for t in fig.axes[0].texts)


def test_pipelined_submission_is_drawn_in_time_order() -> None:
    s = Script()
    cid = submission(s, "Q9", rcpts=("a@x.example", "b@x.example"), pipelined=True)
    texts = [t.get_text().split("\n")[0] for t in by_gid(sequence_figure(s.trace, cid), "text-")]
    assert texts[3:10] == ["MAIL FROM:<alice@example.com>", "RCPT TO:<a@x.example>", "RCPT TO:<b@x.example>",
                           "DATA", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"]
