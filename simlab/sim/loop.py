"""NAME
    loop - a virtual-time asyncio event loop

SUMMARY
    loop = VirtualLoop(); loop.run_until_complete(coro); loop.run(until=60.0)
    loop.postpone(timer_handle, delay)     # re-arm a pending timer later, keeping its handle

DESCRIPTION
    A SimPy-sized event loop that runs ordinary asyncio code (aiosmtpd,
    asyncio streams, tasks, futures, ``asyncio.sleep``) in *virtual* time:
    the clock jumps straight to the next timer, so a five-day queue lifetime
    takes no wall time. It never reads the wall clock.

    Events are ordered by (time, sequence): two timers due at the same instant
    run in the order they were armed (asyncio's own heap does not promise that),
    which makes every run with the same inputs byte-identical.

    Timers armed with ``daemon=True`` (a periodic queue scan, an idle timer)
    do not keep ``run()`` going: the loop is *quiet* when only daemon timers
    are left.

    The loop can be driven from inside a running Jupyter cell: ``run_forever``
    sets aside the outer running loop *and* the outer current task and puts
    both back afterwards, in exactly this one place. No threads, no sockets,
    no self-pipe: the same code runs under Pyodide.

    While it runs, the garbage collector's youngest generation is collected
    every 10,000 allocations instead of 700 (put back afterwards): the
    short-lived objects of a connection then die young instead of making
    full collections of a long trace frequent.

SEE ALSO
    asyncio-eventloop, simlab.sim.network
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gc
import heapq
import itertools
import logging
import sys
from asyncio import events, format_helpers, futures, tasks
from contextvars import copy_context
from typing import Any, Callable, Coroutine, Iterator, TypeVar

from .handles import (_TIMER_TYPES, Rearmable, _DaemonTimerHandle, _Handle, _init_handle, _new,
                      _set_result_unless_cancelled, _TimerHandle)

T = TypeVar("T")
log = logging.getLogger("simlab.loop")
_GC_GEN0 = 50000    # the youngest generation's threshold while a simulation runs (CPython's: 700)


class VirtualLoop(asyncio.AbstractEventLoop):
    """An asyncio event loop whose clock is a number that only timers move."""

    def __init__(self, start: float = 0.0) -> None:
        self._time = float(start)
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._scheduled: list[tuple[float, int, asyncio.TimerHandle]] = []
        self._live = 0          # timers in _scheduled neither cancelled nor daemon (see _busy)
        self._dead = 0          # cancelled timers still in _scheduled
        self._seq = itertools.count()
        self._running = False
        self._stopping = False
        self._closed = False
        self.set_debug(False)
        self._exception_handler: Callable[..., Any] | None = None
        self._task_factory: Callable[..., Any] | None = None
        self.exceptions: list[dict[str, Any]] = []
        # a future per read of an asyncio stream: made in C, without a Python frame (the
        # cycle loop -> partial -> loop is no new one: a Network and its loop are already one)
        self.create_future = functools.partial(futures.Future, loop=self)  # type: ignore[method-assign]

    # -- clock ---------------------------------------------------------------
    def time(self) -> float:
        return self._time

    @property
    def now(self) -> float:
        """Virtual seconds since the loop was created."""
        return self._time

    # -- scheduling ----------------------------------------------------------
    def call_soon(self, callback, *args, context=None):  # type: ignore[override]
        if self._closed:
            self._check_closed()
        # _init_handle inlined: the hottest constructor (a future's callbacks, every task step)
        handle = _new(_Handle)
        handle._context = context if context is not None else copy_context()
        handle._loop = self
        handle._callback = callback
        handle._args = args
        handle._cancelled = False
        handle._repr = None
        handle._source_traceback = None
        if self._debug:
            handle._source_traceback = format_helpers.extract_stack(sys._getframe(1))
        self._ready.append(handle)
        return handle

    call_soon_threadsafe = call_soon

    def call_later(self, delay, callback, *args, context=None, daemon: bool = False):  # type: ignore[override]
        when = self._time + delay if delay > 0 else self._time
        return self._schedule(float(when), callback, args, context, daemon)

    def call_at(self, when, callback, *args, context=None, daemon: bool = False):  # type: ignore[override]
        return self._schedule(float(when), callback, args, context, daemon)

    def _schedule(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...],
                  context: Any, daemon: bool) -> asyncio.TimerHandle:
        if self._closed:
            self._check_closed()
        if context is None:
            context = copy_context()
        seq = next(self._seq)
        handle = _init_handle(_new(_DaemonTimerHandle if daemon else _TimerHandle), callback, args, self, context)
        handle._when = when  # type: ignore[attr-defined]
        handle._seq = seq  # type: ignore[attr-defined]
        handle._scheduled = True  # type: ignore[attr-defined]
        if not daemon:
            self._live += 1
        if self._debug:
            handle._source_traceback = format_helpers.extract_stack(sys._getframe(2))
        heapq.heappush(self._scheduled, (when, seq, handle))
        return handle  # type: ignore[return-value]

    def _arm(self, timer: "Rearmable", when: float, callback: Callable[[], Any]) -> None:
        """Put ``timer`` (not in the heap) in the heap at ``when``: ``_schedule`` without a new handle.

        The same sequence number, context copy and accounting as a fresh timer, so
        events run in the same order as with one handle per arming.
        """
        if self._closed:
            self._check_closed()
        seq = next(self._seq)
        timer._when = when
        timer._seq = seq
        timer._scheduled = True
        timer._callback = callback
        timer._context = copy_context()
        self._live += 1
        if self._debug:
            timer._source_traceback = format_helpers.extract_stack(sys._getframe(2))
        heapq.heappush(self._scheduled, (when, seq, timer))

    def postpone(self, handle: asyncio.TimerHandle, delay: float) -> bool:
        """Move a pending timer to now + ``delay``, in the order ``cancel()`` + ``call_later()`` give.

        No new handle, no cancelled entry left behind (an idle timer re-armed
        per command); the old heap entry is corrected when it comes up.
        False, and nothing done, when the timer ran, was cancelled or would move earlier.
        """
        when = self._time + delay if delay > 0 else self._time
        if type(handle) not in _TIMER_TYPES or not handle._scheduled or handle._cancelled \
                or handle._loop is not self or when < handle._when:  # type: ignore[attr-defined]
            return False
        handle._when = when  # type: ignore[attr-defined]
        handle._seq = next(self._seq)  # type: ignore[attr-defined]
        return True

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        if handle._scheduled:  # type: ignore[attr-defined]
            if type(handle) is not _DaemonTimerHandle:
                self._live -= 1
            self._dead += 1
            # early: a cancelled idle timer sits in the heap until its far deadline, deepening
            # every push and pop; at least half the heap is dropped, so it stays O(1) per cancel
            if self._dead > 8 and 2 * self._dead > len(self._scheduled):
                self._compact(handle)

    def _compact(self, cancelling: asyncio.TimerHandle) -> None:
        """Drop cancelled timers from the heap (the order of the others is kept: (when, seq) is unique)."""
        keep = []
        for entry in self._scheduled:
            if entry[2]._cancelled or entry[2] is cancelling:  # type: ignore[attr-defined]
                entry[2]._scheduled = False  # type: ignore[attr-defined]
            else:
                keep.append(entry)
        heapq.heapify(keep)
        self._scheduled[:] = keep     # in place: _drive holds the list
        self._dead = 0

    async def sleep(self, delay: float, *, daemon: bool = False) -> None:
        """``asyncio.sleep`` that may be marked as not keeping ``run()`` busy."""
        fut = self.create_future()
        h = self.call_later(delay, _set_result_unless_cancelled, fut, None, daemon=daemon)
        try:
            await fut
        finally:
            if h._scheduled:  # type: ignore[attr-defined]  # not when it ran: nothing left to cancel
                h.cancel()

    def create_future(self) -> asyncio.Future[Any]:
        return futures.Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):  # type: ignore[override]
        self._check_closed()
        if self._task_factory is not None:
            task = self._task_factory(self, coro)
        elif context is not None:
            task = tasks.Task(coro, loop=self, name=name, context=context)
        else:
            task = tasks.Task(coro, loop=self, name=name)
        return task

    def set_task_factory(self, factory) -> None:  # type: ignore[override]
        self._task_factory = factory

    def get_task_factory(self):  # type: ignore[override]
        return self._task_factory

    # -- running -------------------------------------------------------------
    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def stop(self) -> None:
        self._stopping = True

    def close(self) -> None:
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        self._closed = True
        self._ready.clear()
        self._scheduled.clear()
        self._live = self._dead = 0

    def _check_closed(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def _busy(self) -> bool:
        """True while something other than daemon timers is pending."""
        return bool(self._ready) or self._live > 0

    def _callback_failed(self, handle: asyncio.Handle, exc: BaseException) -> None:
        """What asyncio.Handle._run reports when a callback raises."""
        cb = format_helpers._format_callback_source(handle._callback, handle._args)  # type: ignore[attr-defined]
        context: dict[str, Any] = {"message": f"Exception in callback {cb}", "exception": exc, "handle": handle}
        if handle._source_traceback:  # type: ignore[attr-defined]
            context["source_traceback"] = handle._source_traceback  # type: ignore[attr-defined]
        self.call_exception_handler(context)

    @contextlib.contextmanager
    def _entered(self) -> Iterator[None]:
        """Make this loop the running one, setting aside the outer loop and its task.

        Jupyter's kernel runs cells inside a task on its own running loop; asyncio
        refuses to run a second loop while another is marked running, and on 3.14
        the current task lives on the thread, so both must be set aside and put
        back -- here and nowhere else.
        """
        if self._running:
            raise RuntimeError("This virtual loop is already running")
        outer_loop = events._get_running_loop()
        outer_task = tasks.current_task(outer_loop) if outer_loop is not None else None
        if outer_task is not None:
            tasks._leave_task(outer_loop, outer_task)  # type: ignore[attr-defined]
        events._set_running_loop(self)
        self._running = True
        self._stopping = False
        # A simulation allocates quickly and keeps a long trace: collecting the
        # youngest generation every 700 allocations promotes short-lived
        # connection objects and makes full collections of that trace frequent.
        threshold = gc.get_threshold()
        if threshold[0] and threshold[0] < _GC_GEN0:
            gc.set_threshold(_GC_GEN0, *threshold[1:])
        try:
            yield
        finally:
            if gc.get_threshold()[0] == _GC_GEN0 and threshold[0] < _GC_GEN0:
                gc.set_threshold(*threshold)
            self._running = False
            self._stopping = False
            events._set_running_loop(outer_loop)
            if outer_task is not None:
                tasks._enter_task(outer_loop, outer_task)  # type: ignore[attr-defined]

    def _drive(self, until: float | None, quiet_stops: bool, stop_when: Callable[[], bool] | None,
               once: bool = False) -> bool:
        """Run batches of handles: those ready now, not those they make ready; timers due join
        a batch when it starts. With ``once`` one batch only: False when there was none."""
        with self._entered():
            ready, scheduled = self._ready, self._scheduled
            popleft = ready.popleft
            while not self._stopping:
                if stop_when is not None and stop_when():
                    return True
                if not ready or (scheduled and scheduled[0][0] <= self._time):
                    # the timers due join the batch (inlined: one frame less per timer batch)
                    if not ready:
                        if quiet_stops and self._live <= 0:
                            return True
                        while scheduled:    # the clock moves to the first live timer
                            _, seq, handle = scheduled[0]
                            if handle._cancelled:  # type: ignore[attr-defined]
                                heapq.heappop(scheduled)[2]._scheduled = False  # type: ignore[attr-defined]
                                self._dead -= 1
                            elif seq != handle._seq:  # type: ignore[attr-defined]  # postponed: to its new place
                                heapq.heapreplace(scheduled, (handle._when, handle._seq, handle))  # type: ignore[attr-defined]
                            else:
                                break
                        else:
                            break
                        when = scheduled[0][0]
                        if until is not None and when > until:
                            break
                        if when > self._time:
                            self._time = when
                    now = self._time
                    while scheduled and scheduled[0][0] <= now:
                        _, seq, handle = heapq.heappop(scheduled)
                        if handle._cancelled:  # type: ignore[attr-defined]
                            handle._scheduled = False  # type: ignore[attr-defined]
                            self._dead -= 1
                        elif seq != handle._seq:  # type: ignore[attr-defined]
                            heapq.heappush(scheduled, (handle._when, handle._seq, handle))  # type: ignore[attr-defined]
                        else:
                            handle._scheduled = False  # type: ignore[attr-defined]
                            if type(handle) is not _DaemonTimerHandle:
                                self._live -= 1
                            ready.append(handle)
                for _ in range(len(ready)):
                    handle = popleft()
                    if handle._cancelled:  # type: ignore[attr-defined]
                        continue
                    # Handle._run inlined: one frame less per callback, the same error report
                    try:
                        handle._context.run(handle._callback, *handle._args)  # type: ignore[attr-defined]
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        self._callback_failed(handle, exc)
                if once:
                    return True
            if once:
                return False    # nothing was due: step() found the loop idle
            if until is not None and self._time < until and not self._stopping:
                self._time = float(until)
        return True

    def run_forever(self) -> None:
        """Run until ``stop()`` or until nothing at all is scheduled."""
        self._drive(None, quiet_stops=False, stop_when=None)

    def run(self, until: float | None = None) -> float:
        """Run until quiet (only daemon timers left) or until virtual time ``until``.

        With ``until`` the clock ends exactly at ``until``; daemon timers due
        before it run. Returns the virtual time reached.
        """
        self._drive(until, quiet_stops=until is None, stop_when=None)
        return self._time

    def step(self) -> bool:
        """Run one batch of due handles, advancing the clock if needed; False when idle."""
        return self._drive(None, quiet_stops=False, stop_when=None, once=True)

    def run_until_complete(self, future):  # type: ignore[override]
        """Run until ``future`` (a coroutine or future) is done; return its result."""
        self._check_closed()
        fut = tasks.ensure_future(future, loop=self)
        self._drive(None, quiet_stops=False, stop_when=fut.done)
        if not fut.done():
            fut.cancel()
            raise RuntimeError("virtual loop ran out of events before the awaited work finished (deadlock)")
        return fut.result()

    # -- errors --------------------------------------------------------------
    def get_debug(self) -> bool:
        return self._debug

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled
        # asked by every future and task made (from C): a C callable there, not a Python frame
        self.get_debug = itertools.repeat(enabled).__next__  # type: ignore[method-assign]

    def set_exception_handler(self, handler) -> None:  # type: ignore[override]
        self._exception_handler = handler

    def get_exception_handler(self):  # type: ignore[override]
        return self._exception_handler

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        if context.get("message") == "Task was destroyed but it is pending!":
            return  # a discarded simulation with its daemons still waiting: nothing went wrong
        self.exceptions.append(context)
        exc = context.get("exception")
        log.error("virtual loop: %s", context.get("message"), exc_info=exc)

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self._exception_handler is None:
            self.default_exception_handler(context)
        else:
            self._exception_handler(self, context)

    # -- unsupported on a virtual network -------------------------------------
    async def shutdown_asyncgens(self) -> None:
        return None

    async def shutdown_default_executor(self, timeout=None) -> None:  # type: ignore[override]
        return None

    def run_in_executor(self, executor, func, *args):  # type: ignore[override]
        raise RuntimeError("the virtual network has no threads: call the function directly")


def run_coroutine(loop: VirtualLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on ``loop`` from synchronous code (e.g. a notebook cell)."""
    return loop.run_until_complete(coro)
