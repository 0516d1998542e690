"""NAME
    auth - Dovecot's auth service: password checks, failure delay, penalties

SUMMARY
    auth = AuthService(PasswdFile(path, "PLAIN"), clock)
    req = auth.request("127.0.0.1")       # req.delay: seconds to hold it first
    user = auth.verify(req, "erin", "erin-pw")   # "erin", or None
    auth.failure_delay                    # seconds before a failure is answered

DESCRIPTION
    A failed authentication is answered only after auth_failure_delay
    (2 s). On top of that the anvil process keeps a penalty per client IP:
    each failure raises it by one (at most 4), a success after a penalised
    attempt resets it, and a new request from that IP is held for
    2 * 2^penalty seconds (at most 15) as long as the last failure is
    recent enough. Retrying a user+password pair that already failed does
    not raise the penalty (anvil remembers checksums of recent pairs).
    Records expire 30 s after their last update.

    Nothing sleeps here: the protocol cores turn ``delay`` and
    ``failure_delay`` into Sleep requests for their adapter, so the
    virtual network spends the time in virtual time.

PARAMETERS
    auth_failure_delay (2 secs), passdb, auth_username_format (%Lu).

SEE ALSO
    dovecot auth-penalty.c and anvil penalty.c, Dovecot auth_failure_delay
"""

from __future__ import annotations

import hashlib
import hmac
import zlib
from dataclasses import dataclass, field
from typing import Callable

from .users import PasswdFile, split_scheme

AUTH_FAILURE_DELAY = 2.0
PENALTY_INIT_SECS = 2
PENALTY_MAX_SECS = 15
PENALTY_MAX = 4
PENALTY_TIMEOUT = PENALTY_MAX_SECS * 2
CHECKSUMS_KEPT = 10


def penalty_to_secs(penalty: int) -> int:
    return min(PENALTY_INIT_SECS * 2**penalty, PENALTY_MAX_SECS)


@dataclass
class _Record:
    penalty: int = 0
    last_penalty: float = 0.0
    updated: float = 0.0
    checksums: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AuthRequest:
    rip: str
    penalty: int
    delay: float


class AuthService:
    """Password checks with Dovecot's delays (see the module documentation)."""

    def __init__(self, passdb: PasswdFile, clock: Callable[[], float], *,
                 failure_delay: float = AUTH_FAILURE_DELAY) -> None:
        self.passdb = passdb
        self.clock = clock
        self.failure_delay = failure_delay
        self._anvil: dict[str, _Record] = {}

    def _record(self, rip: str) -> _Record | None:
        rec = self._anvil.get(rip)
        if rec is not None and self.clock() - rec.updated > PENALTY_TIMEOUT:
            del self._anvil[rip]
            rec = None
        return rec

    def request(self, rip: str) -> AuthRequest:
        """Start an authentication from RIP; hold it ``delay`` seconds before verify()."""
        rec = self._record(rip)
        penalty = 0
        if rec is not None:
            penalty, drop = rec.penalty, PENALTY_MAX
            while penalty > 0 and self.clock() - rec.last_penalty >= penalty_to_secs(drop):
                drop -= 1
                penalty -= 1
        return AuthRequest(rip, penalty, float(penalty_to_secs(penalty)) if penalty else 0.0)

    def _penalty_inc(self, rip: str, checksum: int, value: int) -> None:
        now = self.clock()
        rec = self._record(rip) or self._anvil.setdefault(rip, _Record())
        if checksum == 0:
            rec.penalty, rec.last_penalty = value, now
        elif checksum in rec.checksums:
            rec.checksums.remove(checksum)
            rec.checksums.insert(0, checksum)
            rec.penalty = value - 1
        else:
            rec.checksums.insert(0, checksum)
            del rec.checksums[CHECKSUMS_KEPT:]
            rec.penalty, rec.last_penalty = value, now
        rec.updated = now

    def _result(self, req: AuthRequest, name: str, secret: str, ok: bool) -> str | None:
        if ok:
            if req.penalty:
                self._penalty_inc(req.rip, 0, 0)
            return name
        checksum = zlib.crc32(name.encode(), zlib.crc32(secret.encode())) or 1
        self._penalty_inc(req.rip, checksum, min(req.penalty + 1, PENALTY_MAX))
        return None

    def verify(self, req: AuthRequest, user: str, password: str, authzid: str = "") -> str | None:
        """The account name when USER/PASSWORD are right, else None (penalty raised).

        A PLAIN authorization id other than the user would need a master
        user, which this passdb has not: it fails.
        """
        name = user.lower()
        ok = bool(name) and authzid.lower() in ("", name) and self.passdb.verify(name, password)
        return self._result(req, name, password, ok)

    def verify_apop(self, req: AuthRequest, user: str, challenge: str, digest: str) -> str | None:
        """APOP: MD5(challenge + password) in hex; needs a plaintext password in the passdb."""
        name = user.lower()
        entry = self.passdb.lookup(name) if name else None
        ok = False
        if entry is not None:
            scheme, data = split_scheme(entry.password, self.passdb.default_scheme)
            if scheme in ("PLAIN", "CLEAR", "CLEARTEXT"):
                expected = hashlib.md5((challenge + data).encode()).hexdigest()
                ok = hmac.compare_digest(expected, digest.lower())
        return self._result(req, name, digest, ok)
