"""NAME
    tutor_mailbox - what a POP3 or IMAP answer means, and what to type next

SUMMARY
    t = Pop3Tutor(); t.reply(reply); t.explain(reply); t.envelope()   # the session state panel
    t = ImapTutor(); ...

DESCRIPTION
    POP3 (RFC 1939) answers +OK or -ERR; a session goes AUTHORIZATION (USER,
    PASS) -> TRANSACTION (STAT, LIST, RETR, DELE ...) -> UPDATE, where QUIT
    really removes the messages marked with DELE (section 6). A bracketed
    response code like [AUTH] or [IN-USE] says why (RFC 2449, RFC 3206).

    IMAP (RFC 3501, RFC 9051) tags every command with a word the client
    chooses; the server sends untagged ``*`` data, then a tagged OK (done), NO
    (refused) or BAD (not understood). A session goes not authenticated ->
    authenticated (LOGIN) -> selected (SELECT a mailbox) -> logout. Messages
    stay on the server with flags such as \\Seen and \\Deleted.

    Both tutors keep the state the server is in, shown beside the console
    the way the SMTP tutor shows the envelope.
"""

from __future__ import annotations

import re

from ..viz.dialog import Reply
from .tutor_smtp import Explanation

POP3_COMMANDS = {
    "USER": ("names the mailbox (the user) you want", "RFC 1939 section 7"),
    "PASS": ("gives the password for the user named by USER", "RFC 1939 section 7"),
    "APOP": ("logs in with a digest instead of a clear password", "RFC 1939 section 7"),
    "AUTH": ("logs in with a SASL mechanism (PLAIN: base64 of \\0user\\0password)", "RFC 5034"),
    "CAPA": ("lists what this server can do", "RFC 2449 section 5"),
    "STAT": ("answers: number of messages and total size in octets", "RFC 1939 section 5"),
    "LIST": ("lists message numbers with their sizes", "RFC 1939 section 5"),
    "RETR": ("sends one whole message (headers and body), ended by a line with '.'", "RFC 1939 section 5"),
    "TOP": ("sends the headers and the first N body lines of a message", "RFC 1939 section 7"),
    "DELE": ("marks a message for deletion; it goes away only at QUIT", "RFC 1939 section 5"),
    "RSET": ("unmarks every message marked with DELE", "RFC 1939 section 5"),
    "NOOP": ("does nothing; keeps the connection alive", "RFC 1939 section 5"),
    "UIDL": ("lists a unique id per message, stable between sessions", "RFC 1939 section 7"),
    "QUIT": ("ends the session; deletions happen now (UPDATE state)", "RFC 1939 section 6"),
}
POP3_CODES = {"AUTH": "the user name or password is wrong", "IN-USE": "another session has this mailbox open",
              "LOGIN-DELAY": "you log in too often", "SYS/TEMP": "a temporary problem on the server",
              "SYS/PERM": "a permanent problem on the server"}
IMAP_COMMANDS = {
    "CAPABILITY": "6.1.1", "NOOP": "6.1.2", "LOGOUT": "6.1.3", "STARTTLS": "6.2.1", "AUTHENTICATE": "6.2.2",
    "LOGIN": "6.2.3", "SELECT": "6.3.1", "EXAMINE": "6.3.2", "CREATE": "6.3.3", "DELETE": "6.3.4",
    "RENAME": "6.3.5", "SUBSCRIBE": "6.3.6", "LIST": "6.3.8", "STATUS": "6.3.10", "APPEND": "6.3.11",
    "CHECK": "6.4.1", "CLOSE": "6.4.2", "EXPUNGE": "6.4.3", "SEARCH": "6.4.4", "FETCH": "6.4.5",
    "STORE": "6.4.6", "COPY": "6.4.7", "UID": "6.4.8", "IDLE": "RFC 2177", "MOVE": "RFC 6851",
}
IMAP_STATUS = {
    "OK": "OK: the command worked.", "NO": "NO: the server understood but refused (wrong password, "
    "no such mailbox ...).", "BAD": "BAD: the server did not understand the command (unknown command, "
    "wrong arguments, or not allowed in this state).", "PREAUTH": "PREAUTH: you are already logged in.",
    "BYE": "BYE: the server is closing the connection.", "+": "+: the server waits for more from you "
    "(the rest of a literal, or an authentication answer).",
}
IMAP_CODES = {"AUTHENTICATIONFAILED": "the user name or password is wrong (RFC 5530)",
              "READ-ONLY": "the mailbox is open read-only (EXAMINE)", "READ-WRITE": "the mailbox is open read-write",
              "TRYCREATE": "the target mailbox does not exist; CREATE it first",
              "NONEXISTENT": "no such mailbox (RFC 5530)", "ALERT": "a message the server wants you to read",
              "UIDVALIDITY": "the number that says whether old UIDs still hold",
              "UIDNEXT": "the UID the next message will get", "UNSEEN": "the first message without \\Seen",
              "PERMANENTFLAGS": "the flags you may set for good", "CAPABILITY": "what the server can do"}
