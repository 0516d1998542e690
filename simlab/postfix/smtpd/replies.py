"""NAME
    replies - the SMTP replies of smtpd(8), as typed values

SUMMARY
    Reply(250, "2.1.0", "Ok") -> "250 2.1.0 Ok"
    Reply.parse("550 5.1.1 <x>: Recipient address rejected: ...")
    reply.wire -> b"250 2.1.0 Ok\r\n"               # what smtpd writes (computed once)
    shared(220, "", banner)                          # the same Reply object for the same text
    NEED_MAIL, NO_VALID_RCPTS, ... (the fixed texts)

DESCRIPTION
    Every reply smtpd sends is a ``Reply(code, enhanced, text)``. A reply
    with several lines (EHLO) keeps them in ``text`` separated by newlines
    and is written with ``250-`` continuation prefixes. The texts are
    Postfix 3.7's, word for word: students compare them with what a real
    Postfix says.

SEE ALSO
    smtpd(8), RFC 5321 section 4.2, RFC 3463
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_ENH = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


@dataclass(frozen=True)
class Reply:
    """One SMTP reply: code, enhanced status code ("" for none) and text."""

    code: int
    enhanced: str
    text: str

    def lines(self) -> list[str]:
        if "\n" not in self.text:
            return [f"{self.code} {self.enhanced} {self.text}" if self.enhanced else f"{self.code} {self.text}"]
        parts = self.text.split("\n")
        head = f"{self.enhanced} " if self.enhanced else ""
        out = []
        for i, part in enumerate(parts):
            sep = " " if i == len(parts) - 1 else "-"
            out.append(f"{self.code}{sep}{head}{part}")
        return out

    def __str__(self) -> str:
        return "\r\n".join(self.lines())

    @property
    def wire(self) -> bytes:
        """The reply as smtpd writes it: its lines, each ended by CRLF (computed once)."""
        memo = self.__dict__          # a frozen dataclass still has a __dict__ of its own
        data = memo.get("_wire")
        if data is None:
            text = str(self)
            if not text.isprintable():
                # smtpd_chat_reply(): control characters (echoed client input) go out as spaces
                text = "\r\n".join(ln.translate(CONTROLS_TO_SPACE) for ln in text.split("\r\n"))
            data = memo["_wire"] = (text + "\r\n").encode("utf-8", "surrogateescape")
        return data

    @property
    def is_error(self) -> bool:
        return self.code >= 400

    @classmethod
    def parse(cls, line: str) -> "Reply":
        """'550 5.1.1 text' -> Reply(550, '5.1.1', 'text'); an enhanced code is optional."""
        line = line.strip()
        code, _, rest = line.partition(" ")
        first, _, tail = rest.partition(" ")
        if _ENH.match(first):
            return cls(int(code), first, tail)
        return cls(int(code), "", rest)

    def soft(self) -> "Reply":
        """soft_bounce: a 5xx becomes 4xx, and its enhanced code too."""
        if self.code // 100 != 5:
            return self
        enh = "4" + self.enhanced[1:] if self.enhanced.startswith("5") else self.enhanced
        return Reply(self.code - 100, enh, self.text)


CONTROLS_TO_SPACE = {c: " " for c in (*range(32), 127)}


def wire(reply: Reply | str) -> bytes:
    """The reply as smtpd writes it (Reply.wire, or a str's lines ended by CRLF)."""
    if isinstance(reply, Reply):
        return reply.wire
    return (str(reply) + "\r\n").encode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=256)
def shared(code: int, enhanced: str, text: str) -> Reply:
    """Reply(code, enhanced, text), one object per text: its wire form is computed once."""
    return Reply(code, enhanced, text)


def ok(enhanced: str = "2.0.0", text: str = "Ok") -> Reply:
    return Reply(250, enhanced, text)


OK = ok()
MAIL_OK = ok("2.1.0")
RCPT_OK = ok("2.1.5")
BYE = Reply(221, "2.0.0", "Bye")
DATA_GO = Reply(354, "", "End data with <CR><LF>.<CR><LF>")

BAD_SYNTAX = Reply(500, "5.5.2", "Error: bad syntax")
UNRECOGNIZED = Reply(500, "5.5.2", "Error: command not recognized")
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Error: command not implemented")
FORBIDDEN = Reply(221, "2.7.0", "Error: I can break rules, too. Goodbye.")

NEED_HELO = Reply(503, "5.5.1", "Error: send HELO/EHLO first")
BAD_UTF8 = Reply(500, "5.5.2", "Error: bad UTF-8 syntax")
MAIL_AFTER_BDAT = Reply(503, "5.5.1", "Error: MAIL after BDAT")
RCPT_AFTER_BDAT = Reply(503, "5.5.1", "Error: RCPT after BDAT")
NEED_MAIL = Reply(503, "5.5.1", "Error: need MAIL command")
NEED_RCPT = Reply(503, "5.5.1", "Error: need RCPT command")
NESTED_MAIL = Reply(503, "5.5.1", "Error: nested MAIL command")
NO_VALID_RCPTS = Reply(554, "5.5.1", "Error: no valid recipients")
DATA_AFTER_BDAT = Reply(503, "5.5.1", "Error: DATA after BDAT")

