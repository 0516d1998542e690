"""Trace.add builds its events the fast way; they are ordinary, frozen Events."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from simlab.sim import trace
from simlab.sim.trace import Event, Trace


def test_added_events_are_frozen_events_like_constructed_ones() -> None:
    assert trace._SAME_LAYOUT
    t = Trace()
    ev = t.add(1.5, "h", "c", "send", {"conn": "c1", "data": "x"})
    same = Event(1.5, "h", "c", "send", {"conn": "c1", "data": "x"})
    assert type(ev) is Event and ev == same and repr(ev) == repr(same)
    assert ev.to_json() == same.to_json()
    assert pickle.loads(pickle.dumps(ev)) == ev
    assert dataclasses.replace(ev, kind="eof").kind == "eof"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ev.kind = "eof"  # type: ignore[misc]
    assert t.record(2.0, "h", "c", "close", conn="c1") == Event(2.0, "h", "c", "close", {"conn": "c1"})
    assert [e.kind for e in t] == ["send", "close"]


def test_the_slow_way_gives_the_same_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "_SAME_LAYOUT", False)
    ev = Trace().add(1.5, "h", "c", "send", {"a": 1})
    assert type(ev) is Event and ev == Event(1.5, "h", "c", "send", {"a": 1})
