"""VirtualLoop.postpone() runs timers in exactly the order cancel() + call_later() would."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.sim.loop import VirtualLoop, _DaemonTimerHandle


def _run(seed: int, use_postpone: bool) -> tuple[list[tuple[float, str]], float]:
    rng, inner = random.Random(seed), random.Random(seed * 7 + 1)
    loop = VirtualLoop()
    log: list[tuple[float, str]] = []
    handles: dict[int, object] = {}

    def fire(name: str) -> None:
        log.append((loop.time(), name))
        act(inner.random())             # timers re-arm timers from inside callbacks, too

    def act(x: float) -> None:
        k = inner.randrange(6)
        if x < 0.5:
            delay = inner.choice([0, 0.25, 0.5, 1, 1, 2, 3])
            daemon = inner.random() < 0.2
            h = handles.get(k)
            if h is not None and not h._cancelled and inner.random() < 0.7:
                same_kind = (type(h) is _DaemonTimerHandle) == daemon
                if use_postpone and same_kind and loop.postpone(h, delay):
                    return
                h.cancel()
            handles[k] = loop.call_later(delay, fire, f"t{k}", daemon=daemon)
        elif x < 0.6 and k in handles:
            handles[k].cancel()

    for _ in range(40):
        loop.call_later(rng.choice([0, 0.5, 1, 2, 2.5, 3]), act, rng.random())
    loop.run()
    return log, loop.time()


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_postpone_orders_timers_like_cancel_and_call_later(seed: int) -> None:
    assert _run(seed, use_postpone=True) == _run(seed, use_postpone=False)


def test_postpone_refuses_what_it_cannot_move() -> None:
    loop = VirtualLoop()
    h = loop.call_later(5, lambda: None)
    assert not loop.postpone(h, 1)          # earlier: the caller re-arms the ordinary way
    assert loop.postpone(h, 10)
    h.cancel()
    assert not loop.postpone(h, 20)
