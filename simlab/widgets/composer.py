"""NAME
    composer - write a message (envelope beside headers), send it, read a mailbox

SUMMARY
    c = ComposerModel(smtp_sender(net, "pc.example.com", "10.0.0.25", 587), settle=net.run)
    c.from_, c.to, c.bcc, c.subject, c.body = "alice@example.com", "bob@oreilly.com", "carol@x", "Hi", "..."
    c.envelope() -> ("alice@example.com", ["bob@oreilly.com", "carol@x"]);  c.header_block()  # no Bcc
    c.send() -> SendResult(ok, text, qid, transcript)
    box = MailboxModel(pop3_reader(net, "bobpc.oreilly.com", "10.0.0.26", 110, "bob", "bob-pw"), label="bob, POP3")
    box.refresh(); box.items[0].headers, .body, .flags
    ComposerWidget(c, box)                       # its fields start from c's; box.label names the mailbox

DESCRIPTION
    The envelope (MAIL FROM and one RCPT TO per To, Cc and Bcc address) is
    what the servers use to deliver; the headers are what the reader sees.
    Bcc is the lesson: its addresses are in the envelope and nowhere in the
    message. Date and Message-ID are left out on purpose: Postfix's cleanup(8)
    adds them (in the local rewrite context), which the mailbox then shows.

    Sending goes through any callable (the simulated MUA when it is wired);
    ``smtp_sender`` is one that speaks SMTP through a console Session.
    Reading goes through ``pop3_reader`` or ``imap_reader`` (IMAP shows the
    flags; POP3 has none). Every failure is a sentence, never an exception.
"""

from __future__ import annotations

import email
import email.policy
import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, Callable

from ._safe import esc, guarded, plain_error, status_html
from .channel import RealChannel, VirtualChannel
from .session import Session


@dataclass
class SendResult:
    ok: bool
    text: str
    qid: str = ""
    transcript: str = ""


@dataclass
class MailItem:
    number: int
    size: int
    raw: str
    flags: list[str] | None = None        # None: the protocol has no flags (POP3)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""


_ADDR = re.compile(r"[^@\s<>]+@[^@\s<>]+")


def addresses(field_value: str) -> list[str]:
    """The bare addresses of a To/Cc/Bcc field ("Bob <bob@x>, carol@y" -> ["bob@x", "carol@y"])."""
    return [a for _, a in getaddresses([field_value or ""]) if a]


class ComposerModel:
    """A message being written, its envelope, and sending it."""

    def __init__(self, send: Callable[[EmailMessage, str, list[str]], Any] | None = None,
                 settle: Callable[[], Any] | None = None) -> None:
        self.sender_fn = send
        self.settle = settle
        self.from_ = ""
        self.to = ""
        self.cc = ""
        self.bcc = ""
        self.subject = ""
        self.body = ""
        self.envelope_from = ""          # empty: the From address
        self.result: SendResult | None = None

    def envelope(self) -> tuple[str, list[str]]:
        sender = self.envelope_from or next(iter(addresses(self.from_)), "")
        rcpts: list[str] = []
        for a in addresses(self.to) + addresses(self.cc) + addresses(self.bcc):
            if a not in rcpts:
                rcpts.append(a)
        return sender, rcpts

    def message(self) -> EmailMessage:
        msg = EmailMessage(policy=email.policy.SMTP)
        for name, value in (("From", self.from_), ("To", self.to), ("Cc", self.cc), ("Subject", self.subject)):
            if value.strip():
                msg[name] = value.strip()
        msg.set_content(self.body or "")
        return msg

    def header_block(self) -> str:
        return "".join(f"{k}: {v}\n" for k, v in self.message().items())

    def problems(self) -> list[str]:
        sender, rcpts = self.envelope()
        out = []
        if not sender:
            out.append("Fill in From: (it also becomes MAIL FROM).")
        if not rcpts:
            out.append("Give at least one recipient in To:, Cc: or Bcc:.")
        for name, value in (("From", self.from_), ("To", self.to), ("Cc", self.cc), ("Bcc", self.bcc),
                            ("envelope sender", self.envelope_from)):
            found = [a for _, a in getaddresses([value or ""])]
            if value.strip() and (not found or any(not _ADDR.fullmatch(a) for a in found)):
                out.append(f"{name}: {value.strip()!r} is not a list of addresses like user@example.com.")
        return out

    def send(self) -> SendResult:
        problems = self.problems()
        if problems:
            self.result = SendResult(False, " ".join(problems))
            return self.result
        if self.sender_fn is None:
            self.result = SendResult(False, "Sending is not wired up in this notebook (no sender given).")
            return self.result
        sender, rcpts = self.envelope()
        try:
            out = self.sender_fn(self.message(), sender, rcpts)
        except Exception as exc:  # noqa: BLE001
            self.result = SendResult(False, plain_error(exc))
            return self.result
        self.result = out if isinstance(out, SendResult) else SendResult(True, str(out or "sent"))
        if self.result.ok and self.settle is not None:
            try:
                self.settle()
            except Exception as exc:  # noqa: BLE001
                self.result.text += f" (but running the network failed: {plain_error(exc)})"
        return self.result


