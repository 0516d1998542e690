"""read_within: asyncio.wait_for(reader.read(n), t) semantics on the virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from simlab.io.stream import read_within
from simlab.sim.loop import VirtualLoop


def run(coro_fn):
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(coro_fn(loop)), loop.now
    finally:
        loop.close()


def test_data_before_the_limit_is_returned_at_its_arrival_time():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        loop.call_later(2.0, r.feed_data, b"220 ready\r\n")
        return await read_within(r, 100, 5.0)
    data, now = run(main)
    assert data == b"220 ready\r\n" and now == 2.0


def test_no_data_times_out_after_the_limit_in_virtual_time():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        with pytest.raises(asyncio.TimeoutError):
            await read_within(r, 100, 5.0)
        return loop.now
    when, _ = run(main)
    assert when == 5.0


def test_data_that_arrives_at_the_deadline_wins_over_the_timeout():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        loop.call_later(5.0, r.feed_data, b"late but in\r\n")   # armed before the read's timer
        return await read_within(r, 100, 5.0)
    data, now = run(main)
    assert data == b"late but in\r\n" and now == 5.0


def test_eof_is_an_empty_read_not_a_timeout():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        loop.call_later(1.0, r.feed_eof)
        return await read_within(r, 100, 5.0)
    data, _ = run(main)
    assert data == b""


def test_a_cancel_from_outside_stays_a_cancel():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        task = loop.create_task(read_within(r, 100, 5.0))
        loop.call_later(1.0, task.cancel)
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(10)       # the read's timer was disarmed: nothing fires later
        return task.cancelled()
    cancelled, now = run(main)
    assert cancelled and now == 11.0


def test_the_timer_is_disarmed_after_a_read():
    async def main(loop):
        r = asyncio.StreamReader(loop=loop)
        r.feed_data(b"x")
        await read_within(r, 100, 300.0)
        return loop._busy()
    busy, _ = run(main)
    assert busy is False