_BRACKET = re.compile(r"\[([A-Z/\-]+)")


class Pop3Tutor:
    """POP3 session state and explanations."""

    protocol = "pop3"

    def __init__(self) -> None:
        self.state = "AUTHORIZATION"
        self.user = ""
        self.count: str = "?"
        self.deleted: list[str] = []
        self.closed = False

    def client(self, line: str, role: str) -> None:
        return None

    def reply(self, rep: Reply) -> None:
        words = rep.command.split()
        verb = words[0].upper() if words else ""
        ok = rep.status == "+OK"
        if verb == "USER" and ok:
            self.user = words[1] if len(words) > 1 else ""
        if verb in ("PASS", "APOP", "AUTH") and ok and (verb != "AUTH" or len(words) > 1):
            self.state = "TRANSACTION"
        if verb == "STAT" and ok and len(rep.lines[0].split()) > 1:
            self.count = rep.lines[0].split()[1]
        if verb == "DELE" and ok and len(words) > 1:
            self.deleted.append(words[1])
        if verb == "RSET" and ok:
            self.deleted = []
        if verb == "QUIT":
            self.state, self.closed = ("UPDATE" if self.state == "TRANSACTION" else "closed"), True

    def envelope(self) -> list[tuple[str, str]]:
        rows = [("state", self.state), ("user", self.user or "(not given)")]
        if self.state != "AUTHORIZATION":
            rows += [("messages", self.count), ("marked DELE", ", ".join(self.deleted) or "(none)")]
        return rows

    def explain(self, rep: Reply) -> Explanation:
        words = rep.command.split()
        verb = words[0].upper() if words else ""
        what, rfc = POP3_COMMANDS.get(verb, ("", "RFC 1939 section 3"))
        lines = ["+OK: the command worked." if rep.status == "+OK" else
                 "-ERR: the command failed; the session goes on." if rep.status == "-ERR" else
                 "+: the server waits for your next line (a SASL answer)." if rep.status == "+" else
                 "The greeting or a line that is not a POP3 status."]
        if rep.command == "" and rep.status == "+OK":
            lines = ["The server greets you: it is ready, you are in the AUTHORIZATION state."]
        if what:
            lines.append(f"{verb} {what}.")
        if len(rep.lines) > 1:
            lines.append(f"A multi-line answer: {len(rep.lines) - 2} lines, ended by a line with only '.'.")
        m = _BRACKET.search(rep.lines[0]) if rep.lines else None
        if m and m.group(1) in POP3_CODES:
            lines.append(f"[{m.group(1)}]: {POP3_CODES[m.group(1)]} (RFC 3206).")
        if verb in ("STAT", "LIST", "RETR", "DELE", "TOP", "UIDL") and self.state == "AUTHORIZATION":
            lines.append("You are not logged in yet: USER and PASS come first.")
        return Explanation(rep.status, f"{rep.status} — POP3 {verb or 'greeting'}", lines, rfc, self.next_step(rep))

    def next_step(self, rep: Reply) -> str:
        verb = rep.command.split()[0].upper() if rep.command.split() else ""
        if self.closed:
            return ("The messages marked DELE are now gone. " if self.deleted else "") + \
                "Connect again for a new session."
        if self.state == "AUTHORIZATION":
            if verb == "USER" and rep.status == "+OK":
                return "Now the password: PASS yourpassword"
            return "Log in: USER yourname, then PASS yourpassword (CAPA shows what the server offers)."
        if verb == "RETR" and rep.status == "+OK":
            return "DELE n to remove it at QUIT, RETR another one, or QUIT."
        return "STAT or LIST to see the messages, RETR n to read one, DELE n to mark it, QUIT to finish."


