"""NAME
    smtp_table - the states and the one transition table of the SMTP/LMTP client

SUMMARY
    from simlab.proto.smtp_table import State, TRANSITIONS, next_state
    next_state(State.MAIL, 250)      # -> State.RCPT
    next_state(State.EHLO, 502)      # -> State.HELO  (fall back to HELO)

DESCRIPTION
    This module is the whole shape of the client side of SMTP (RFC 5321) and
    LMTP (RFC 2033) as simlab speaks it; the core in ``smtp.py`` only does
    what a state asks for. Every state names the command whose reply the
    client is waiting for. A reply moves the client along TRANSITIONS, keyed
    by (state, reply class) where the class is the first digit of the reply
    code (2 done, 3 go on, 4 try later, 5 failed). A few exact codes override
    their class (421 to EHLO means "go away", not "try HELO").

    The pseudo-class SKIP is taken when a state has nothing to do on entry:
    EHLO in LMTP mode or with smtp_never_send_ehlo (LHLO, or else HELO),
    AUTH without credentials or without a mechanism the server offers,
    XFORWARD when there is nothing (more) to forward or the server does
    not offer it, RCPT
    when every recipient was sent, DATA when no recipient was accepted, DOT
    when every final reply is in (one for SMTP, one per accepted recipient
    for LMTP).

    With PIPELINING the client sends MAIL, every RCPT and DATA in one write:
    it follows the path the table takes when MAIL is accepted and consumes
    the replies in order; when a reply leads elsewhere (MAIL refused, no
    recipient accepted) the replies still in flight are read and set aside,
    then the table's target is entered.

    STATE_COMMAND and STATE_STAGE hold the words Postfix's smtp(8) uses in
    its log ("in reply to RCPT TO command", "lost connection with X while
    sending RCPT TO"). ``diagram()`` renders the table as Graphviz dot text
    for the notebooks.

SEE ALSO
    RFC 5321, RFC 2033, RFC 2920 (PIPELINING), RFC 4954 (AUTH), smtp(8)
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    """What the client waits for: the reply to the command named by the state."""

    GREETING = "GREETING"   # the server's 220 banner
    EHLO = "EHLO"
    LHLO = "LHLO"
    HELO = "HELO"
    AUTH = "AUTH"           # AUTH and each SASL continuation after a 334
    XFORWARD = "XFORWARD"   # each XFORWARD command (a refusal only gets a warning)
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    DOT = "DOT"             # the message and its final "."
    RSET = "RSET"
    QUIT = "QUIT"
    CLOSED = "CLOSED"       # nothing more to send or to read

    # identity hash: Enum's own hashes the name in Python, and every table lookup hashes a state
    __hash__ = object.__hash__


SKIP = "SKIP"
ReplyKey = "int | str"  # a reply class 2..5, an exact code such as 421, or SKIP

_ALL = (2, 3, 4, 5)


def _every(state: State, target: State) -> dict[tuple[State, int | str], State]:
    return {(state, c): target for c in _ALL}


# (state, reply class | exact code | SKIP) -> next state
TRANSITIONS: dict[tuple[State, int | str], State] = {
    (State.GREETING, 2): State.EHLO,
    (State.GREETING, 3): State.QUIT,
    (State.GREETING, 4): State.QUIT,
    (State.GREETING, 5): State.QUIT,

    (State.EHLO, SKIP): State.LHLO,
    (State.EHLO, 2): State.AUTH,
    (State.EHLO, 3): State.HELO,
    (State.EHLO, 4): State.HELO,
    (State.EHLO, 5): State.HELO,
    (State.EHLO, 421): State.QUIT,

    (State.LHLO, SKIP): State.HELO,
    (State.LHLO, 2): State.AUTH,
    (State.LHLO, 3): State.QUIT,
    (State.LHLO, 4): State.QUIT,
    (State.LHLO, 5): State.QUIT,

    (State.HELO, 2): State.AUTH,
    (State.HELO, 3): State.QUIT,
    (State.HELO, 4): State.QUIT,
    (State.HELO, 5): State.QUIT,

    (State.AUTH, SKIP): State.XFORWARD,
    (State.AUTH, 2): State.XFORWARD,
    (State.AUTH, 3): State.AUTH,
    (State.AUTH, 4): State.QUIT,
    (State.AUTH, 5): State.QUIT,

    **_every(State.XFORWARD, State.XFORWARD),
    (State.XFORWARD, SKIP): State.MAIL,

    (State.MAIL, 2): State.RCPT,
    (State.MAIL, 3): State.RSET,
    (State.MAIL, 4): State.RSET,
    (State.MAIL, 5): State.RSET,

    **_every(State.RCPT, State.RCPT),
    (State.RCPT, SKIP): State.DATA,

    (State.DATA, SKIP): State.RSET,
    (State.DATA, 2): State.RSET,
    (State.DATA, 3): State.DOT,
    (State.DATA, 4): State.RSET,
    (State.DATA, 5): State.RSET,

    **_every(State.DOT, State.DOT),
    (State.DOT, SKIP): State.QUIT,
    **_every(State.RSET, State.QUIT),
    **_every(State.QUIT, State.CLOSED),
}

# the log's name of the command a state waits on ("in reply to %s")
STATE_COMMAND: dict[State, str] = {
    State.GREETING: "initial server greeting",
    State.EHLO: "EHLO command",
    State.LHLO: "LHLO command",
    State.HELO: "HELO command",
    State.AUTH: "AUTH command",
    State.XFORWARD: "XFORWARD command",
    State.MAIL: "MAIL FROM command",
    State.RCPT: "RCPT TO command",
    State.DATA: "DATA command",
    State.DOT: "end of DATA command",
    State.RSET: "RSET command",
    State.QUIT: "QUIT command",
}

# what the client was doing when a connection broke ("while %s")
STATE_STAGE: dict[State, str] = {
    State.GREETING: "receiving the initial server greeting",
    State.EHLO: "performing the EHLO handshake",
    State.LHLO: "performing the LHLO handshake",
    State.HELO: "performing the HELO handshake",
    State.AUTH: "authenticating",
    State.XFORWARD: "sending XFORWARD",
    State.MAIL: "sending MAIL FROM",
    State.RCPT: "sending RCPT TO",
    State.DATA: "sending DATA command",
    State.DOT: "sending end of data -- message may be sent more than once",
    State.RSET: "sending RSET",
    State.QUIT: "sending QUIT",
}


def reply_class(code: int) -> int:
    """2, 3, 4 or 5; anything else (1xx, 6xx..9xx) counts as a failure (5)."""
    first = code // 100
    return first if first in _ALL else 5


def next_state(state: State, key: int | str) -> State:
    """The table's answer for a reply code (exact code first, then its class) or SKIP."""
    if isinstance(key, int):
        exact = TRANSITIONS.get((state, key))
        if exact is not None:
            return exact
        key = reply_class(key)
    try:
        return TRANSITIONS[(state, key)]
    except KeyError:
        raise KeyError(f"no transition from {state.name} on {key}") from None


def diagram() -> str:
    """The table as Graphviz dot text (one edge per distinct transition)."""
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, key), target in TRANSITIONS.items():
        label = str(key) if key == SKIP or (isinstance(key, int) and key > 9) else f"{key}xx"
        edges.setdefault((state.name, target.name), []).append(label)
    lines = ["digraph smtp_client {", "  rankdir=TB;"]
    for (src, dst), labels in edges.items():
        lines.append(f'  {src} -> {dst} [label="{",".join(labels)}"];')
    lines.append("}")
    return "\n".join(lines)