def _channel(net: Any, from_host: Any, dest: str, port: int, real: bool) -> Any:
    return RealChannel(port, dest) if real or net is None else VirtualChannel(net, from_host, dest, port, "mua")


def smtp_sender(net: Any, from_host: Any, dest: str, port: int = 25, helo: str | None = None,
                real: bool = False) -> Callable[[EmailMessage, str, list[str]], SendResult]:
    """A sender that runs one SMTP transaction (EHLO, MAIL, RCPT..., DATA, QUIT)."""
    def send(msg: EmailMessage, sender: str, rcpts: list[str]) -> SendResult:
        s = Session("smtp")
        s.connect(_channel(net, from_host, dest, port, real))
        name = helo or (from_host if isinstance(from_host, str) else getattr(from_host, "name", "localhost"))
        steps = [f"EHLO {name}", f"MAIL FROM:<{sender}>", *[f"RCPT TO:<{r}>" for r in rcpts], "DATA"]
        qid, failed = "", ""
        if not s.connected:
            return SendResult(False, s.error, transcript=s.transcript_text())
        for cmd in steps:
            reps = s.send(cmd)
            if not reps or reps[-1].klass not in "23":
                if not cmd.startswith("RCPT"):
                    failed = (reps[-1].lines[-1] if reps else s.error or "no reply")
                    break
        if not failed:
            text = msg.as_string().replace("\r\n", "\n")
            lines = [("." + ln if ln.startswith(".") else ln) for ln in text.split("\n")]
            if lines and lines[-1] == "":
                lines.pop()
            reps = s.send_raw("\n".join(lines + ["."]) + "\n")
            last = reps[-1].lines[-1] if reps else s.error or "no reply"
            m = re.search(r"queued as (\S+)", last)
            qid = m.group(1) if m else ""
            if not reps or reps[-1].klass != "2":
                failed = last
        if s.connected:
            s.send("QUIT")
        if failed:
            return SendResult(False, f"The server refused the message: {failed}", transcript=s.transcript_text())
        return SendResult(True, f"Accepted: queued as {qid}" if qid else "Accepted.", qid, s.transcript_text())
    return send


def _parse(number: int, raw: str, flags: list[str] | None) -> MailItem:
    msg = email.message_from_string(raw, policy=email.policy.default)
    body_part = msg.get_body(preferencelist=("plain", "html")) if msg.is_multipart() else msg
    try:
        body = body_part.get_content() if body_part is not None else ""
    except Exception:  # noqa: BLE001 - show the raw text when the MIME is odd
        body = raw.split("\n\n", 1)[-1]
    return MailItem(number, len(raw.encode()), raw, flags, [(k, str(v)) for k, v in msg.items()], body)


