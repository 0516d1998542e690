"""NAME
    console - a telnet-like console for SMTP, LMTP, POP3 and IMAP, with a tutor

SUMMARY
    m = ConsoleModel(net, "pc.example.com")          # the host you type from
    m.connect("10.0.0.25", 25)                       # or m.connect("127.0.0.1", 2525, real=True)
    m.send("EHLO pc.example.com"); m.send_raw("MAIL FROM:<a@x>\\nRCPT TO:<b@y>\\nDATA\\n")
    m.envelope_rows(); m.tutor_html(); m.transcript_html()
    ConsoleWidget(m)                                  # the ipywidgets view; display it in a cell

DESCRIPTION
    The model connects from a simulated host to a port of another (through
    ``host.open_connection``, waiting in virtual time) or to a real server on
    127.0.0.1 (``simlab serve``). You type one line at a time, or several in
    raw mode: they leave in one write, which is SMTP pipelining (RFC 2920),
    and every reply they are owed comes back in order. Beside the transcript:
    the envelope the server holds so far (or the POP3/IMAP state) and a tutor
    that explains each reply and suggests the next step.

    The protocol follows the port unless chosen: 25/587/2525 SMTP, 24/2524
    LMTP, 110/2110 POP3, 143/2143 IMAP. Errors (refused, timed out, closed)
    appear in the transcript in plain words; nothing raises.
"""

from __future__ import annotations

from typing import Any

from ..viz.dialog import PROTOCOLS, Reply, guess_protocol
from ._safe import esc, guarded, plain_error, status_html
from .channel import RealChannel, VirtualChannel
from .session import Session

SIDE_STYLE = {"C": "color:#000;font-weight:bold", "note": "color:#777;font-style:italic",
              "error": "color:#b03a00;font-weight:bold"}
KLASS_COLOUR = {"2": "#006d4f", "3": "#0072B2", "4": "#a86800", "5": "#b03a00", "?": "#555"}


class ConsoleModel:
    """Everything the console does, without a browser."""

    def __init__(self, net: Any = None, client_host: Any = None, protocol: str | None = None,
                 reply_timeout: float = 30.0, component: str = "console") -> None:
        self.net = net
        self.client_host = client_host
        self.protocol = protocol
        self.component = component
        self.session = Session(protocol or "smtp", reply_timeout)

    # -- actions ----------------------------------------------------------------------
    def connect(self, dest: str, port: int, protocol: str | None = None, real: bool = False) -> list[Reply]:
        """Connect to ``dest:port`` (a simulated host, or 127.0.0.1 with ``real``)."""
        proto = protocol or self.protocol or guess_protocol(int(port))
        if proto not in PROTOCOLS:
            self.session.note(f"Unknown protocol {proto!r}: choose one of {', '.join(PROTOCOLS)}.", "error")
            return []
        try:
            if real or self.net is None:
                channel: Any = RealChannel(int(port), (dest or "127.0.0.1").strip())
            else:
                if self.client_host is None:
                    raise ValueError("Say which simulated host you type from (client_host).")
                channel = VirtualChannel(self.net, self.client_host, dest.strip(), int(port), self.component)
        except Exception as exc:  # noqa: BLE001
            self.session.note(plain_error(exc), "error")
            return []
        return self.session.connect(channel, proto)

    def send(self, line: str) -> list[Reply]:
        return self.session.send(line)

    def send_raw(self, text: str) -> list[Reply]:
        return self.session.send_raw(text)

    def poll(self, timeout: float = 1.0) -> list[Reply]:
        return self.session.poll(timeout)

    def disconnect(self) -> None:
        if self.session.connected:
            self.session.close()

    # -- what the view shows ----------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.session.connected

    @property
    def error(self) -> str:
        return self.session.error

    def envelope_rows(self) -> list[tuple[str, str]]:
        return self.session.tutor.envelope()

    def envelope_title(self) -> str:
        return "The envelope the server holds" if self.session.protocol in ("smtp", "lmtp") else "Session state"

    def tutor_lines(self) -> list[str]:
        """The tutor's text as plain lines (what the panel shows)."""
        out = []
        for ex in self.session.explanations[-3:]:
            out.append(ex.title)
            out += ["  " + ln for ln in ex.lines]
            out.append("  see " + ex.rfc)
        out.append("Next: " + self.next_step())
        return out

    def next_step(self) -> str:
        if self.session.explanations:
            return self.session.explanations[-1].next_step
        if not self.connected:
            return "Choose a host and port, then press Connect."
        return "Type a command."

    def transcript_html(self, last: int = 200) -> str:
        rows = []
        for e in self.session.transcript[-last:]:
            t = f"<span style='color:#999'>{e.time:9.3f}</span> " if e.time is not None else ""
            if e.side == "S":
                style = f"color:{KLASS_COLOUR.get(e.klass, '#555')}"
                prefix = "S: "
            else:
                style = SIDE_STYLE[e.side]
                prefix = {"C": "C: ", "note": "-- ", "error": "!! "}[e.side]
            rows.append(f"{t}<span style='{style}'>{esc(prefix + e.text)}</span>")
        # column-reverse keeps the box scrolled to its bottom: the newest reply is always in sight
        return ("<div style='display:flex;flex-direction:column-reverse;max-height:26em;overflow:auto'>"
                "<pre style='margin:0;flex:none;font-family:monospace;font-size:12px;line-height:1.3'>"
                + ("\n".join(rows) or "<span style='color:#777'>(not connected)</span>") + "</pre></div>")

    def envelope_html(self) -> str:
        rows = "".join(f"<tr><td style='padding-right:8px;color:#555'>{esc(k)}</td>"
                       f"<td style='font-family:monospace'>{esc(v)}</td></tr>" for k, v in self.envelope_rows())
        return (f"<div style='line-height:1.4'><b>{esc(self.envelope_title())}</b>"
                f"<table style='line-height:1.3'>{rows}</table></div>")

    def tutor_html(self) -> str:
        parts = []
        for ex in self.session.explanations[-3:]:
            items = "".join(f"<li>{esc(ln)}</li>" for ln in ex.lines)
            parts.append(f"<div><b>{esc(ex.title)}</b><ul style='margin:2px 0 2px 16px;padding:0'>{items}</ul>"
                         f"<span style='color:#777;font-size:11px'>see {esc(ex.rfc)}</span></div>")
        parts.append(f"<div style='margin-top:4px'><b>Next:</b> {esc(self.next_step())}</div>")
        return "<div style='line-height:1.4'><b>Tutor</b>" + "".join(parts) + "</div>"


