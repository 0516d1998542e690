"""NAME
    smtp_records - what the SMTP client core takes and gives: recipients, credentials, outcomes, events

DESCRIPTION
    Small frozen records shared by the client core (smtp) and its users
    (simlab.mua, the smtp/lmtp delivery agents). ``_reply_event`` builds a
    ReplyEvent without the frozen dataclass's per-field __setattr__: one
    is made for every reply.

SEE ALSO
    simlab.proto.smtp
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .smtp_reply import Reply
from .smtp_table import STATE_COMMAND, STATE_STAGE, State


@dataclass(frozen=True)
class Rcpt:
    """An envelope recipient and its DSN parameters (sent only to a DSN server)."""

    address: str
    orcpt: str = ""     # "rfc822;alice@example.com"
    notify: str = ""    # "SUCCESS,FAILURE" or "NEVER"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    mechanism: str | None = None    # PLAIN or LOGIN; None = the first the server offers


@dataclass(frozen=True)
class Failure:
    """What ended the transaction early."""

    state: State
    kind: str                 # "reply" | "lost" | "timeout" | "protocol" | "loop" | "smtputf8"
    reply: Reply | None = None
    detail: str = ""
    time: float = 0.0

    @property
    def command(self) -> str:
        return STATE_COMMAND.get(self.state, self.state.name)

    @property
    def stage(self) -> str:
        return STATE_STAGE.get(self.state, self.state.name)


@dataclass(frozen=True)
class Outcome:
    """How one recipient fared: the reply that decided it, or the failure."""

    state: State
    reply: Reply | None
    failure: Failure | None = None
    time: float = 0.0         # when it was decided, by the clock the core was given

    @property
    def ok(self) -> bool:
        return self.reply is not None and self.reply.cls == 2 and self.failure is None


@dataclass(frozen=True)
class ReplyEvent:
    state: State
    reply: Reply
    rcpt: int | None = None     # which recipient a RCPT (or LMTP dot) reply is for
    stale: bool = False         # a pipelined reply the client had already given up on
    time: float = 0.0


_new = object.__new__
_EVENT_FIELDS = ("state", "reply", "rcpt", "stale", "time")
assert tuple(f.name for f in dataclasses.fields(ReplyEvent)) == _EVENT_FIELDS


def _reply_event(state: State, reply: Reply, rcpt: int | None = None, stale: bool = False,
                 time: float = 0.0) -> ReplyEvent:
    """ReplyEvent(...) at a quarter of the cost: a frozen dataclass's __init__ sets each
    field through object.__setattr__; the instance dict is filled directly instead."""
    ev = _new(ReplyEvent)
    d = ev.__dict__
    d["state"] = state
    d["reply"] = reply
    d["rcpt"] = rcpt
    d["stale"] = stale
    d["time"] = time
    return ev
