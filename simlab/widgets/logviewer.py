"""NAME
    logviewer - the maillog filtered by queue id or host, mailq, and queue actions

SUMMARY
    v = LogViewerModel(net.trace, mailq=lambda: ..., hold=..., release=..., delete=..., flush=...)
    v.lines(qid="C7D5B160542"); v.lines(host="mail.example.com", contains="reject")
    v.act("hold", "C7D5B160542") -> "postsuper: C7D5B160542: placed on hold"
    hold = command_action(postsuper_main, ["--root", root, "-h"])     # wiring helper
    LogViewer(v)

DESCRIPTION
    The lines are the trace's ``log`` events (maillog(5) format, one host or
    all). Filtering by queue id keeps every line about that queue file plus
    the lines that name it (a bounce's "sender non-delivery notification:
    ID"), which is how a postmaster follows one message with grep. ``mailq``
    and the actions hold (postsuper -h), release (postsuper -H), delete
    (postsuper -d) and flush (postqueue -f) are callables the notebook wires
    to the running system; their output is shown as the commands print it.
"""

from __future__ import annotations

from typing import Any, Callable

from ..viz.tracedata import log_records, queue_ids
from ._safe import esc, guarded, plain_error, status_html
from .maincf_editor import run_captured

ACTIONS = {"hold": "postsuper -h", "release": "postsuper -H", "delete": "postsuper -d", "flush": "postqueue -f"}


def command_action(main: Callable[[list[str]], Any], argv_prefix: list[str]) -> Callable[..., str]:
    """A callback that runs ``main(argv_prefix + [qid])`` and returns what it printed."""
    def act(*args: str) -> str:
        run = run_captured(main, list(argv_prefix) + [a for a in args if a])
        return (run.stdout + run.stderr).strip() or f"(exit {run.rc})"
    return act


class LogViewerModel:
    """The maillog and the queue, with the administrator's actions."""

    def __init__(self, trace: Any = None, *, mailq: Callable[[], Any] | None = None,
                 hold: Callable[[str], Any] | None = None, release: Callable[[str], Any] | None = None,
                 delete: Callable[[str], Any] | None = None, flush: Callable[[], Any] | None = None) -> None:
        self.trace = trace
        self.mailq_fn = mailq
        self.actions: dict[str, Callable[..., Any] | None] = {"hold": hold, "release": release,
                                                              "delete": delete, "flush": flush}
        self.message = ""
        self.error = ""

    def hosts(self) -> list[str]:
        seen: dict[str, None] = {}
        for ev in self.trace or []:
            if ev.kind == "log":
                seen.setdefault(ev.host, None)
        return list(seen)

    def qids(self, host: str | None = None) -> list[str]:
        return queue_ids(self.trace, host) if self.trace is not None else []

    def lines(self, qid: str | None = None, host: str | None = None, contains: str | None = None) -> list[str]:
        """Maillog lines, optionally of one host, about one queue id, containing some text."""
        if self.trace is None:
            return []
        out = []
        for rec in log_records(self.trace, host=host or None):
            if qid and rec.qid != qid and qid not in rec.text:
                continue
            if contains and contains.lower() not in rec.line.lower():
                continue
            out.append(rec.line)
        return out

    def mailq(self) -> str:
        if self.mailq_fn is None:
            return "(mailq is not wired up in this notebook)"
        try:
            return str(self.mailq_fn())
        except Exception as exc:  # noqa: BLE001
            return "mailq failed: " + plain_error(exc)

    def act(self, action: str, qid: str = "") -> str:
        """Run hold / release / delete / flush; returns (and keeps in ``message``) what it said."""
        self.error, self.message = "", ""
        if action not in ACTIONS:
            self.error = f"Unknown action {action!r}: choose hold, release, delete or flush."
            return self.error
        fn = self.actions.get(action)
        if fn is None:
            self.error = f"{ACTIONS[action]} is not wired up in this notebook."
            return self.error
        if action != "flush" and not qid:
            self.error = f"Choose a queue id first ({ACTIONS[action]} works on one message)."
            return self.error
        try:
            out = fn(qid) if action != "flush" else fn()
        except Exception as exc:  # noqa: BLE001
            self.error = f"{ACTIONS[action]} failed: " + plain_error(exc)
            return self.error
        self.message = str(out) if out not in (None, "") else " ".join(filter(None, (ACTIONS[action], qid))) + ": done"
        return self.message


class LogViewer:
    """The ipywidgets view of a LogViewerModel."""

    ALL = "(all)"

    def __init__(self, model: LogViewerModel) -> None:
        import ipywidgets as w

        self.model = model
        self.host = w.Dropdown(description="host", layout=w.Layout(width="260px"))
        self.qid = w.Dropdown(description="queue id", layout=w.Layout(width="260px"))
        self.contains = w.Text(description="contains", continuous_update=False, layout=w.Layout(width="260px"))
        self.refresh_btn = w.Button(description="Refresh")
        self.log = w.HTML()
        self.mailq = w.HTML()
        self.buttons = {a: w.Button(description=f"{a} ({cmd})") for a, cmd in ACTIONS.items()}
        self.status = w.HTML()
        report = guarded(lambda text: setattr(self.status, "value", status_html(text, ok=False)))
        self.refresh_btn.on_click(report(lambda _: self.refresh()))
        for wid in (self.host, self.qid, self.contains):
            wid.observe(report(lambda _: self._show_log()), names="value")
        for a, b in self.buttons.items():
            b.on_click(report(lambda _, a=a: self._act(a)))
        self.widget = w.VBox([w.HBox([self.host, self.qid, self.contains, self.refresh_btn]), self.log,
                              w.HBox(list(self.buttons.values())), self.status, self.mailq])
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _sel(self, wid: Any) -> str | None:
        return None if wid.value in (None, self.ALL) else wid.value

    def refresh(self) -> None:
        host, qid = self._sel(self.host), self._sel(self.qid)
        self.host.options = [self.ALL, *self.model.hosts()]
        self.host.value = host if host in self.host.options else self.ALL
        self.qid.options = [self.ALL, *self.model.qids(self._sel(self.host))]
        self.qid.value = qid if qid in self.qid.options else self.ALL
        self._show_log()
        self.mailq.value = f"<b>mailq</b><pre style='margin:0'>{esc(self.model.mailq())}</pre>"

    def _show_log(self) -> None:
        lines = self.model.lines(self._sel(self.qid), self._sel(self.host), self.contains.value or None)
        self.log.value = ("<pre style='margin:0;max-height:22em;overflow:auto;font-size:12px'>"
                          + (esc("\n".join(lines)) or "(no log lines match)") + "</pre>")

    def _act(self, action: str) -> None:
        self.model.act(action, self._sel(self.qid) or "")
        self.status.value = status_html(self.model.error, ok=False) if self.model.error \
            else status_html(self.model.message)
        self.refresh()
