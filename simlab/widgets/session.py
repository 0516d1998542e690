"""NAME
    session - a client-side SMTP/LMTP/POP3/IMAP session that knows when replies are due

SUMMARY
    s = Session("smtp"); s.connect(VirtualChannel(net, pc, "10.0.0.25", 25))
    s.send("EHLO pc.example.com")              -> [Reply(...)]
    s.send_raw("MAIL FROM:<a@x>\\nRCPT TO:<b@y>\\nDATA\\n")   # one write: pipelining
    s.transcript, s.tutor.envelope(), s.explanations, s.error

DESCRIPTION
    A session writes lines and reads replies the way a careful telnet user
    would: it knows from ``viz.dialog.Framer`` how many replies the server owes
    (one per command; none for the lines of a message after 354; one per
    accepted recipient after an LMTP final dot; a tagged completion in IMAP)
    and waits for exactly those, so a pipelined block gets all its replies and
    a message body gets none until its final dot.

    Nothing raises: a refused connection, a timeout or a closed connection is
    a sentence in ``error`` and a note in the transcript, and the session
    stays usable (connect again).

PARAMETERS
    reply_timeout   seconds to wait for a due reply (virtual seconds on the
                    simulated network, where waiting costs no wall time)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..viz.dialog import Framer, Reply
from ._safe import plain_error
from .tutor_mailbox import ImapTutor, Pop3Tutor
from .tutor_smtp import Explanation, SmtpTutor


@dataclass
class Entry:
    """One transcript line: C (you), S (the server), note or error."""

    side: str
    text: str
    klass: str = ""
    time: float | None = None


def make_tutor(protocol: str) -> Any:
    if protocol in ("smtp", "lmtp"):
        return SmtpTutor(protocol)
    if protocol == "pop3":
        return Pop3Tutor()
    if protocol == "imap":
        return ImapTutor()
    raise ValueError(f"unknown protocol {protocol!r}: choose smtp, lmtp, pop3 or imap")


class Session:
    """One console session (any of the four protocols)."""

    def __init__(self, protocol: str = "smtp", reply_timeout: float = 30.0) -> None:
        self.reply_timeout = reply_timeout
        self.channel: Any = None
        self.transcript: list[Entry] = []
        self.history: list[str] = []
        self.explanations: list[Explanation] = []
        self.error = ""
        self.reset(protocol)

    def reset(self, protocol: str | None = None) -> None:
        """Forget the protocol state (a new connection starts from the greeting)."""
        self.protocol = protocol or self.protocol
        self.framer = Framer(self.protocol)
        self.tutor = make_tutor(self.protocol)

    # -- state ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.channel is not None and not getattr(self.channel, "eof", False)

    def _now(self) -> float | None:
        net = getattr(self.channel, "net", None)
        return net.now if net is not None else None

    def note(self, text: str, side: str = "note") -> None:
        self.transcript.append(Entry(side, text, time=self._now()))
        if side == "error":
            self.error = text

    # -- connecting ------------------------------------------------------------------------
    def connect(self, channel: Any, protocol: str | None = None) -> list[Reply]:
        """Open ``channel`` and read the greeting."""
        self.close()
        self.reset(protocol)
        self.error = ""
        self.explanations = []
        where = getattr(channel, "where", "")
        try:
            channel.open()
        except Exception as exc:  # noqa: BLE001
            self.channel = None
            self.note(plain_error(exc, where), "error")
            return []
        self.channel = channel
        self.note(f"Connected to {where} ({self.protocol.upper()}).")
        return self._collect()

    def close(self, quiet: bool = False) -> None:
        if self.channel is not None:
            try:
                self.channel.close()
            except Exception:  # noqa: BLE001 - closing a dead connection is fine
                pass
            if not quiet:
                self.note("Connection closed.")
        self.channel = None

    # -- talking -----------------------------------------------------------------------------
    def send(self, line: str) -> list[Reply]:
        """Send one line (CRLF added) and read the replies it is owed."""
        return self.send_lines([line.rstrip("\r\n")])

    def send_raw(self, text: str) -> list[Reply]:
        """Send several lines in ONE write (pipelining), then read every reply owed."""
        lines = text.replace("\r\n", "\n").split("\n")
        if text.endswith("\n"):
            lines.pop()
        return self.send_lines(lines)

    def send_lines(self, lines: list[str]) -> list[Reply]:
        self.explanations = []
        if not self.connected:
            self.note("You are not connected: choose a host and port and press Connect.", "error")
            return []
        self.error = ""
        try:
            self.channel.send("".join(ln + "\r\n" for ln in lines).encode("utf-8", "surrogateescape"))
        except Exception as exc:  # noqa: BLE001
            self.note(plain_error(exc, getattr(self.channel, "where", "")), "error")
            self._closed_by_server()
            return []
        replies: list[Reply] = []
        for ln in lines:
            role = self.framer.client(ln)
            self.transcript.append(Entry("C", ln, role, self._now()))
            self.tutor.client(ln, role)
            if role == "command" and ln.strip():
                self.history.append(ln)
            if self.framer.blocked():
                replies += self._collect(until_unblocked=True)
        replies += self._collect()
        return replies

    def poll(self, timeout: float = 1.0) -> list[Reply]:
        """Read whatever the server says on its own (a 421 on timeout, an IMAP update)."""
        if not self.connected:
            return []
        self.explanations = []
        out = []
        while True:
            rep = self._read_reply(timeout, quiet=True)
            if rep is None:
                return out
            out.append(rep)

    def _collect(self, until_unblocked: bool = False) -> list[Reply]:
        out: list[Reply] = []
        while self.connected and (self.framer.blocked() if until_unblocked else self.framer.awaiting()):
            rep = self._read_reply(self.reply_timeout)
            if rep is None:
                break
            out.append(rep)
            if rep.status == "+" and not until_unblocked:
                break
        if out and getattr(self.tutor, "closed", False) and self.connected:
            self._await_close()
        return out

    def _await_close(self) -> None:
        """After QUIT/LOGOUT (or a 421) the server hangs up: notice it."""
        try:
            line = self.channel.read_line(min(5.0, self.reply_timeout))
        except Exception:  # noqa: BLE001
            line = ""
        if line == "" and getattr(self.channel, "eof", True):
            self.note("The server closed the connection.")
            self._closed_by_server()
        elif line:
            self.transcript.append(Entry("S", line, "?", self._now()))

    def _read_reply(self, timeout: float, quiet: bool = False) -> Reply | None:
        start = len(self.transcript)
        while True:
            try:
                line = self.channel.read_line(timeout)
            except Exception as exc:  # noqa: BLE001
                self.note(plain_error(exc, getattr(self.channel, "where", "")), "error")
                self._closed_by_server()
                return None
            if line is None:
                if not quiet:
                    self.note(f"(no reply within {timeout:g} s: the server waits for more input, or is busy)")
                return None
            if line == "" and getattr(self.channel, "eof", False):
                self.note("The server closed the connection.")
                self._closed_by_server()
                return None
            self.transcript.append(Entry("S", line, "", self._now()))
            rep = self.framer.server(line)
            if rep is not None:
                for e in self.transcript[start:]:
                    if e.side == "S":
                        e.klass = rep.klass
                self.tutor.reply(rep)
                self.explanations.append(self.tutor.explain(rep))
                return rep

    def _closed_by_server(self) -> None:
        self.framer.pending.clear()
        self.close(quiet=True)

    # -- history -------------------------------------------------------------------------------
    def recall(self, steps_back: int = 1) -> str:
        """The command typed ``steps_back`` commands ago ("" when there is none)."""
        if steps_back < 1 or steps_back > len(self.history):
            return ""
        return self.history[-steps_back]

    def transcript_text(self) -> str:
        prefix = {"C": "C: ", "S": "S: ", "note": "-- ", "error": "!! "}
        return "\n".join(prefix[e.side] + e.text for e in self.transcript)
