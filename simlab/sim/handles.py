"""NAME
    handles - the virtual loop's callback and timer handles

DESCRIPTION
    asyncio's Handle and TimerHandle as the virtual loop makes them: filled in
    one call on ``object.__new__`` (no per-handle debug check; the loop adds the
    traceback in debug mode), timers with their place among timers due at the
    same instant, daemon timers, and ``Rearmable``: one timer its owner arms
    again and again.

SEE ALSO
    simlab.sim.loop
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from .loop import VirtualLoop

_new = object.__new__
H = TypeVar("H", bound=asyncio.Handle)


def _init_handle(h: H, callback: Callable[..., Any] | None, args: tuple[Any, ...],
                 loop: VirtualLoop, context: Any) -> H:
    """asyncio.Handle.__init__ without its debug check (the loop adds the traceback in debug mode).

    Used on ``object.__new__(cls)``: one Python call per handle instead of three.
    """
    h._context = context  # type: ignore[attr-defined]
    h._loop = loop  # type: ignore[attr-defined]
    h._callback = callback  # type: ignore[attr-defined]
    h._args = args  # type: ignore[attr-defined]
    h._cancelled = False  # type: ignore[attr-defined]
    h._repr = None  # type: ignore[attr-defined]
    h._source_traceback = None  # type: ignore[attr-defined]
    return h


class _Handle(asyncio.Handle):
    """asyncio.Handle made by the loop with ``_init_handle`` (no per-handle debug check)."""

    __slots__ = ()


class _TimerHandle(asyncio.TimerHandle):
    """asyncio.TimerHandle made by the loop with ``_init_handle``; it is in the loop's heap from birth.

    ``_seq`` is its place among timers due at the same instant; the heap
    entry (when, seq, handle) is out of date when it differs (postpone()).
    """

    __slots__ = ("_seq",)

    def cancel(self) -> None:
        if not self._cancelled:
            self._loop._timer_handle_cancelled(self)  # type: ignore[attr-defined]
            self._cancelled = True
            if self._loop.get_debug():
                self._repr = repr(self)
            self._callback = None  # type: ignore[assignment]
            self._args = None  # type: ignore[assignment]


class _DaemonTimerHandle(_TimerHandle):
    """A timer that does not keep ``run()`` busy (see VirtualLoop.call_at)."""

    __slots__ = ()


_TIMER_TYPES = (_TimerHandle, _DaemonTimerHandle)


class Rearmable(_TimerHandle):
    """A timer its owner arms again and again, one arming at a time (``VirtualLoop._arm``).

    For an owner with one pending timer at most (a pipe's next arrival): no
    handle per arming. The callback is set per arming and should be dropped
    by the owner when it ran (a bound method of the owner is a cycle).
    ``postpone`` and ``cancel`` are not for it: the owner decides what runs.
    """

    __slots__ = ()

    def __init__(self, loop: VirtualLoop) -> None:
        _init_handle(self, None, (), loop, None)
        self._when = 0.0
        self._seq = -1
        self._scheduled = False


def _set_result_unless_cancelled(fut: asyncio.Future[Any], result: Any) -> None:
    if not fut.cancelled():
        fut.set_result(result)
