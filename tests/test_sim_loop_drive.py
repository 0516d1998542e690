"""run()'s inlined batches run callbacks in exactly the order one step() at a time gives."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from simlab.sim.loop import VirtualLoop


def _program(seed: int, stepwise: bool) -> tuple[list[tuple[float, str]], int]:
    rng = random.Random(seed)
    loop = VirtualLoop()
    loop.set_exception_handler(lambda _loop, ctx: log.append((loop.time(), "error")))
    log: list[tuple[float, str]] = []
    handles: list[object] = []
    names = iter(range(10 ** 6))

    def fire(name: str) -> None:
        log.append((loop.time(), name))
        if len(log) > 300:
            return
        for _ in range(rng.randrange(4)):
            x, n = rng.random(), f"h{next(names)}"
            if x < 0.35:
                handles.append(loop.call_soon(fire, n))
            elif x < 0.55:
                handles.append(loop.call_later(0, fire, n))
            elif x < 0.8:
                handles.append(loop.call_later(rng.choice([0.5, 1, 2]), fire, n,
                                               daemon=rng.random() < 0.2))
            elif x < 0.9 and handles:
                rng.choice(handles).cancel()        # type: ignore[attr-defined]
            else:
                loop.call_soon(boom)

    def boom() -> None:
        raise ValueError("a failing callback is reported, the loop goes on")

    for i in range(5):
        loop.call_later(rng.choice([0, 0, 1]), fire, f"start{i}")
    if stepwise:
        while loop._busy() and loop.step():
            pass
    else:
        loop.run()
    return log, len(loop.exceptions)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10 ** 6))
def test_run_matches_step_by_step(seed: int) -> None:
    assert _program(seed, stepwise=False) == _program(seed, stepwise=True)
