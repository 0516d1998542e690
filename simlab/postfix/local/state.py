"""NAME
    state - local(8)'s delivery attributes and per-recipient state

SUMMARY
    state = LocalState(ctx, service, req, reporter, content)
    attr = Attr(rcpt=rcpt, sender=req.sender)          # passed down by value (copies)
    state.been_here("mailbox alice")                   # duplicate filter
    state.sent(attr, "2.0.0", "delivered to mailbox")  # log + status bookkeeping

DESCRIPTION
    Postfix's local(8) passes two attribute sets down the alias / .forward
    / :include: recursion *by value*, so that a lower level never changes
    what a higher level sees: the message attributes (recipient, expansion
    type, who the expansion came from, the "owner" that makes local
    recipients forwarded instead of delivered directly, the Delivered-To:
    address, the address extension) and the user attributes (the rights
    and home directory used for /file and |command deliveries). Here they
    are small dataclasses copied with ``dataclasses.replace``.

    The per-top-level-recipient state holds the duplicate filter (a
    recipient, mailbox, file, .forward or :include: file is handled once),
    the Delivered-To: addresses already in the message (loop detection) and
    the recipients waiting to be forwarded, grouped by (Delivered-To,
    sender) as forward.c groups them.

PARAMETERS
    duplicate_filter_limit, recipient_delimiter, propagate_unmatched_extensions,
    allow_mail_to_commands, allow_mail_to_files, prepend_delivered_header.

SEE ALSO
    local(8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..bounce.client import Dsn, Reporter
from ..common.queue import Recipient

_T = TypeVar("_T")


def evolve(obj: _T, **changes: Any) -> _T:
    """dataclasses.replace for Attr, UserAttr and Recipient, which have no __post_init__
    and no init=False field: a copy of the instance dict (replace() runs per level of
    every delivery and costs several times more)."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__, **changes)
    return new


EXPAND_ALIAS = 1
EXPAND_FWD = 2
EXPAND_INCL = 4
_EXP_NAMES = {"alias": EXPAND_ALIAS, "forward": EXPAND_FWD, "include": EXPAND_INCL}


@dataclass(frozen=True)
class Attr:
    """DELIVER_ATTR: what one level of expansion knows about the recipient."""

    rcpt: Recipient
    sender: str
    level: int = 0
    local: str = ""
    domain: str = ""
    user: str = ""
    extension: str | None = None
    unmatched: str | None = None
    owner: str | None = None
    delivered: str | None = None
    exp_type: int = 0
    exp_from: str | None = None


@dataclass(frozen=True)
class UserAttr:
    """USER_ATTR: whose rights a /file or |command delivery uses."""

    uid: int = 0
    gid: int = 0
    home: str | None = None
    logname: str | None = None
    shell: str | None = None


def mask(ctx: Any, param: str, names: dict[str, int] = _EXP_NAMES) -> int:
    value = 0
    for word in ctx.config.get_list(param):
        value |= names.get(word.lower(), 0)
    return value


def delivered_addresses(content: bytes) -> set[str]:
    """The Delivered-To: addresses in the message header, case-folded (delivered_init)."""
    head = content.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    out = set()
    for m in re.finditer(r"(?im)^delivered-to:[ \t]*(.*(?:\n[ \t].*)*)", head):
        out.add(m.group(1).replace("\n", " ").strip().casefold())
    return out


@dataclass
class LocalState:
    """One delivery request's state, reset per top-level recipient where Postfix does."""

    ctx: Any
    service: Any
    cfg: Any
    req: Any
    rep: Reporter
    content: bytes
    pid: int
    loop_info: set[str] = field(default_factory=set)
    dup: set[str] = field(default_factory=set)
    forwards: dict[tuple[str, str], list[Recipient]] = field(default_factory=dict)
    outcomes: list[str] = field(default_factory=list)
    last: tuple[str, str] = ("", "")

    @property
    def relay(self) -> str:
        return self.service.name

    def new_recipient(self) -> None:
        self.dup = set()
        self.forwards = {}
        self.outcomes = []

    def been_here(self, key: str) -> bool:
        key = key.casefold()
        if key in self.dup:
            return True
        limit = self.cfg.get_int("duplicate_filter_limit")
        if limit <= 0 or len(self.dup) < limit:
            self.dup.add(key)
        return False

    def been_here_check(self, key: str) -> bool:
        return key.casefold() in self.dup

    def warn(self, text: str) -> None:
        self.ctx.log.line(self.program, self.pid, "warning: " + text)

    @property
    def program(self) -> str:
        return self.rep.program

    # -- outcomes ----------------------------------------------------------------------------
    def _note(self, kind: str, status: str, reason: str) -> None:
        self.outcomes.append(kind)
        self.last = (status, reason)

    def sent(self, attr: Attr, status: str, reason: str, action: str = "") -> int:
        self._note("sent", status, reason)
        return self.rep.sent(attr.rcpt, self.relay, Dsn(status, reason, action))

    def bounce(self, attr: Attr, status: str, reason: str) -> int:
        self._note("bounced", status, reason)
        return self.rep.bounce(attr.rcpt, self.relay, Dsn(status, reason))

    def defer(self, attr: Attr, status: str, reason: str) -> int:
        self._note("deferred", status, reason)
        return self.rep.defer(attr.rcpt, self.relay, Dsn(status, reason))

    def trace(self, attr: Attr, status: str, reason: str, action: str) -> int:
        return self.rep.trace(attr.rcpt, self.relay, Dsn(status, reason, action))

    def fail(self, attr: Attr, status: str, reason: str) -> int:
        """bounce or defer, by the status code's class."""
        if status.startswith("4"):
            return self.defer(attr, status, reason)
        return self.bounce(attr, status, reason)

    def verify_only(self) -> bool:
        return self.rep.verify_only


def without_success(notify: str) -> str:
    """NOTIFY minus SUCCESS, as for alias and .forward expansion (NEVER when nothing is left)."""
    words = [w for w in notify.upper().split(",") if w]
    if not words:
        return notify
    rest = [w for w in words if w != "SUCCESS"]
    return ",".join(rest) if rest else "NEVER"


def wants_success(notify: str) -> bool:
    return "SUCCESS" in notify.upper().split(",")
