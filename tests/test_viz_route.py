"""The route figure: local(8) forwarding followed to the next hops, texts that fit, one colour per outcome."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_hex
from matplotlib.text import Annotation

from simlab.viz import message_route, route_figure, to_png
from simlab.viz.route import OUTCOMES
from test_viz_traces import Script, submission

A, B = "mail.example.com", "mail.oreilly.com"


def _smtp(s: Script, qid: str, rcpt: str, remote_qid: str) -> None:
    s.dialog(A, B, 25, [("S", f"220 {B} ESMTP Postfix"), ("C", f"EHLO {A}"), ("S", f"250-{B}\n250 PIPELINING"),
                        ("C", "MAIL FROM:<bob@example.com>"), ("S", "250 2.1.0 Ok"),
                        ("C", f"RCPT TO:<{rcpt}>"), ("S", "250 2.1.5 Ok"), ("C", "DATA"),
                        ("S", "354 End data with <CR><LF>.<CR><LF>"), ("C", "Subject: Minutes\n\nAttached.\n."),
                        ("S", f"250 2.0.0 Ok: queued as {remote_qid}"), ("C", "QUIT"), ("S", "221 2.0.0 Bye")],
             client_component="smtp")
    s.log(A, "smtp", 30277, f"{qid}: to=<{rcpt}>, orig_to=<team@example.com>, relay={B}[10.0.0.26]:25, delay=0.02, "
          f"delays=0/0/0.01/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {remote_qid})")


def list_alias() -> Script:
    """team@example.com = alice, erin@oreilly.com, carol; carol's .forward sends to dave@oreilly.com."""
    s = Script()
    submission(s, "A000000001", server=A, rcpts=("team@example.com",))
    s.log(A, "qmgr", 30206, "A000000001: from=<bob@example.com>, size=440, nrcpt=1 (queue active)")
    s.log(A, "local", 30210, "A000000001: to=<alice@example.com>, orig_to=<team@example.com>, relay=local, "
          "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)")
    s.log(A, "cleanup", 30205, "F000000002: message-id=<1@pc.example.com>")
    s.log(A, "local", 30210, "A000000001: to=<carol@example.com>, orig_to=<team@example.com>, relay=local, "
          "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (forwarded as F000000003)")
    s.log(A, "local", 30210, "A000000001: to=<team@example.com>, relay=local, delay=0, delays=0/0/0/0, "
          "dsn=2.0.0, status=sent (forwarded as F000000002)")
    s.log(A, "qmgr", 30206, "F000000002: from=<bob@example.com>, size=569, nrcpt=1 (queue active)")
    s.log(A, "qmgr", 30206, "F000000003: from=<bob@example.com>, size=590, nrcpt=1 (queue active)")
    s.log(A, "qmgr", 30206, "A000000001: removed")
    _smtp(s, "F000000002", "erin@oreilly.com", "B000000004")
    _smtp(s, "F000000003", "dave@oreilly.com", "B000000005")
    for qid, user in (("B000000004", "erin"), ("B000000005", "dave")):
        s.log(B, "qmgr", 31001, f"{qid}: from=<bob@example.com>, size=700, nrcpt=1 (queue active)")
        s.log(B, "local", 31002, f"{qid}: to=<{user}@oreilly.com>, relay=local, delay=0.01, delays=0/0/0/0.01, "
              "dsn=2.0.0, status=sent (delivered to mailbox)")
    return s


def test_route_follows_local_forwarding_to_the_next_hops() -> None:
    s = list_alias()
    hops = message_route(s.trace, "A000000001", host=A)
    assert [(h.src, h.dst, h.protocol, h.outcome, h.recipients) for h in hops] == [
        ("pc.example.com", A, "SMTP submission", "queued", ["team@example.com"]),
        (A, "alice@example.com's mailbox", "local(8) delivery", "sent", ["alice@example.com"]),
        (A, A, "local(8) forwarding", "forwarded", ["carol@example.com"]),
        (A, B, "SMTP", "queued", ["dave@oreilly.com"]),
        (B, "dave@oreilly.com's mailbox", "local(8) delivery", "sent", ["dave@oreilly.com"]),
        (A, A, "local(8) forwarding", "forwarded", ["team@example.com"]),
        (A, B, "SMTP", "queued", ["erin@oreilly.com"]),
        (B, "erin@oreilly.com's mailbox", "local(8) delivery", "sent", ["erin@oreilly.com"])]
    fwd = hops[5]
    assert fwd.qid == "F000000002" and fwd.detail == "forwarded as F000000002" and fwd.sender == "bob@example.com"
    assert hops[6].qid == "B000000004"