def pop3_reader(net: Any, from_host: Any, dest: str, port: int, user: str, password: str,
                real: bool = False) -> Callable[[], list[MailItem]]:
    """Read every message of a mailbox over POP3 (USER, PASS, STAT, RETR..., QUIT)."""
    def read() -> list[MailItem]:
        s = Session("pop3")
        s.connect(_channel(net, from_host, dest, port, real))
        if not s.connected:
            raise ConnectionError(s.error)
        for cmd in (f"USER {user}", f"PASS {password}"):
            reps = s.send(cmd)
            if not reps or reps[-1].status != "+OK":
                raise PermissionError(f"POP3 login as {user} failed: "
                                      f"{reps[-1].lines[0] if reps else s.error}")
        reps = s.send("STAT")
        count = int(reps[-1].lines[0].split()[1]) if reps and reps[-1].status == "+OK" else 0
        items = []
        for i in range(1, count + 1):
            reps = s.send(f"RETR {i}")
            if reps and reps[-1].status == "+OK":
                lines = [ln[1:] if ln.startswith("..") else ln for ln in reps[-1].lines[1:-1]]
                items.append(_parse(i, "\n".join(lines) + "\n", None))
        s.send("QUIT")
        return items
    return read


_FETCH = re.compile(r"^\* (\d+) FETCH \((.*)\{(\d+)\}$")
_FLAGS = re.compile(r"FLAGS \(([^)]*)\)")


def _imap_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_reader(net: Any, from_host: Any, dest: str, port: int, user: str, password: str,
                mailbox: str = "INBOX", real: bool = False) -> Callable[[], list[MailItem]]:
    """Read every message with its flags over IMAP (LOGIN, SELECT, FETCH 1:* (FLAGS BODY.PEEK[]))."""
    def read() -> list[MailItem]:
        s = Session("imap")
        s.connect(_channel(net, from_host, dest, port, real))
        if not s.connected:
            raise ConnectionError(s.error)
        reps = s.send(f"a1 LOGIN {_imap_quote(user)} {_imap_quote(password)}")
        if not reps or reps[-1].status != "OK":
            raise PermissionError(f"IMAP login as {user} failed: {reps[-1].lines[-1] if reps else s.error}")
        reps = s.send(f"a2 SELECT {_imap_quote(mailbox)}")
        if not reps or reps[-1].status != "OK":
            raise LookupError(f"Cannot open the mailbox {mailbox}: {reps[-1].lines[-1] if reps else s.error}")
        exists = next((int(ln.split()[1]) for ln in reps[-1].lines if re.match(r"^\* \d+ EXISTS", ln)), 0)
        items: list[MailItem] = []
        if exists:
            reps = s.send("a3 FETCH 1:* (FLAGS BODY.PEEK[])")
            items = _fetched(reps[-1].lines if reps else [])
        s.send("a4 LOGOUT")
        return items
    return read


def _fetched(lines: list[str]) -> list[MailItem]:
    items: list[MailItem] = []
    i = 0
    while i < len(lines):
        m = _FETCH.match(lines[i])
        i += 1
        if not m:
            continue
        want, got, body = int(m.group(3)), 0, []
        while i < len(lines) and got < want:
            body.append(lines[i])
            got += len(lines[i].encode()) + 2
            i += 1
        after = lines[i] if i < len(lines) else ""
        fm = _FLAGS.search(m.group(2)) or _FLAGS.search(after)
        flags = fm.group(1).split() if fm else []
        items.append(_parse(int(m.group(1)), "\n".join(body) + "\n", flags))
    return items


class MailboxModel:
    """A mailbox as the reader sees it."""

    def __init__(self, reader: Callable[[], list[MailItem]] | None = None, label: str = "") -> None:
        self.reader = reader
        self.label = label                # whose mailbox, read how ("bob on mail.example.com, over IMAP")
        self.items: list[MailItem] = []
        self.error = ""

    def refresh(self) -> list[MailItem]:
        self.error = ""
        if self.reader is None:
            self.error = "Reading a mailbox is not wired up in this notebook (no reader given)."
            return self.items
        try:
            self.items = list(self.reader())
        except Exception as exc:  # noqa: BLE001
            self.error = str(exc) if isinstance(exc, (PermissionError, ConnectionError, LookupError)) and str(exc) \
                else plain_error(exc)
        return self.items

    def summary(self) -> list[str]:
        out = []
        for it in self.items:
            h = {k.lower(): v for k, v in it.headers}
            out.append(f"{it.number}. {h.get('from', '(no From:)')} — {h.get('subject', '(no subject)')}")
        return out

    def item_html(self, index: int) -> str:
        if not 0 <= index < len(self.items):
            return "<i>no message selected</i>"
        it = self.items[index]
        flags = ("(POP3 has no flags: the server only knows what you marked DELE)" if it.flags is None
                 else " ".join(it.flags) or "(no flags: not read yet)")
        rows = "".join(f"<tr><td style='color:#555;padding-right:6px;vertical-align:top'>{esc(k)}:</td>"
                       f"<td style='font-family:monospace'>{esc(v)}</td></tr>" for k, v in it.headers)
        return (f"<div style='line-height:1.3'><b>flags:</b> {esc(flags)}<table>{rows}</table>"
                f"<pre style='border-top:1px solid #ccc;padding-top:4px'>{html.escape(it.body)}</pre></div>")


