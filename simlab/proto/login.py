"""NAME
    login - what Dovecot's pop3-login and imap-login share: SASL, session ids, login log

SUMMARY
    client = LoginClient("pop3-login", conn, clock, log)
    client.begin_auth("PLAIN", "erin"); client.log_login(mpid=31085)
    client.log_disconnect("Aborted login by logging out")
    sasl = Sasl.start("PLAIN", initial_response_or_None)   # Challenge | Credentials | SaslFailure
    sasl.respond(line)

DESCRIPTION
    Dovecot runs the protocol in two processes: a login process that talks
    to the client until authentication succeeds, then a mail process for
    the user. The log shows both: "pop3-login: Info: Login: user=<erin>,
    method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=31085, secured,
    session=<FnQY2QVh1Lh/AAAB>" and, from the mail process,
    "pop3(erin)<31085><FnQY2QVh1Lh/AAAB>: Info: Disconnected: Logged out ...".

    A session id is Dovecot's: base64 of the low 48 bits of the connection
    time in microseconds, the client port and the client address (both
    little-endian/network order as Dovecot packs them). "secured" is
    logged when client and server addresses are the same.

    A login process that ends without a login logs "Disconnected: REASON
    (DETAIL): user=<...>, ...", where DETAIL is "no auth attempts in N
    secs", "auth failed, N attempts in M secs" or "client didn't finish
    SASL auth, waited N secs".

    SASL mechanisms PLAIN (RFC 4616) and LOGIN are offered; "*" aborts.

PARAMETERS
    login_log_format_elements (user=<%u> method=%m rip=%r lip=%l mpid=%e %c
    session=<%{session}>), auth_mechanisms = plain login.

SEE ALSO
    Dovecot login-common, RFC 4422, RFC 4616
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass
from typing import Callable

from .actions import ConnectionInfo

MECHANISMS = ("PLAIN", "LOGIN")
AUTH_FAILED_MSG = "Authentication failed."


def session_id(now: float, remote_port: int, remote_ip: str) -> str:
    usecs = int(round(now * 1_000_000)) & ((1 << 48) - 1)
    try:
        packed = ipaddress.ip_address(remote_ip).packed
    except ValueError:
        packed = b"\0\0\0\0"
    raw = usecs.to_bytes(6, "little") + (remote_port & 0xFFFF).to_bytes(2, "little") + packed
    return base64.b64encode(raw).decode()


class LoginClient:
    """The login process's bookkeeping for one connection."""

    def __init__(self, program: str, conn: ConnectionInfo, clock: Callable[[], float],
                 log: Callable[[str, str], None]) -> None:
        self.program = program
        self.conn = conn
        self.clock = clock
        self.log = log
        self.created = clock()
        self.session = session_id(self.created, conn.remote_port, conn.remote_ip)
        self.auth_attempts = 0
        self.auth_first_started: float | None = None
        self.user = ""
        self.method = ""
        self.sasl_waiting = False
        self.finished = False

    def begin_auth(self, method: str, user: str | None = None) -> None:
        self.auth_attempts += 1
        if self.auth_first_started is None:
            self.auth_first_started = self.clock()
        self.method = method
        if user is not None:
            self.user = user

    def elements(self, mpid: int | None = None) -> str:
        parts = [f"user=<{self.user}>"]
        if self.method:
            parts.append(f"method={self.method}")
        parts += [f"rip={self.conn.remote_ip}", f"lip={self.conn.local_ip}"]
        if mpid is not None:
            parts.append(f"mpid={mpid}")
        if self.conn.secured:
            parts.append("secured")
        parts.append(f"session=<{self.session}>")
        return ", ".join(parts)

    def log_login(self, mpid: int) -> None:
        self.finished = True
        self.log(self.program, f"Info: Login: {self.elements(mpid)}")

    def extra_reason(self) -> str:
        now = self.clock()
        # Dovecot subtracts whole seconds (ioloop_time - created.tv_sec)
        if self.auth_attempts == 0:
            return f"no auth attempts in {int(now) - int(self.created)} secs"
        waited = int(now) - int(self.auth_first_started or now)
        if self.sasl_waiting and self.auth_attempts == 1:
            return f"client didn't finish SASL auth, waited {waited} secs"
        return f"auth failed, {self.auth_attempts} attempts in {waited} secs"

    def log_disconnect(self, reason: str) -> None:
        if self.finished:
            return
        self.finished = True
        self.log(self.program,
                 f"Info: Disconnected: {reason} ({self.extra_reason()}): {self.elements()}")


@dataclass(frozen=True)
class Challenge:
    data: str


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    authzid: str = ""


@dataclass(frozen=True)
class SaslFailure:
    kind: str  # "aborted" | "base64" | "mechanism" | "invalid"
    text: str


SaslStep = Challenge | Credentials | SaslFailure


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class Sasl:
    """One SASL exchange (PLAIN or LOGIN) as Dovecot's auth service runs it."""

    def __init__(self, mech: str) -> None:
        self.mech = mech.upper()
        self._user: str | None = None

    @classmethod
    def start(cls, mech: str, initial: str | None) -> tuple["Sasl", SaslStep]:
        sasl = cls(mech)
        if sasl.mech not in MECHANISMS:
            return sasl, SaslFailure("mechanism", "Unsupported authentication mechanism.")
        if initial is None:
            if sasl.mech == "PLAIN":
                return sasl, Challenge("")
            return sasl, Challenge(base64.b64encode(b"Username:").decode())
        if initial == "=":
            initial = ""
        return sasl, sasl._step(initial, "Invalid base64 data in initial response")

    def respond(self, line: str) -> SaslStep:
        if line == "*":
            return SaslFailure("aborted", "Authentication aborted by client.")
        return self._step(line, "Invalid base64 data in continued response")

    def _step(self, line: str, base64_error: str) -> SaslStep:
        raw = _b64decode(line)
        if raw is None:
            return SaslFailure("base64", base64_error)
        if self.mech == "PLAIN":
            parts = raw.split(b"\0")
            if len(parts) != 3 or not parts[1]:
                return SaslFailure("invalid", AUTH_FAILED_MSG)
            return Credentials(_text(parts[1]), _text(parts[2]), _text(parts[0]))
        if self._user is None:
            self._user = _text(raw)
            return Challenge(base64.b64encode(b"Password:").decode())
        return Credentials(self._user, _text(raw))