class ConsoleWidget:
    """The ipywidgets view of a ConsoleModel: ``display(ConsoleWidget(model))``."""

    def __init__(self, model: ConsoleModel, dest: str = "", port: int = 25) -> None:
        import ipywidgets as w

        self.model = model
        self._recall = 0
        self._clearing = False
        self.dest = w.Text(value=dest, description="host", layout=w.Layout(width="280px"))
        self.port = w.IntText(value=port, description="port", layout=w.Layout(width="150px"))
        self.protocol = w.Dropdown(options=["auto", *PROTOCOLS], value=model.protocol or "auto",
                                   description="protocol", layout=w.Layout(width="190px"))
        self.real = w.Checkbox(value=model.net is None, description="real socket (127.0.0.1)", indent=False)
        self.connect_btn = w.Button(description="Connect", button_style="primary")
        self.close_btn = w.Button(description="Disconnect")
        self.poll_btn = w.Button(description="Listen", tooltip="show what the server says on its own (1 s)")
        self.line = w.Text(placeholder="type a command, press Enter or Send", continuous_update=False,
                           layout=w.Layout(flex="1 1 auto", width="auto"))
        fit = w.Layout(width="auto", flex="0 0 auto")
        self.send_btn = w.Button(description="Send", layout=fit)
        self.up_btn = w.Button(description="↑ history", tooltip="recall an earlier command", layout=fit)
        self.empty_btn = w.Button(description="⏎ empty line", tooltip="send an empty line (between headers and body)",
                                  layout=fit)
        self.raw = w.Textarea(placeholder="several lines, sent in one write (pipelining)",
                              layout=w.Layout(width="60%", height="7em"))
        self.raw_btn = w.Button(description="Send all at once")
        self.transcript = w.HTML()
        self.envelope = w.HTML()
        self.tutor = w.HTML()
        self.status = w.HTML()
        report = guarded(self._report)
        self.connect_btn.on_click(report(lambda _: self._do(self._connect)))
        self.close_btn.on_click(report(lambda _: self._do(self.model.disconnect)))
        self.poll_btn.on_click(report(lambda _: self._do(self.model.poll)))
        self.send_btn.on_click(report(lambda _: self._do(self._send_line) if self.line.value else None))
        self.empty_btn.on_click(report(lambda _: self._do(lambda: self.model.send(""))))
        self.up_btn.on_click(report(lambda _: self._history()))
        self.raw_btn.on_click(report(lambda _: self._do(self._send_raw)))
        self.line.observe(report(self._on_enter), names="value")
        self.widget = w.VBox([
            w.HBox([self.dest, self.port, self.protocol, self.real, self.connect_btn, self.close_btn,
                    self.poll_btn]),
            w.HBox([w.VBox([self.transcript, w.HBox([self.line, self.send_btn, self.empty_btn, self.up_btn]),
                            w.HBox([self.raw, self.raw_btn])], layout=w.Layout(width="64%")),
                    w.VBox([self.envelope, self.tutor], layout=w.Layout(width="36%", padding="0 0 0 8px"))]),
            self.status])
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _report(self, text: str) -> None:
        self.status.value = status_html(text, ok=False)

    def _do(self, action: Any) -> None:
        action()
        self.refresh()

    def _connect(self) -> None:
        proto = None if self.protocol.value == "auto" else self.protocol.value
        self.model.connect(self.dest.value, self.port.value, proto, real=self.real.value)

    def _send_line(self) -> None:
        text, self._clearing = self.line.value, True
        self.line.value = ""
        self._clearing = False
        self._recall = 0
        self.model.send(text)

    def _on_enter(self, change: dict[str, Any]) -> None:
        if getattr(self, "_clearing", False) or not change.get("new"):
            return
        self._do(self._send_line)

    def _send_raw(self) -> None:
        self.model.send_raw(self.raw.value)

    def _history(self) -> None:
        self._recall += 1
        text = self.model.session.recall(self._recall)
        if not text:
            self._recall = 0
            text = ""
        self._clearing = True
        self.line.value = text
        self._clearing = False

    def refresh(self) -> None:
        self.transcript.value = self.model.transcript_html()
        self.envelope.value = self.model.envelope_html()
        self.tutor.value = self.model.tutor_html()
        self.status.value = status_html(self.model.error, ok=False) if self.model.error else \
            status_html("connected" if self.model.connected else "not connected", ok=self.model.connected)