class ImapTutor:
    """IMAP session state and explanations."""

    protocol = "imap"

    def __init__(self) -> None:
        self.state = "not authenticated"
        self.user = ""
        self.mailbox = ""
        self.exists = "?"
        self.next_tag = 1
        self.closed = False

    def client(self, line: str, role: str) -> None:
        tag = line.split(" ", 1)[0]
        m = re.match(r"^[A-Za-z]*(\d+)$", tag)
        if role == "command" and m:
            self.next_tag = max(self.next_tag, int(m.group(1)) + 1)

    def reply(self, rep: Reply) -> None:
        words = rep.command.split()
        verb = words[1].upper() if len(words) > 1 else ""
        ok = rep.status == "OK"
        for ln in rep.lines:
            m = re.match(r"^\* (\d+) EXISTS", ln)
            if m:
                self.exists = m.group(1)
            if ln.startswith("* BYE"):
                self.closed = True
        if rep.status == "PREAUTH":
            self.state = "authenticated"
        if verb in ("LOGIN", "AUTHENTICATE") and ok:
            self.state = "authenticated"
            if verb == "LOGIN" and len(words) > 2:
                self.user = words[2].strip('"')
        elif verb in ("SELECT", "EXAMINE") and len(words) > 2 and self.state != "not authenticated":
            self.state, self.mailbox = ("selected", words[2].strip('"')) if ok else ("authenticated", "")
        elif verb in ("CLOSE", "UNSELECT") and ok:
            self.state, self.mailbox = "authenticated", ""
        elif verb == "LOGOUT":
            self.state, self.closed = "logout", True

    def envelope(self) -> list[tuple[str, str]]:
        rows = [("state", self.state), ("user", self.user or "(not logged in)")]
        if self.state == "selected":
            rows += [("mailbox", self.mailbox), ("messages", self.exists)]
        rows.append(("next tag", f"a{self.next_tag}"))
        return rows

    def explain(self, rep: Reply) -> Explanation:
        words = rep.command.split()
        verb = words[1].upper() if len(words) > 1 else ""
        lines = [IMAP_STATUS.get(rep.status, "Server data.")]
        if rep.command == "":
            lines = ["The server greets you (an untagged OK): you are in the not-authenticated state."]
        untagged = [ln for ln in rep.lines if ln.startswith("* ")]
        if untagged and rep.command:
            lines.append(f"{len(untagged)} untagged line(s) '*' carry the data; the tagged line "
                         f"'{words[0] if words else ''} {rep.status}' ends the answer.")
        for code in _BRACKET.findall(" ".join(rep.lines)):
            if code in IMAP_CODES:
                lines.append(f"[{code}]: {IMAP_CODES[code]}.")
        if rep.status == "BAD" and self.state == "not authenticated" \
                and verb not in ("LOGIN", "AUTHENTICATE", "CAPABILITY"):
            lines.append("Only CAPABILITY, LOGIN, AUTHENTICATE, STARTTLS and LOGOUT work before you log in.")
        sec = IMAP_COMMANDS.get(verb, "")
        rfc = "RFC 3501 section 7.1 (status responses)" + (
            f"; {verb}: " + (sec if sec.startswith("RFC") else f"RFC 3501 section {sec}") if sec else "")
        return Explanation(rep.status, f"{rep.status} — IMAP {verb or 'greeting'}", lines, rfc, self.next_step(rep))

    def next_step(self, rep: Reply) -> str:
        t = self.next_tag
        if self.closed:
            return "The session is over; connect again for a new one."
        if rep.status == "+":
            return "Send the rest: the literal's bytes, or your base64 answer (or * to cancel)."
        if self.state == "not authenticated":
            return f"Log in: a{t} LOGIN yourname yourpassword"
        if self.state == "authenticated":
            return f"See the mailboxes with a{t} LIST \"\" \"*\", then open one: a{t + 1} SELECT INBOX"
        return (f"Read: a{t} FETCH 1:* (FLAGS ENVELOPE), a{t + 1} FETCH 1 (BODY[]); mark: "
                f"STORE 1 +FLAGS (\\Deleted), then EXPUNGE; a{t + 2} LOGOUT to finish.")
