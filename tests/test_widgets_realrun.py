"""The views on a real run of simlab's own Postfix on the virtual network (console -> smtpd -> qmgr ...)."""

from __future__ import annotations

import pytest

from simlab.sim.network import Network
from simlab.viz import inside_postfix, message_route, message_steps, queue_series, sequence_figure, to_svg
from simlab.widgets import ConsoleModel, LogViewerModel, MainCfModel, ReplayModel

system = pytest.importorskip("simlab.postfix.system")


def run() -> tuple[Network, object, ConsoleModel]:
    net = Network(seed=3)
    mx = net.host("mail.example.com", ip="10.0.0.25")
    net.host("pc.example.com", ip="10.0.0.5")
    pf = system.PostfixSystem.for_host(mx)
    net.run_sync(pf.start())
    m = ConsoleModel(net, "pc.example.com")
    m.connect("10.0.0.25", 25)
    m.send("EHLO pc.example.com")
    m.send_raw("MAIL FROM:<root@mail.example.com>\nRCPT TO:<root@mail.example.com>\nDATA\n")
    m.send_raw("Subject: console\n\nhello\n.\n")
    m.send("QUIT")
    net.run(until=net.now + 60)
    return net, pf, m


def test_console_route_inside_postfix_and_logs_of_one_real_message() -> None:
    net, pf, m = run()
    accepted = [v for k, v in m.envelope_rows() if k == "message"]
    assert len(accepted) == 1 and "queued as" in accepted[0]
    qid = accepted[0].rsplit(" ", 1)[1]
    hops = message_route(net.trace, conn="c1")
    assert (hops[0].src, hops[0].dst, hops[0].port, hops[0].outcome, hops[0].qid) == \
        ("pc.example.com", "mail.example.com", 25, "queued", qid)
    nodes = [s.node for s in message_steps(net.trace, qid, "mail.example.com")]
    for node in ("smtpd", "cleanup", "incoming", "active", "qmgr"):
        assert node in nodes
    assert nodes.index("smtpd") < nodes.index("cleanup") < nodes.index("incoming") < nodes.index("active")
    fig = inside_postfix(net.trace, "mail.example.com", qid)
    assert fig._suptitle.get_text().startswith(f"Inside Postfix on mail.example.com: the path of {qid}")
    assert to_svg(fig) == to_svg(inside_postfix(net.trace, "mail.example.com", qid))
    # the message passed through incoming and active within one virtual instant: the series
    # lists both queues but, counting at the end of each instant, never shows it waiting there
    series = queue_series(net.trace, "mail.example.com")
    assert {"incoming", "active"} <= set(series) and max(n for _, n in series["incoming"]) == 0
    assert sequence_figure(net.trace, "c1")._suptitle.get_text().startswith("SMTP dialog on connection c1")
    viewer = LogViewerModel(net.trace, mailq=lambda: pf.command("mailq").stdout)
    assert any(f"{qid}: client=pc.example.com[10.0.0.5]" in ln for ln in viewer.lines(qid=qid))
    assert viewer.mailq()
    replay = ReplayModel(net.trace, host="mail.example.com")
    replay.last()
    assert replay.inside_png().startswith(b"\x89PNG")


def test_maincf_editor_on_the_running_instance() -> None:
    net, pf, _ = run()
    m = MainCfModel.for_system(pf, net.run_sync, addresses=["root@mail.example.com", "someone@elsewhere.example"])
    assert "myhostname" in m.text or m.text
    run_ = m.check()
    assert run_ is not None and run_.rc == 0 and "config_directory" in run_.stdout
    assert m.apply(m.text + "relay_domains = elsewhere.example\n"), m.error
    classes = [r.cls for r in m.rows]
    assert classes == ["local", "relay"], m.rows
