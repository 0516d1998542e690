"""NAME
    imap_state - the IMAP state machine: states, what each state allows, transitions

SUMMARY
    State.NOT_AUTHENTICATED; ALLOWED["FETCH"]; SELECTED_ONLY; TRANSITIONS

DESCRIPTION
    The one table of RFC 3501's states (section 3): which commands each
    state accepts and how a state is left. simlab.proto.imap binds the
    command names to their handlers; diagrams are drawn from TRANSITIONS.

    A command of the selected state sent without a selected mailbox gets
    Dovecot's "BAD No mailbox selected."; a post-login command used before
    login, like any unknown command there, gets imap-login's "BAD Error in
    IMAP command received by server.".

SEE ALSO
    RFC 3501 section 3 and 6, simlab.proto.imap
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    AUTHENTICATED = "AUTHENTICATED"
    SELECTED = "SELECTED"
    LOGOUT = "LOGOUT"


_ANY = frozenset({State.NOT_AUTHENTICATED, State.AUTHENTICATED, State.SELECTED})
_PRE = frozenset({State.NOT_AUTHENTICATED})
_AUTH = frozenset({State.AUTHENTICATED, State.SELECTED})

ALLOWED: dict[str, frozenset[State]] = {
    **dict.fromkeys(("CAPABILITY", "NOOP", "LOGOUT", "ID", "ENABLE"), _ANY),
    **dict.fromkeys(("LOGIN", "AUTHENTICATE", "STARTTLS"), _PRE),
    **dict.fromkeys((
        "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LIST",
        "LSUB", "STATUS", "APPEND", "NAMESPACE", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE",
        "SEARCH", "FETCH", "STORE", "COPY", "MOVE", "UID FETCH", "UID SEARCH", "UID STORE",
        "UID COPY", "UID MOVE", "UID EXPUNGE", "SORT", "UID SORT", "THREAD", "UID THREAD",
        "CANCELUPDATE"), _AUTH),
}
SELECTED_ONLY = frozenset({
    "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE",
    "UID FETCH", "UID SEARCH", "UID STORE", "UID COPY", "UID MOVE", "UID EXPUNGE", "SORT",
    "UID SORT", "THREAD", "UID THREAD"})

TRANSITIONS: tuple[tuple[State, str, State], ...] = (
    (State.NOT_AUTHENTICATED, "LOGIN or AUTHENTICATE accepted", State.AUTHENTICATED),
    (State.NOT_AUTHENTICATED, "LOGOUT, 3 bad commands, idle 180 s", State.LOGOUT),
    (State.AUTHENTICATED, "SELECT or EXAMINE", State.SELECTED),
    (State.SELECTED, "SELECT or EXAMINE (another)", State.SELECTED),
    (State.SELECTED, "CLOSE, UNSELECT, failed SELECT, DELETE of it", State.AUTHENTICATED),
    (State.AUTHENTICATED, "LOGOUT, 20 bad commands, idle 30 min", State.LOGOUT),
    (State.SELECTED, "LOGOUT, 20 bad commands, idle 30 min", State.LOGOUT),
)
