"""NAME
    transport - in-memory TCP connections between simulated hosts

SUMMARY
    client, server = Connection.open(net, ...)  (used by Host.open_connection)

DESCRIPTION
    A connection is two ``asyncio.Transport`` objects joined by two one-way
    pipes. Bytes written on one side arrive at the other after the link's
    latency, in order: each pipe is a FIFO with a single armed timer, and an
    arrival time of max(now + latency, previous arrival), so chunks written at
    the same instant never overtake each other.

    While the link (or the far host) is down, bytes wait in the pipe as TCP
    retransmissions would, and flow again when it comes back. ``abort()`` and a
    host crash reset the connection: the peer's protocol sees
    ``ConnectionResetError``. Every write, EOF, close and reset is a trace event.

    Once both ends have told their protocols the connection is lost, the
    connection lets go of its ends, its ends of their pipes and protocols (as
    asyncio's socket transports drop theirs): nothing is left in a reference
    cycle, so a finished connection is freed at once, not by the garbage
    collector.
"""

from __future__ import annotations

import asyncio
import collections
from typing import TYPE_CHECKING, Any

from .handles import Rearmable

if TYPE_CHECKING:
    from .network import Network

_EOF = object()
_RESET = object()


class _Pipe(Rearmable):
    """One direction of a connection: a FIFO of (arrival time, chunk).

    The pipe is its own arrival timer (one armed at a time, for the head of the
    queue): no timer handle per chunk. When it fires it hands what has arrived to
    ``dst``: bytes straight to its protocol, or through its inbox while reading is
    paused or something else (EOF, reset) is queued.
    """

    __slots__ = ("conn", "dst", "queue", "last_arrival", "armed")

    def __init__(self, conn: "Connection", dst: "VirtualTransport") -> None:
        Rearmable.__init__(self, conn.net.loop)
        self.conn = conn
        self.dst = dst
        self.queue: collections.deque[tuple[float, Any]] = collections.deque()
        self.last_arrival = 0.0
        self.armed = False

    def push(self, item: Any) -> None:
        loop = self._loop
        arrival = loop._time + self.conn.lat
        if arrival < self.last_arrival:
            arrival = self.last_arrival
        self.last_arrival = arrival
        self.queue.append((arrival, item))
        if not self.armed:
            self.armed = True
            loop._arm(self, self.queue[0][0], self._fire)

    def _fire(self) -> None:
        self.armed = False
        if self.conn.path_up():     # else held, as TCP retransmits; Network.wake() re-arms on repair
            now, dst = self._loop._time, self.dst
            while self.queue and self.queue[0][0] <= now:
                item = self.queue.popleft()[1]
                if dst._lost:
                    continue
                if dst._paused or dst._inbox or type(item) is not bytes:
                    dst._inbox.append(item)
                    if not dst._paused:
                        dst._drain_inbox()
                else:
                    dst.protocol.data_received(item)  # type: ignore[union-attr]  # the common case: no queue
            if self.queue and not self.armed:
                self._rearm()
        if not self.armed:
            self._callback = self._context = None  # type: ignore[assignment]  # no cycle while idle

    def _rearm(self) -> None:
        self.armed = True
        self._loop._arm(self, self.queue[0][0], self._fire)

    def wake(self) -> None:
        """Deliver what waited while the path was down (after one more latency)."""
        if self.queue and not self.armed and self.conn.path_up():
            now = self._loop._time + self.conn.lat
            self.queue = collections.deque((max(t, now), item) for t, item in self.queue)
            self.last_arrival = max(self.last_arrival, now)
            self._rearm()