def test_route_from_a_forwarded_copy_goes_back_to_the_submission() -> None:
    hops = message_route(list_alias().trace, "B000000004", host=B)
    assert [(h.protocol, h.outcome, h.qid) for h in hops] == [
        ("SMTP submission", "queued", "A000000001"), ("local(8) forwarding", "forwarded", "F000000002"),
        ("SMTP", "queued", "B000000004"), ("local(8) delivery", "sent", "B000000004")]
    assert message_route(list_alias().trace, "F000000002", host=A) == hops


def test_forward_file_in_the_simulation() -> None:
    from simlab.scenarios import internet
    world = internet(seed=1)
    try:
        world.mail_example.path("/home/bob/.forward").write_text("erin@oreilly.com\n")
        sent = world.alice.send_sync(to="bob@example.com", subject="Are you back?", body="Monday?")
        world.run()
        hops = message_route(world.trace, sent.queue_id, host=A)
        assert [(h.src, h.dst, h.outcome) for h in hops] == [
            ("alice-pc.example.com", A, "queued"), (A, A, "forwarded"), (A, B, "queued"),
            (B, "store.oreilly.com", "sent")]
        assert hops[1].recipients == ["bob@example.com"] and hops[2].recipients == ["erin@oreilly.com"]
        assert hops[1].qid and hops[1].detail == f"forwarded as {hops[1].qid}" and hops[1].qid != sent.queue_id
    finally:
        world.close()


def long_texts() -> Script:
    """A message to twelve recipients, one with a very long address, bounced with a very long reason."""
    s = Script()
    long_addr = "a.very.long.local.part.that.keeps.going.and.going@" + "sub." * 12 + "example.org"
    rcpts = (long_addr, *[f"user{i}@oreilly.com" for i in range(11)])
    submission(s, "DEAD000001", server=A, rcpts=rcpts)
    s.log(A, "qmgr", 30206, "DEAD000001: from=<alice@example.com>, size=410, nrcpt=12 (queue active)")
    reason = ("host mail.oreilly.com[10.0.0.26] said: 550 5.1.1 <x@oreilly.com>: Recipient address rejected: "
              "User unknown in local recipient table " * 4 + "(in reply to RCPT TO command)")
    s.log(A, "smtp", 30276, f"DEAD000001: to=<{long_addr}>, relay=none, delay=0, dsn=5.1.1, status=bounced ({reason})")
    return s


def test_long_texts_stay_inside_the_figure_and_rows_do_not_overlap() -> None:
    s = long_texts()
    fig = route_figure(s.trace, "DEAD000001", host=A, title="A very long title " * 12)
    fig.canvas.draw()                 # places the legend
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent"))
             if not isinstance(t, Annotation) and t.get_visible() and t.get_text()]
    assert texts
    for t in texts:
        box = t.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, t.get_text()
    env = [t.get_window_extent(renderer) for t in fig.axes[0].texts if (t.get_gid() or "").startswith("envelope-")]
    assert len(env) == 2 and env[0].y0 > env[1].y1                  # each hop's column ends above the next one
    first = fig.axes[0].texts[[t.get_gid() for t in fig.axes[0].texts].index("envelope-1")].get_text()
    assert "… and 6 more RCPT TO" in first and "sub.sub.sub" in first   # wrapped, not cut at the edge
    bounce = fig.axes[0].texts[[t.get_gid() for t in fig.axes[0].texts].index("envelope-2")].get_text()
    assert bounce.endswith(" …") and "→ bounced: host mail.oreilly.com" in bounce
    to_png(fig)


def test_every_outcome_has_its_own_colour() -> None:
    assert len({to_hex(c) for c, _ in OUTCOMES.values()}) == len(OUTCOMES)
    assert len({label for _, label in OUTCOMES.values()}) == len(OUTCOMES)
    from test_viz_traces import journey
    fig = route_figure(journey().trace, conn="c1")
    (legend,) = fig.legends
    colours = {t.get_text(): to_hex(h.get_color()) for t, h in zip(legend.get_texts(), legend.legend_handles)}
    assert colours["delivered"] != colours["read by the recipient's client"]
    assert len(set(colours.values())) == len(colours) == 3
    arrows = [a for a in fig.axes[0].texts if isinstance(a, Annotation) and a.arrow_patch is not None]
    assert to_hex(arrows[2].arrow_patch.get_edgecolor()) == colours["delivered"]           # local delivery
    assert to_hex(arrows[3].arrow_patch.get_edgecolor()) == colours["read by the recipient's client"]


@pytest.mark.parametrize("make", [list_alias, long_texts])
def test_route_figure_is_deterministic(make) -> None:  # noqa: ANN001
    from simlab.viz import to_svg
    qid = "A000000001" if make is list_alias else "DEAD000001"
    assert to_svg(route_figure(make().trace, qid, host=A)) == to_svg(route_figure(make().trace, qid, host=A))