class ComposerWidget:
    """The ipywidgets view: compose (envelope | headers), send, then read a mailbox.

    The fields start from the model's values, so a notebook can hand students a filled-in message.
    """

    def __init__(self, composer: ComposerModel, mailbox: MailboxModel | None = None) -> None:
        import ipywidgets as w

        self.model, self.mailbox = composer, mailbox or MailboxModel()
        lay = w.Layout(width="95%")
        start = {"From": composer.from_, "To": composer.to, "Cc": composer.cc, "Bcc": composer.bcc,
                 "Subject": composer.subject}
        self.fields = {name: w.Text(value=value, description=name, layout=lay, continuous_update=True)
                       for name, value in start.items()}
        self.body = w.Textarea(value=composer.body, description="body", layout=w.Layout(width="95%", height="8em"))
        self.envelope = w.HTML()
        self.headers = w.HTML()
        self.send_btn = w.Button(description="Send", button_style="primary")
        self.result = w.HTML()
        self.read_btn = w.Button(description="Read mailbox")
        self.list = w.Select(options=[], rows=6, layout=w.Layout(width="95%"))
        self.view = w.HTML()
        report = guarded(lambda text: setattr(self.result, "value", status_html(text, ok=False)))
        for f in [*self.fields.values(), self.body]:
            f.observe(report(lambda _: self._sync()), names="value")
        self.send_btn.on_click(report(lambda _: self._send()))
        self.read_btn.on_click(report(lambda _: self._read()))
        self.list.observe(report(lambda _: self._show()), names="index")
        self.widget = w.VBox([
            w.HBox([w.VBox([*self.fields.values(), self.body], layout=w.Layout(width="50%")),
                    w.VBox([self.envelope, self.headers], layout=w.Layout(width="50%"))]),
            w.HBox([self.send_btn, self.result]),
            w.HBox([self.read_btn, w.HTML(f"<b>Mailbox:</b> {esc(self.mailbox.label)}" if self.mailbox.label else "")]),
            self.list, self.view])
        self._sync()

    def _ipython_display_(self) -> None:
        from IPython.display import display
        display(self.widget)

    def _sync(self) -> None:
        m = self.model
        m.from_, m.to, m.cc, m.bcc, m.subject = (self.fields[k].value for k in ("From", "To", "Cc", "Bcc", "Subject"))
        m.body = self.body.value
        sender, rcpts = m.envelope()
        env = [f"MAIL FROM:&lt;{esc(sender)}&gt;"] + [
            f"RCPT TO:&lt;{esc(r)}&gt;" + (" <i>(Bcc: only here)</i>" if r in addresses(m.bcc) else "") for r in rcpts]
        self.envelope.value = ("<b>Envelope</b> (what the servers use)<pre style='margin:0'>" + "\n".join(env)
                               + "</pre>")
        self.headers.value = ("<b>Message headers</b> (what the reader sees; cleanup adds Date and Message-Id)"
                              f"<pre style='margin:0'>{esc(m.header_block())}</pre>")

    def _send(self) -> None:
        self._sync()
        r = self.model.send()
        self.result.value = status_html(r.text, ok=r.ok)

    def _read(self) -> None:
        self.mailbox.refresh()
        self.list.options = self.mailbox.summary()
        if self.mailbox.error:
            self.view.value = status_html(self.mailbox.error, ok=False)
        else:
            self.view.value = "<i>the mailbox is empty</i>" if not self.mailbox.items else ""
            if self.mailbox.items:
                self.list.index = 0
                self._show()

    def _show(self) -> None:
        idx = self.list.index if self.list.index is not None else -1
        self.view.value = self.mailbox.item_html(idx)
