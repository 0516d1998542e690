"""NAME
    replay - play, pause, step and go back through a finished run

SUMMARY
    r = ReplayModel(net.trace, host="mail.example.com")       # optional conn= / qid= to pin a view
    r.step(); r.back(); r.goto(10); r.last(); r.describe()
    r.play(); r.tick() ... r.pause()                          # what the Play button drives
    r.sequence_png(); r.inside_png()                          # the two figures at this moment
    ReplayPlayer(r)

DESCRIPTION
    A replay walks the trace of a run that has finished, one observable event
    at a time (connections, lines sent, DNS answers, queue moves, log lines,
    deliveries). At each position it draws the connection being talked on as
    a sequence diagram up to that moment, and Postfix's insides with the
    queue counts of that moment and the path so far of the message being
    handled. Nothing is re-run: the figures read the trace prefix.
"""

from __future__ import annotations

from typing import Any

from ..viz._style import to_png
from ..viz.inside_postfix import inside_postfix
from ..viz.sequence import sequence_figure
from ..viz.tracedata import parse_log
from ._safe import esc, guarded, status_html

DEFAULT_KINDS = ("connect", "send", "close", "reset", "refused", "timeout", "dns", "queue", "log",
                 "deliver", "process")


class ReplayModel:
    """A cursor over a finished trace."""

    def __init__(self, trace: Any, *, host: str | None = None, conn: str | None = None, qid: str | None = None,
                 kinds: tuple[str, ...] = DEFAULT_KINDS) -> None:
        self.events = list(trace)
        self.host, self.conn, self.qid = host, conn, qid
        self.frames = [i for i, ev in enumerate(self.events) if ev.kind in kinds]
        self.pos = 0
        self.playing = False

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def index(self) -> int:
        """The trace index of the current event (-1 for an empty trace)."""
        return self.frames[self.pos] if self.frames else -1

    def current(self) -> Any:
        return self.events[self.index] if self.frames else None

    # -- moving ----------------------------------------------------------------------------
    def goto(self, pos: int) -> int:
        self.pos = max(0, min(int(pos), len(self.frames) - 1)) if self.frames else 0
        return self.pos

    def step(self, n: int = 1) -> int:
        return self.goto(self.pos + n)

    def back(self, n: int = 1) -> int:
        return self.goto(self.pos - n)

    def first(self) -> int:
        return self.goto(0)

    def last(self) -> int:
        return self.goto(len(self.frames) - 1)

    def play(self) -> None:
        self.playing = bool(self.frames) and self.pos < len(self.frames) - 1
        if not self.playing and self.frames:
            self.first()
            self.playing = len(self.frames) > 1

    def pause(self) -> None:
        self.playing = False

    def tick(self) -> bool:
        """One step while playing; stops at the end. Returns whether it is still playing."""
        if self.playing:
            self.step()
            if self.pos >= len(self.frames) - 1:
                self.playing = False
        return self.playing

    # -- what to show ---------------------------------------------------------------------
    def describe(self) -> str:
        ev = self.current()
        if ev is None:
            return "the trace is empty"
        d = ev.details
        if ev.kind == "send":
            who = "client" if d.get("side") == "C" else "server"
            text = str(d.get("data", "")).replace("\r\n", "⏎ ").strip()
            what = f"{who} sends on {d.get('conn')}: {text[:120]}"
        elif ev.kind == "log":
            what = f"log: {d.get('line', d.get('text', ''))}"
        elif ev.kind == "queue":
            what = f"queue {d.get('qid')}: {d.get('src') or 'new'} → {d.get('dst') or 'removed'}"
        elif ev.kind == "connect":
            what = f"{d.get('client')} connects to {d.get('server')} port {d.get('port')} ({d.get('conn')})"
        elif ev.kind == "dns":
            what = f"DNS {d.get('qtype')} {d.get('query')}: {d.get('rcode')} {' '.join(d.get('answer') or [])}"
        else:
            what = f"{ev.kind} " + ", ".join(f"{k}={v}" for k, v in d.items())
        return f"{self.pos + 1}/{len(self.frames)} · t={ev.time:.3f} s · {ev.host} {ev.component}: {what}"

    def conn_at(self) -> str | None:
        """The connection to draw: the pinned one, else the latest one touched so far."""
        if self.conn:
            return self.conn
        for ev in reversed(self.events[: self.index + 1]):
            c = ev.details.get("conn")
            if c and any(e.kind == "connect" and e.details.get("conn") == c for e in self.events):
                return str(c)
        return None

    def qid_at(self) -> str | None:
        if self.qid:
            return self.qid
        for ev in reversed(self.events[: self.index + 1]):
            if self.host is not None and ev.host != self.host:
                continue
            if ev.kind == "queue" and ev.details.get("qid"):
                return str(ev.details["qid"])
            if ev.kind == "log":
                q = parse_log(ev).qid
                if q:
                    return q
        return None

    def sequence_png(self) -> bytes | None:
        conn = self.conn_at()
        return to_png(sequence_figure(self.events, conn, until=self.index, max_turns=40)) if conn else None

    def inside_png(self) -> bytes:
        return to_png(inside_postfix(self.events, self.host, self.qid_at(), until=self.index))


class ReplayPlayer:
    """The ipywidgets view: ⏮ ◀ ▶(play) ▶| ⏭, a slider, and the two figures."""

    def __init__(self, model: ReplayModel, interval_ms: int = 800) -> None:
        import ipywidgets as w

        self.model = model
        top = max(0, len(model) - 1)
        self.slider = w.IntSlider(value=model.pos, min=0, max=top, description="event",
                                  continuous_update=False, layout=w.Layout(width="60%"))
        self.player = w.Play(value=model.pos, min=0, max=top, step=1, interval=interval_ms)
        w.jslink((self.player, "value"), (self.slider, "value"))
        self.buttons = {name: w.Button(description=label, layout=w.Layout(width="60px"))
                        for name, label in (("first", "⏮"), ("back", "◀"), ("step", "▶|"), ("last", "⏭"))}
        self.text = w.HTML()
        self.seq = w.Image(format="png", layout=w.Layout(max_width="49%"))
        self.inside = w.Image(format="png", layout=w.Layout(max_width="49%"))
        self.status = w.HTML()
        report = guarded(lambda text: setattr(self.status, "value", status_html(text, ok=False)))
        self.slider.observe(report(lambda ch: self._goto(ch["new"])), names="value")
        for name, b in self.buttons.items():
            b.on_click(report(lambda _, name=name: self._move(name)))
        self.widget = w.VBox([w.HBox([self.player, *self.buttons.values(), self.slider]), self.text,
                              w.HBox([self.seq, self.inside]), self.status])
        self.render()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _move(self, name: str) -> None:
        getattr(self.model, name)()
        self.slider.value = self.model.pos   # triggers _goto -> render

    def _goto(self, pos: int) -> None:
        self.model.goto(pos)
        self.render()

    def render(self) -> None:
        self.text.value = f"<code>{esc(self.model.describe())}</code>"
        seq = self.model.sequence_png()
        self.seq.value = seq or b""
        self.inside.value = self.model.inside_png()
