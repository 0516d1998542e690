"""NAME
    trace - everything observable in a simulation, as a list of events

SUMMARY
    net.trace.events(kind="send"); net.trace.dialog("c1"); net.trace.to_jsonl(path)

DESCRIPTION
    Every observable thing -- bytes on a connection, a DNS query, a queue move,
    a delivery, a process start, a maillog line -- is one ``Event``:
    (virtual time, host, component, kind, details). Figures, widgets, the
    maillog and the tests all read this one list (design principle 4).

    Kinds used across simlab: ``connect``, ``accept``, ``refused``,
    ``timeout``, ``send`` (data on a connection), ``eof``, ``close``,
    ``reset``, ``dns``, ``log`` (a maillog line), ``queue`` (a queue file
    moved), ``deliver``, ``process`` (a daemon started or exited).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


@dataclass(frozen=True, slots=True)
class Event:
    """One observable thing that happened at virtual time ``time``."""

    time: float
    host: str
    component: str
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"t": round(self.time, 6), "host": self.host, "component": self.component,
             "kind": self.kind, **self.details},
            sort_keys=True, ensure_ascii=False,
        )


# Event(...) at a quarter of the cost. A frozen dataclass's __init__ goes through
# object.__setattr__ per field; an instance of a plain class with the same slots is
# filled by ordinary attribute stores, then becomes an Event (same layout, so
# __class__ may change): from then on it is frozen like any other Event.
class _Blank:
    __slots__ = ("time", "host", "component", "kind", "details")


_NEW = object.__new__


def _check_layout() -> bool:
    probe = _NEW(_Blank)
    try:
        probe.__class__ = Event
    except TypeError:       # layouts differ (a field was added to Event): the slow way below
        return False
    return list(Event.__slots__) == list(_Blank.__slots__)


_SAME_LAYOUT = _check_layout()
_SET_TIME, _SET_HOST = Event.time.__set__, Event.host.__set__  # type: ignore[attr-defined]
_SET_COMPONENT, _SET_KIND = Event.component.__set__, Event.kind.__set__  # type: ignore[attr-defined]
_SET_DETAILS = Event.details.__set__  # type: ignore[attr-defined]


class Trace:
    """The append-only list of events of one network, with views for people."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._listeners: list[Callable[[Event], None]] = []

    def record(self, time: float, host: str, component: str, kind: str, **details: Any) -> Event:
        return self.add(time, host, component, kind, details)

    def add(self, time: float, host: str, component: str, kind: str, details: dict[str, Any]) -> Event:
        """``record`` with the details already in a dict (which the event keeps, not a copy)."""
        if _SAME_LAYOUT:
            ev = _NEW(_Blank)
            ev.time = time
            ev.host = host
            ev.component = component
            ev.kind = kind
            ev.details = details
            ev.__class__ = Event  # type: ignore[assignment]
        else:
            ev = _NEW(Event)
            _SET_TIME(ev, time)
            _SET_HOST(ev, host)
            _SET_COMPONENT(ev, component)
            _SET_KIND(ev, kind)
            _SET_DETAILS(ev, details)
        self._events.append(ev)
        if self._listeners:
            for fn in self._listeners:
                fn(ev)
        return ev

    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``fn`` for every future event; returns a function that unsubscribes."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __getitem__(self, i: int) -> Event:
        return self._events[i]

    def events(self, kind: str | None = None, host: str | None = None,
               component: str | None = None, **match: Any) -> list[Event]:
        """Events filtered by kind, host, component and detail values."""
        out = []
        for ev in self._events:
            if kind is not None and ev.kind != kind:
                continue
            if host is not None and ev.host != host:
                continue
            if component is not None and ev.component != component:
                continue
            if any(ev.details.get(k) != v for k, v in match.items()):
                continue
            out.append(ev)
        return out

    # -- connections -----------------------------------------------------------
    def connections(self) -> list[Event]:
        """The ``connect`` event of every connection that was established."""
        return self.events("connect")

    def dialog(self, conn: str) -> list[tuple[str, str]]:
        """The conversation on connection ``conn`` as (side, line) pairs.

        ``side`` is ``"C"`` for the client and ``"S"`` for the server; lines are
        split at LF with the CR kept out, so the result reads like a transcript.
        """
        pending = {"C": "", "S": ""}
        out: list[tuple[str, str]] = []
        for ev in self._events:
            if ev.details.get("conn") != conn or ev.kind != "send":
                continue
            side = ev.details["side"]
            pending[side] += ev.details["data"]
            *lines, pending[side] = pending[side].split("\n")
            out.extend((side, ln.removesuffix("\r")) for ln in lines)
        out.extend((s, rest) for s, rest in pending.items() if rest)
        return out

    def transcript(self, conn: str, prefixes: tuple[str, str] = ("C: ", "S: ")) -> str:
        """The dialog as text, one line per SMTP/POP3/IMAP line."""
        p = {"C": prefixes[0], "S": prefixes[1]}
        return "\n".join(p[side] + line for side, line in self.dialog(conn))

    def maillog(self, host: str | None = None) -> list[str]:
        """The maillog lines (Postfix's format) written so far, optionally of one host."""
        return [ev.details["line"] for ev in self.events("log", host=host)]

    # -- export ------------------------------------------------------------------
    def to_jsonl(self, path: str | Path | None = None) -> str:
        """All events as JSON lines; written to ``path`` when given."""
        text = "".join(ev.to_json() + "\n" for ev in self._events)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def extend(self, events: Iterable[Event]) -> None:
        self._events.extend(events)
