"""The replay model: moving over a finished trace and drawing the figures of each moment."""

from __future__ import annotations

from simlab.sim.trace import Trace
from simlab.widgets.replay import ReplayModel, ReplayPlayer
from test_viz_traces import journey


def test_step_back_goto_and_play() -> None:
    s = journey()
    r = ReplayModel(s.trace, host="mail.example.com")
    assert len(r) == len(s.trace) and r.pos == 0 and r.current().kind == "connect"
    assert r.describe().startswith(f"1/{len(r)} · t=0.001 s · pc.example.com mua: pc.example.com connects to "
                                   "mail.example.com port 587 (c1)")
    r.step()
    assert "server sends on c1: 220 mail.example.com ESMTP Postfix" in r.describe()
    r.step(3)
    assert r.pos == 4 and r.back() == 3 and r.goto(10_000) == len(r) - 1 and r.goto(-5) == 0
    r.play()
    ticks = 0
    while r.tick():
        ticks += 1
    assert r.pos == len(r) - 1 and ticks == len(r) - 2 and not r.playing
    r.play()                                   # at the end: starts again from the beginning
    assert r.playing and r.pos == 0
    r.pause()
    assert not r.tick() and r.pos == 0


def test_the_view_of_each_moment() -> None:
    s = journey()
    r = ReplayModel(s.trace, host="mail.example.com")
    r.goto(6)
    assert r.conn_at() == "c1" and r.qid_at() is None
    seq = r.sequence_png()
    assert seq is not None and seq.startswith(b"\x89PNG")
    i = next(k for k, ev in enumerate(s.trace) if ev.kind == "queue" and ev.details["dst"] == "active")
    r.goto(i)
    assert r.qid_at() == "AAA1110001" and "queue AAA1110001: incoming → active" in r.describe()
    assert r.inside_png().startswith(b"\x89PNG")
    pinned = ReplayModel(s.trace, conn="c3", qid="BBB2220002")
    assert pinned.conn_at() == "c3" and pinned.qid_at() == "BBB2220002"
    empty = ReplayModel(Trace())
    assert len(empty) == 0 and empty.describe() == "the trace is empty" and empty.sequence_png() is None
    assert empty.step() == 0 and empty.index == -1


def test_player_widget_follows_the_buttons() -> None:
    s = journey()
    view = ReplayPlayer(ReplayModel(s.trace, host="mail.example.com"))
    assert view.slider.max == len(s.trace) - 1
    view.buttons["step"].click()
    assert view.slider.value == 1 and "220 mail.example.com" in view.text.value
    view.buttons["last"].click()
    assert view.model.pos == len(s.trace) - 1 and bytes(view.inside.value).startswith(b"\x89PNG")
    view.buttons["first"].click()
    assert view.model.pos == 0
    view.slider.value = 5
    assert view.model.pos == 5 and bytes(view.seq.value).startswith(b"\x89PNG")