MAIL_SYNTAX = Reply(501, "5.5.4", "Syntax: MAIL FROM:<address>")
RCPT_SYNTAX = Reply(501, "5.5.4", "Syntax: RCPT TO:<address>")
BAD_SENDER = Reply(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT = Reply(501, "5.1.3", "Bad recipient address syntax")
BAD_SIZE = Reply(501, "5.5.4", "Bad message size syntax")
SIZE_FS_LIMIT = Reply(552, "5.3.4", "Message size exceeds file system imposed limit")
SIZE_FIXED_LIMIT = Reply(552, "5.3.4", "Message size exceeds fixed limit")
BAD_RET = Reply(501, "5.5.4", "Bad RET parameter syntax")
BAD_ENVID = Reply(501, "5.5.4", "Bad ENVID parameter syntax")
BAD_NOTIFY = Reply(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
BAD_ORCPT = Reply(501, "5.5.4", "Error: Bad ORCPT parameter syntax")
DSN_DISABLED = Reply(501, "5.7.1", "DSN support is disabled")
TOO_MANY_RCPTS = Reply(452, "4.5.3", "Error: too many recipients")
FILE_TOO_BIG = Reply(552, "5.3.4", "Error: message file too big")
TOO_MANY_HOPS = Reply(554, "5.4.0", "Error: too many hops")

RSET_SYNTAX = Reply(501, "5.5.4", "Syntax: RSET")
VRFY_SYNTAX = Reply(501, "5.5.4", "Syntax: VRFY address [SMTPUTF8]")
VRFY_DISABLED = Reply(502, "5.5.1", "VRFY command is disabled")
ETRN_SYNTAX = Reply(500, "", "Syntax: ETRN domain")  # Postfix 3.7 sends no enhanced code here
ETRN_IN_MAIL = Reply(503, "", "Error: MAIL transaction in progress")   # no enhanced code (measured)
ETRN_STARTED = Reply(250, "", "Queuing started")
NOT_AUTHORIZED = Reply(550, "5.7.0", "Error: insufficient authorization")

AUTH_NOT_ENABLED = Reply(503, "5.5.1", "Error: authentication not enabled")
AUTH_ALREADY = Reply(503, "5.5.1", "Error: already authenticated")
AUTH_IN_MAIL = Reply(503, "5.5.1", "Error: MAIL transaction in progress")
AUTH_SYNTAX = Reply(501, "5.5.4", "Syntax: AUTH mechanism")
AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
AUTH_FAILED = Reply(535, "5.7.8", "Error: authentication failed: authentication failure")
AUTH_ABORTED = Reply(501, "5.7.0", "Authentication aborted")
AUTH_BAD_MECH = Reply(535, "5.7.8", "Error: authentication failed: Invalid authentication mechanism")
AUTH_BAD_B64 = Reply(501, "5.5.2", "Cannot decode response")
AUTH_MAIL_TWICE = Reply(503, "5.5.4", "Error: multiple AUTH= options")


def helo_syntax(verb: str) -> Reply:
    return Reply(501, "", f"Syntax: {verb} hostname")


BDAT_TOO_BIG = Reply(552, "5.3.4", "Chunk exceeds message size limit")
BDAT_NULL = Reply(551, "5.7.1", "Null BDAT request")


def bdat_discarded(nbytes: int) -> Reply:
    return Reply(551, "5.0.0", f"Discarded {nbytes} bytes after earlier error")


def bdat_ok(nbytes: int) -> Reply:
    return Reply(250, "2.0.0", f"Ok: {nbytes} bytes")


def bdat_queued(nbytes: int, qid: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: {nbytes} bytes queued as {qid}")


def queued(qid: str) -> Reply:
    return Reply(250, "2.0.0", f"Ok: queued as {qid}")


def unsupported_option(arg: str) -> Reply:
    return Reply(555, "5.5.4", f"Unsupported option: {arg}")


def too_many_errors(myhostname: str) -> Reply:
    return Reply(421, "4.7.0", f"{myhostname} Error: too many errors")


def timeout(myhostname: str) -> Reply:
    return Reply(421, "4.4.2", f"{myhostname} Error: timeout exceeded")


def bare_lf(myhostname: str, code: int = 550) -> Reply:
    return Reply(code, "5.5.2" if code >= 500 else "4.5.2", f"{myhostname} Error: bare <LF> received")


def etrn_unavailable(domain: str) -> Reply:
    return Reply(459, "", f"<{domain}>: service unavailable")