class VirtualTransport(asyncio.Transport):
    """One end of an in-memory connection, as asyncio protocols expect it."""

    __slots__ = ("conn", "side", "host", "component", "protocol", "pipe", "_loop", "_trace", "_closing", "_lost",
                 "_peer_eof", "_paused", "_lost_called", "_inbox")

    def __init__(self, conn: "Connection", side: str, host: str, component: str,
                 sockname: tuple[str, int], peername: tuple[str, int]) -> None:
        self._extra = {"sockname": sockname, "peername": peername}   # what BaseTransport.__init__ stores
        self.conn = conn
        self.side = side  # "C" or "S"
        self.host = host
        self.component = component
        self.protocol: asyncio.BaseProtocol | None = None
        self.pipe: _Pipe | None = None  # outgoing
        self._loop = conn.net.loop
        self._trace = conn.net.trace
        self._closing = False
        self._lost = False
        self._peer_eof = False
        self._paused = False
        self._lost_called = False  # connection_lost() was called on our protocol
        self._inbox: collections.deque[Any] = collections.deque()

    # -- asyncio.Transport ------------------------------------------------------
    def get_protocol(self) -> asyncio.BaseProtocol:  # type: ignore[override]
        return self.protocol  # type: ignore[return-value]  # None once the connection is lost, as asyncio's

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        if type(data) is not bytes:
            data = bytes(data)
        self._trace.add(self._loop._time, self.host, self.component, "send",
                        {"conn": self.conn.id, "side": self.side,
                         "data": data.decode("utf-8", "surrogateescape"), "bytes": len(data)})
        self.pipe.push(data)  # type: ignore[union-attr]

    def writelines(self, list_of_data) -> None:  # type: ignore[override]
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._lost:
            return
        self.conn.record(self, "eof")
        assert self.pipe is not None
        self.pipe.push(_EOF)

    def close(self) -> None:
        if self._closing or self._lost:
            return
        self._closing = True
        self.conn.record(self, "close")
        assert self.pipe is not None
        self.pipe.push(_EOF)
        self._schedule_lost(None)

    def abort(self) -> None:
        if self._lost:
            return
        self._closing = True
        self.conn.record(self, "reset")
        assert self.pipe is not None
        self.pipe.queue.clear()
        self.pipe.push(_RESET)
        self._schedule_lost(None)

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self._loop.call_soon(self._drain_inbox)

    def is_reading(self) -> bool:
        return not self._paused

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        return None

    # -- arrival side -------------------------------------------------------------
    def _drain_inbox(self) -> None:
        proto = self.protocol
        while self._inbox and not self._paused and not self._lost:
            item = self._inbox.popleft()
            if item is _RESET:
                self._closing = True
                self._lost = True
                self._call_lost(ConnectionResetError("Connection reset by peer"))
            elif item is _EOF:
                self._peer_eof = True
                keep_open = proto.eof_received() if hasattr(proto, "eof_received") else False  # type: ignore[union-attr]
                if not keep_open:
                    self.close()
                elif self._closing:
                    self._schedule_lost(None)
            else:
                proto.data_received(item)  # type: ignore[union-attr]

    def _schedule_lost(self, exc: BaseException | None) -> None:
        # connection_lost comes once both directions are done (or immediately on our close)
        if self._lost:
            return
        self._lost = True
        self._loop.call_soon(self._call_lost, exc)

    def _call_lost(self, exc: BaseException | None) -> None:
        self._lost = True
        proto = self.protocol
        if proto is not None and not self._lost_called:
            self._lost_called = True
            proto.connection_lost(exc)
            self.protocol = None
            self.conn.closed_side(self)

    def crash(self) -> None:
        """The host of this end died: drop everything, tell our protocol, reset the peer."""
        if self._lost_called:
            return
        self._closing = True
        assert self.pipe is not None
        self.pipe.queue.clear()
        self.pipe.push(_RESET)
        self._inbox.clear()
        self._lost = True
        self._call_lost(ConnectionAbortedError("host crashed"))


class Connection:
    """An established in-memory TCP connection between two simulated hosts."""

    def __init__(self, net: "Network", cid: str, client_host: str, server_host: str) -> None:
        self.net = net
        self.id = cid
        self.client_host = client_host
        self.server_host = server_host
        self.client: VirtualTransport
        self.server: VirtualTransport
        self._done: set[str] = set()
        # per write and per arrival: the link key and both hosts, looked up once
        self._same = client_host == server_host
        self._pair = frozenset((client_host, server_host))
        self._hosts = (net.hosts[client_host], net.hosts[server_host])
        self.relink()

    def join(self, client: VirtualTransport, server: VirtualTransport) -> None:
        self.client, self.server = client, server
        client.pipe = _Pipe(self, server)
        server.pipe = _Pipe(self, client)

    def relink(self) -> None:
        """Take the link's latency (``lat``) again: Network.latency(client_host, server_host),
        looked up once per connection and per ``Network.link()``, not per chunk."""
        net = self.net
        self.lat = 0.0 if self._same else net._latency.get(self._pair, net._default_latency)

    def path_up(self) -> bool:
        """Network.path_up(client_host, server_host), likewise."""
        a, b = self._hosts
        if not (a.up and b.up):
            return False
        return self._same or self._pair not in self.net._links_down

    def wake(self) -> None:
        self.client.pipe.wake()  # type: ignore[union-attr]
        self.server.pipe.wake()  # type: ignore[union-attr]

    def record(self, end: VirtualTransport, kind: str, **details: Any) -> None:
        self.net.trace.add(self.net.loop.time(), end.host, end.component, kind,
                           {"conn": self.id, "side": end.side, **details})

    def closed_side(self, end: VirtualTransport) -> None:
        self._done.add(end.side)
        if self._done == {"C", "S"}:
            self.net._forget(self)
            # no cycles left: a pipe with a chunk in flight lives on in its timer only
            client, server = self.client, self.server
            client.pipe = server.pipe = None
            del self.client, self.server
