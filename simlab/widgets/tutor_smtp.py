"""NAME
    tutor_smtp - what an SMTP or LMTP reply means, and what to type next

SUMMARY
    t = SmtpTutor("smtp"); t.client("MAIL FROM:<a@x>", "command"); t.reply(reply)
    t.explain(reply) -> Explanation(code, title, lines, rfc, next_step)
    t.envelope()     -> [("HELO/EHLO", "pc.example.com"), ("MAIL FROM", "<a@x>"), ...]
    enhanced_meaning("5.1.1") -> "permanent failure · addressing · bad destination mailbox address"

DESCRIPTION
    The tutor follows the session the way the server does: the HELO name, the
    envelope sender and the accepted recipients (the envelope the server holds
    so far), and each message it took ("queued as ..."). It explains a reply
    from its three digits (RFC 5321 section 4.2.1: the first digit says
    success / go on / try later / give up, the second what area it is about),
    the meaning of that code (section 4.2.2/4.2.3), and the enhanced status
    code (RFC 3463 and the RFC 5248 registry: class.subject.detail), then
    suggests the next step. LMTP (RFC 2033) is SMTP with LHLO and one reply
    per accepted recipient after the final dot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..viz.dialog import Reply

ENH = re.compile(r"^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})\b")
CODES = {
    "211": ("System status", "4.2.3"), "214": ("Help message", "4.2.3"),
    "220": ("Service ready: the server greets you", "3.1"),
    "221": ("Service closing the connection (goodbye)", "4.1.1.10"),
    "235": ("Authentication succeeded (RFC 4954)", "4.2.3"),
    "250": ("Requested action okay, completed", "4.2.2"),
    "251": ("User not local; the server will forward the mail", "3.4"),
    "252": ("Cannot verify the user, but the server will accept mail for it and try", "3.5.3"),
    "334": ("Authentication: the server waits for your next answer (base64, RFC 4954)", "4.2.3"),
    "354": ("Start the message; end it with a line holding only a dot", "4.1.1.4"),
    "421": ("Service not available: the server is closing the connection", "3.8"),
    "450": ("Mailbox unavailable for now (busy, or a policy asks you to come back later)", "4.2.2"),
    "451": ("Action aborted: an error on the server's side", "4.2.2"),
    "452": ("Not now: insufficient storage, or too many recipients in this transaction", "4.5.3.1.10"),
    "454": ("Temporary failure: TLS not available, or (Postfix) relaying is not allowed for now", "4.2.3"),
    "455": ("The server cannot accommodate these parameters now", "4.2.3"),
    "500": ("Syntax error: command not recognized (or the line is too long)", "4.2.2"),
    "501": ("Syntax error in the parameters or arguments", "4.2.2"),
    "502": ("Command not implemented (or switched off)", "4.2.4"),
    "503": ("Bad sequence of commands: this command is not allowed at this point", "4.3.2"),
    "504": ("Command parameter not implemented", "4.2.2"),
    "521": ("This host accepts no mail", "4.2.3"),
    "550": ("Refused: mailbox unavailable (no such user) or rejected by policy", "4.2.2"),
    "551": ("User not local: try another path", "3.4"),
    "552": ("Exceeded storage allocation: the message is too big", "4.5.3.1.10"),
    "553": ("Mailbox name not allowed (bad address syntax)", "4.2.2"),
    "554": ("Transaction failed (no valid recipients, content refused, or no service)", "4.2.2"),
    "555": ("MAIL FROM/RCPT TO parameters not recognized or not implemented", "4.2.3"),
}
FIRST = {"2": "2xx: success — the server did what you asked.",
         "3": "3xx: go on — the server waits for more from you.",
         "4": "4xx: temporary failure — nothing was done; trying again later may work.",
         "5": "5xx: permanent failure — nothing was done; repeating the same command will fail again."}
SECOND = {"0": "x0x: about syntax.", "1": "x1x: information (status, help).",
          "2": "x2x: about the connection.", "3": "x3x: not specified by RFC 5321 (authentication uses 334/235).",
          "4": "x4x: not specified by RFC 5321.", "5": "x5x: about the mail system (mailboxes, the message)."}
ENH_CLASS = {"2": "success", "4": "persistent transient failure (try later)", "5": "permanent failure"}
ENH_SUBJECT = {"0": "other or undefined", "1": "addressing", "2": "mailbox", "3": "mail system",
               "4": "network and routing", "5": "mail delivery protocol", "6": "message content or media",
               "7": "security or policy"}
ENH_DETAIL = {
    "0.0": "other undefined status",
    "1.0": "other address status", "1.1": "bad destination mailbox address (no such user)",
    "1.2": "bad destination system address", "1.3": "bad destination mailbox address syntax",
    "1.4": "destination mailbox address ambiguous", "1.5": "destination address valid",
    "1.6": "destination mailbox has moved", "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address", "1.10": "recipient address has null MX",
    "2.0": "other or undefined mailbox status", "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full", "2.3": "message length exceeds administrative limit",
    "2.4": "mailing list expansion problem",
    "3.0": "other or undefined mail system status", "3.1": "mail system full",
    "3.2": "system not accepting network messages", "3.3": "system not capable of selected features",
    "3.4": "message too big for system", "3.5": "system incorrectly configured",
    "4.0": "other or undefined network or routing status", "4.1": "no answer from host",
    "4.2": "bad connection", "4.3": "directory server (DNS) failure", "4.4": "unable to route",
    "4.5": "mail system congestion", "4.6": "routing loop detected", "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status", "5.1": "invalid command", "5.2": "syntax error",
    "5.3": "too many recipients", "5.4": "invalid command arguments", "5.5": "wrong protocol version",
    "5.6": "authentication exchange line is too long",
    "6.0": "other or undefined media error", "6.1": "media not supported",
    "6.2": "conversion required and prohibited", "6.3": "conversion required but not supported",
    "6.4": "conversion with loss performed", "6.5": "conversion failed",
    "6.7": "non-ASCII addresses not permitted for that sender/recipient",
    "7.0": "other or undefined security status", "7.1": "delivery not authorized, message refused",
    "7.2": "mailing list expansion prohibited", "7.3": "security conversion required but not possible",
    "7.4": "security features not supported", "7.5": "cryptographic failure",
    "7.7": "message integrity failure", "7.8": "authentication credentials invalid",
    "7.9": "authentication mechanism is too weak", "7.10": "encryption needed",
    "7.13": "user account disabled", "7.25": "reverse DNS validation failed",
    "7.27": "sender address has null MX",
}
COMMAND_SECTIONS = {"EHLO": "4.1.1.1", "HELO": "4.1.1.1", "LHLO": "RFC 2033 4.1", "MAIL": "4.1.1.2",
                    "RCPT": "4.1.1.3", "DATA": "4.1.1.4", "RSET": "4.1.1.5", "VRFY": "4.1.1.6",
                    "EXPN": "4.1.1.7", "HELP": "4.1.1.8", "NOOP": "4.1.1.9", "QUIT": "4.1.1.10",
                    "BDAT": "RFC 3030 2", "STARTTLS": "RFC 3207 4", "AUTH": "RFC 4954 4",
                    "ETRN": "RFC 1985 5"}


def enhanced_meaning(code: str) -> str:
    """'5.1.1' -> 'permanent failure · addressing · bad destination mailbox address (no such user)'."""
    cls, subject, detail = code.split(".")
    what = ENH_DETAIL.get(f"{subject}.{detail}", "a detail code not in the registry")
    return f"{ENH_CLASS.get(cls, '?')} · {ENH_SUBJECT.get(subject, '?')} · {what}"


@dataclass
class Explanation:
    code: str
    title: str
    lines: list[str] = field(default_factory=list)
    rfc: str = ""
    next_step: str = ""


class SmtpTutor:
    """The envelope of an SMTP/LMTP session and the meaning of its replies."""

    def __init__(self, protocol: str = "smtp") -> None:
        self.protocol = protocol
        self.helo = ""
        self.extensions: list[str] = []
        self.sender: str | None = None
        self.rcpts: list[str] = []
        self.refused: list[str] = []
        self.in_data = False
        self.data_lines = 0
        self.messages: list[tuple[str, list[str], str]] = []   # sender, recipients, the server's answer
        self.closed = False
        self._lmtp_seen = 0

    # -- following the session ------------------------------------------------------
    def client(self, line: str, role: str) -> None:
        if role in ("content", "content-end") and self.in_data:
            self.data_lines += role == "content"

    def reply(self, rep: Reply) -> None:
        verb = rep.command.split(" ", 1)[0].split(":", 1)[0].upper()
        arg = _address(rep.command)
        ok = rep.klass == "2"
        if rep.status == "221" or rep.status == "421":
            self.closed = True
        if verb in ("EHLO", "HELO", "LHLO") and ok:
            self.helo = rep.command.split(" ", 1)[1].strip() if " " in rep.command.strip() else ""
            self.extensions = [ln[4:] for ln in rep.lines[1:]]
            self._reset()
        elif verb == "MAIL" and ok:
            self._reset()
            self.sender = arg
        elif verb == "RCPT" and (ok or self.sender is not None):
            (self.rcpts if ok else self.refused).append(arg)
        elif verb == "RSET" and ok:
            self._reset()
        elif verb == "DATA" and rep.status == "354":
            self.in_data, self.data_lines = True, 0
        elif rep.command == "." or (verb == "BDAT" and "LAST" in rep.command.upper()):
            self.in_data = False
            if self.protocol == "lmtp" and self.rcpts:
                i, self._lmtp_seen = self._lmtp_seen, self._lmtp_seen + 1
                rcpt = self.rcpts[min(i, len(self.rcpts) - 1)]
                self.messages.append((self.sender or "", [rcpt], rep.lines[-1]))
                if self._lmtp_seen >= len(self.rcpts):
                    self._lmtp_seen = 0
                    self._reset()
            else:
                if ok:
                    self.messages.append((self.sender or "", list(self.rcpts), rep.lines[-1]))
                self._reset()

    def _reset(self) -> None:
        self.sender, self.rcpts, self.refused, self.in_data = None, [], [], False

    def envelope(self) -> list[tuple[str, str]]:
        """What the server holds so far, as (label, value) rows."""
        hello = {"lmtp": "LHLO"}.get(self.protocol, "HELO/EHLO")
        rows = [(hello, self.helo or "(not yet)"),
                ("MAIL FROM", "(none)" if self.sender is None else f"<{self.sender}>"),
                ("RCPT TO", ", ".join(f"<{r}>" for r in self.rcpts) or "(none)")]
        if self.refused:
            rows.append(("refused", ", ".join(f"<{r}>" for r in self.refused)))
        if self.in_data:
            rows.append(("DATA", f"{self.data_lines} lines so far — end with a line holding only '.'"))
        for sender, rcpts, answer in self.messages[-3:]:
            rows.append(("message", f"<{sender}> → {', '.join(rcpts)}: {answer}"))
        return rows

    # -- explaining ---------------------------------------------------------------------
    def explain(self, rep: Reply) -> Explanation:
        code = rep.status
        text = rep.lines[-1] if rep.lines else ""
        title, section = CODES.get(code, ("A reply code RFC 5321 does not define", "4.2"))
        lines = [FIRST.get(code[:1], "Not an SMTP reply: the server's line does not start with three digits.")]
        if code[1:2] in SECOND:
            lines.append(SECOND[code[1]])
        m = ENH.match(text)
        if m:
            enh = ".".join(m.groups())
            lines.append(f"Enhanced status code {enh}: {enhanced_meaning(enh)} (RFC 3463).")
        lines += self._hints(rep)
        verb = rep.command.split(" ", 1)[0].split(":", 1)[0].upper()
        rfc = f"RFC 5321 section {section}" if not section.startswith("RFC") else section
        if verb in COMMAND_SECTIONS:
            sec = COMMAND_SECTIONS[verb]
            rfc += f"; {verb}: " + (sec if sec.startswith("RFC") else f"RFC 5321 section {sec}")
        if self.protocol == "lmtp":
            rfc += "; LMTP: RFC 2033"
        return Explanation(code, f"{code} — {title}", lines, rfc, self.next_step(rep))

    def _hints(self, rep: Reply) -> list[str]:
        text = " ".join(rep.lines).lower()
        verb = rep.command.split(" ", 1)[0].split(":", 1)[0].upper()
        out = []
        if "relay access denied" in text:
            out.append("The server is not the destination for this domain and you are not one of its own "
                       "clients (mynetworks), so it will not pass the mail on: this is what stops open relays.")
        if "user unknown" in text:
            out.append("The server serves this domain but has no such user: the mail is refused now, "
                       "in the session, instead of being bounced later.")
        if rep.status == "250" and verb == "RCPT" and self.protocol == "smtp":
            out.append("The recipient is now in the envelope; the message headers (To:, Cc:) do not matter "
                       "for delivery.")
        if "queued as" in text:
            out.append("The server has written the message to its queue: from now on delivering it (or "
                       "bouncing it) is the server's job.")
        if rep.status == "354":
            out.append("Lines starting with a dot are sent with an extra dot (dot-stuffing, RFC 5321 section 4.5.2).")
        if verb == "DATA" and rep.status == "554":
            out.append("No RCPT TO was accepted in this transaction, so there is nobody to deliver to.")
        return out

    def next_step(self, rep: Reply) -> str:
        verb = rep.command.split(" ", 1)[0].split(":", 1)[0].upper()
        hello = "LHLO" if self.protocol == "lmtp" else "EHLO"
        if self.closed:
            return "The session is over; connect again to start a new one."
        if rep.status == "354":
            return "Type the message: headers (From:, To:, Subject:), an empty line, the body, then '.' alone."
        if rep.command == "" and rep.klass == "2":
            return f"Introduce yourself: {hello} your.host.name"
        if rep.status == "503":
            if not self.helo and "helo" in rep.text.lower():
                return f"Say {hello} first."
            if self.sender is None:
                return "Start a transaction first: MAIL FROM:<you@example.com>"
            if not self.rcpts:
                return "Give a recipient first: RCPT TO:<someone@example.com>"
            return "Finish this step first, or RSET to start over."
        if rep.status in ("500", "502"):
            return f"Try a command the server knows: {hello}, MAIL FROM:<…>, RCPT TO:<…>, DATA, RSET, NOOP, QUIT."
        if rep.status in ("501", "553", "555"):
            return ("Check the syntax: MAIL FROM:<you@example.com> and RCPT TO:<them@example.com>, "
                    "angle brackets included.")
        if self.in_data:
            return "Go on with the message; a line with only '.' ends it."
        if verb in ("EHLO", "HELO", "LHLO") and rep.klass == "2":
            return "Start a transaction: MAIL FROM:<you@example.com>"
        if verb == "MAIL" and rep.klass == "2":
            return "Name a recipient: RCPT TO:<someone@example.com>"
        if verb == "RCPT":
            if self.rcpts:
                return "Add another RCPT TO, or type DATA to send the message."
            return "That recipient was refused; try another RCPT TO address."
        if rep.command == "." or verb == "BDAT":
            return "Another message: MAIL FROM:<…>; or QUIT to say goodbye."
        if rep.klass == "4":
            return "A temporary problem: wait and try again (a real MTA keeps the mail in its deferred queue)."
        if self.sender is None:
            return "MAIL FROM:<you@example.com> to start a message, or QUIT."
        return "RCPT TO:<…> to add a recipient, DATA to send, RSET to start over."


def _address(command: str) -> str:
    if ":" not in command:
        return command.split(" ", 1)[1].strip() if " " in command else ""
    rest = command.split(":", 1)[1].strip()
    if rest.startswith("<"):
        return rest[1:].split(">", 1)[0]
    return rest.split(" ", 1)[0]
