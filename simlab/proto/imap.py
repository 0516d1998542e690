"""NAME
    imap - a sans-IO IMAP4rev1 server core that answers as Dovecot 2.3 does

SUMMARY
    core = ImapServer(store, ConnectionInfo(...), clock, log)
    core.data_to_send()       # b"* OK [CAPABILITY IMAP4rev1 ...] Dovecot (Debian) ready.\\r\\n"
    core.receive_data(b"a1 LOGIN erin erin-pw\\r\\n"); core.next_action()

DESCRIPTION
    RFC 3501 with IDLE (RFC 2177), LITERAL+, SASL-IR, UIDPLUS's
    APPENDUID/COPYUID and UID EXPUNGE, MOVE, UNSELECT, NAMESPACE, ID,
    ENABLE, SORT and SORT=DISPLAY (imap_sort), THREAD (imap_thread),
    ESEARCH, ESORT, SEARCHRES, CONTEXT=SEARCH and WITHIN (imap_esearch,
    imap_context, imap_search), MULTIAPPEND, CATENATE and URL-PARTIAL
    (imap_append, imap_catenate), LIST-EXTENDED and LIST-STATUS
    (imap_commands) and BINARY (imap_fetch). CONDSTORE, QRESYNC, NOTIFY,
    SNIPPET=FUZZY, PREVIEW=FUZZY, PREVIEW and SAVEDATE are advertised,
    as Dovecot does, but not implemented.

    As in Dovecot, the protocol runs in two steps. imap-login
    answers CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE (PLAIN, LOGIN),
    STARTTLS, ID and ENABLE, and anything else with "BAD Error in IMAP
    command received by server." (three of those end the connection).
    After a login the imap process answers every command with a tagged
    reply that carries Dovecot's timing, "OK Fetch completed (0.001 + 0.000
    secs).": milliseconds the command ran (at least one for a command that
    ran, none for an unknown one) and milliseconds it waited for the
    client (an IDLE, an APPEND literal), both measured on the clock given.

    A LOGIN answer carries the post-login capabilities in a
    [CAPABILITY ...] code, or in a "* CAPABILITY" line first when the
    client asked CAPABILITY before logging in (Dovecot then assumes it
    ignores response codes), and has no timing and no final period.

    Literals: a line ending in {N} gets "+ OK" and then N bytes; {N+} does
    not wait. Commands are handlers in imap_login (before login),
    imap_commands (mailboxes), imap_append, imap_messages (messages),
    imap_esearch (SEARCH), imap_sort and imap_thread, bound to their
    names in ``COMMANDS``; imap_state says which state allows what and how
    the states change.

PARAMETERS
    login_greeting, imap_capability, imap_idle_notify_interval (2 min),
    mailbox_idle_check_interval (30 s), imap_client idle disconnect (30 min),
    auth_failure_delay.

SEE ALSO
    RFC 3501, RFC 2177, RFC 7888, RFC 4315, RFC 6851, RFC 5256, RFC 4731, RFC 5182,
    RFC 5032, RFC 5267, RFC 3516, RFC 4469, RFC 5258, Dovecot imap and imap-login
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable

from . import imap_commands as mailboxes
from . import imap_messages as messages
from .imap_append import append_refusal, cmd_append
from .imap_context import SearchUpdate
from .imap_esearch import cmd_cancelupdate, cmd_search
from .imap_sort import cmd_sort
from .imap_thread import cmd_thread
from .actions import ConnectionInfo, ServerCore
from .imap_login import PRE_LOGIN_CAPABILITY, pre_login_command, sasl_step
from .imap_parse import (Arg, Atom, ParseError, literal_size, parse_args, split_command,
                         valid_tag)
from .imap_state import ALLOWED, SELECTED_ONLY, TRANSITIONS, State
from .login import LoginClient, Sasl
from .mailbox import (AuthTicket, MessageInfo, OpenMailbox, StorageError, StoreBackend,
                      UserMailboxes)

GREETING = "Dovecot (Debian) ready."
CAPABILITY = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES "
    "THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN "
    "NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES "
    "WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW "
    "STATUS=SIZE SAVEDATE LITERAL+ NOTIFY")
LOGIN_IDLE_TIMEOUT = 180.0
IDLE_TIMEOUT = 1800.0
IDLE_CHECK_INTERVAL = 30.0
IDLE_NOTIFY_INTERVAL = 120.0
MAX_LINE = 65536
MAX_LITERAL = 64 * 1024 * 1024
MAX_BAD_COMMANDS = 20
ARGLESS = {"NOOP", "CHECK", "CAPABILITY", "LOGOUT", "CLOSE", "UNSELECT", "EXPUNGE", "NAMESPACE"}

Handler = Callable[["ImapServer", str, str, list[Arg]], None]


class ImapServer(ServerCore):
    """One IMAP connection (see the module documentation)."""

    def __init__(self, store: StoreBackend, conn: ConnectionInfo, clock: Callable[[], float],
                 log: Callable[[str, str], None], *, greeting: str = GREETING,
                 capability: str = CAPABILITY) -> None:
        super().__init__()
        self.store, self.conn, self.clock, self.log = store, conn, clock, log
        self.capability = capability
        self.state = State.NOT_AUTHENTICATED
        self.login = LoginClient("imap-login", conn, clock, log)
        self.bad = 0
        self.ignores_capability_code = False
        self.program = "imap"
        self.user = ""
        self.boxes: UserMailboxes | None = None
        self.box: OpenMailbox | None = None
        self.examined = False
        self.view: list[int] = []
        self.vinfo: dict[int, MessageInfo] = {}
        self.vrecent: set[int] = set()
        self.keywords: list[str] = []
        self.saved_uids: list[int] | None = None
        self.last_storage_error: str | None = None  # Dovecot's, for a CATENATE quirk
        self.search_updates: list[SearchUpdate] = []
        self.pieces: list[bytes] = []
        self.literal_need: int | None = None
        self.sasl: tuple[str, Sasl] | None = None
        self.auth_ticket: AuthTicket | None = None
        self.idle: tuple[str, float, float, float] | None = None
        self.cmd_waited = 0.0
        self.cmd_started = self.cmd_ran_from = clock()
        self.cmd_name = ""
        self.last_command: tuple[str, float] | None = None
        self.logout_rest = b""
        self.skipping: bytes | None = None
        self.last_eol = 2
        self.stats = dict.fromkeys(("in", "out", "deleted", "expunged", "hdr_count",
                                    "hdr_bytes", "body_count", "body_bytes"), 0)
        self.send_line(f"* OK [CAPABILITY {PRE_LOGIN_CAPABILITY}] {greeting}")

    # -- output --------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.state in (State.AUTHENTICATED, State.SELECTED):
            self.stats["out"] += len(data)
        super().send(data)

    def tagged(self, tag: str, text: str, ran: bool = True) -> None:
        """A post-login tagged reply with Dovecot's timing appended.

        The first figure is the time the command ran (at least 1 ms once it
        ran), the second the time it waited for the client (literals, IDLE).
        """
        running = max(1, math.ceil(round((self.clock() - self.cmd_ran_from) * 1000, 6))) if ran else 0
        waited = math.ceil(round(self.cmd_waited * 1000, 6)) if ran else 0
        body = text[:-1] if text.endswith(".") else text
        self.send_line(f"{tag or '*'} {body} ({running // 1000}.{running % 1000:03d} + "
                       f"{waited // 1000}.{waited % 1000:03d} secs).")
        if tag:
            self.last_command = (self.cmd_name, self.clock())

    def command_error(self, tag: str, name: str, error: str, ran: bool = True) -> None:
        self.tagged(tag, f"BAD Error in IMAP command{' ' + name if name else ''}: {error}", ran)
        self.bad += 1
        if self.bad >= MAX_BAD_COMMANDS:
            self.send_line("* BYE Too many invalid IMAP commands.")
            self.finish("Too many invalid IMAP commands.")

    # -- input ---------------------------------------------------------------------
    def current_timeout(self) -> float | None:
        if self.idle is not None:
            _tag, _start, check, notify = self.idle
            return max(0.0, min(check, notify) - self.clock())
        return LOGIN_IDLE_TIMEOUT if self.state is State.NOT_AUTHENTICATED else IDLE_TIMEOUT

    def _take(self, limit: int) -> bytes | None:
        before = len(self._in)
        line = self.take_line(limit)
        if line is not None:
            self.last_eol = before - len(self._in) - len(line)
            if self.state in (State.AUTHENTICATED, State.SELECTED):
                self.stats["in"] += before - len(self._in)
        return line

    def _process(self) -> None:
        while not self.closing and self._sleep is None:
            if self.literal_need is not None:
                if len(self._in) < self.literal_need:
                    if self._eof:
                        self.finish("Connection closed")
                    return
                data = bytes(self._in[:self.literal_need])
                del self._in[:self.literal_need]
                if self.state in (State.AUTHENTICATED, State.SELECTED):
                    self.stats["in"] += len(data)
                self.pieces.append(data)
                self.literal_need = None
                continue
            if self.skipping is not None:
                nl = self._in.find(b"\n")
                taken = len(self._in) if nl < 0 else nl + 1
                self.stats["in"] += taken
                del self._in[:taken]
                if nl < 0:
                    if self._eof:
                        self.finish("Connection closed")
                    return
                line, self.skipping, self.last_eol = self.skipping, None, 2
                self._line(line)
                continue
            try:
                line = self._take(MAX_LINE)
            except OverflowError:
                tag, name, _ = split_command(bytes(self._in[:256]))
                if self.state in (State.AUTHENTICATED, State.SELECTED) and name.upper() in ARGLESS:
                    # measured: Dovecot runs a command that reads no arguments and skips the rest
                    self.skipping = f"{tag} {name}".encode()
                    continue
                del self._in[:]
                self.pieces = []
                self.send_line("* BAD Error in IMAP command received by server.")
                continue
            if line is None:
                if self._eof:
                    self.finish("Connection closed")
                return
            self._line(line)

    def _line(self, line: bytes) -> None:
        if self.idle is not None:
            self._idle_line(line)
            return
        if self.sasl is not None:
            tag, sasl = self.sasl
            sasl_step(self, tag, sasl.respond(line.decode("utf-8", "replace")))
            return
        if not self.pieces:
            self.cmd_started = self.clock()
        self.pieces.append(line)
        marker = literal_size(line)
        if marker is not None:
            size, sync = marker
            if size > MAX_LITERAL:
                self.send_line("* BYE Literal too large")
                self.finish("Literal too large")
                return
            if sync and len(self.pieces) == 1 and self.state in (State.AUTHENTICATED,
                                                                  State.SELECTED):
                refusal = append_refusal(self, line, size)
                if refusal is not None:
                    tag = split_command(line)[0]
                    self.pieces = []
                    self.cmd_ran_from, self.cmd_waited, self.cmd_name = self.clock(), 0.0, "APPEND"
                    self.tagged(tag, refusal)
                    return
            if sync:
                self.send_line("+ OK")
            self.literal_need = size
            return
        pieces, self.pieces = self.pieces, []
        self._dispatch(pieces)

    def on_timeout(self) -> None:
        if self.idle is not None:
            self._idle_tick()
            return
        self.send_line("* BYE Disconnected for inactivity.")
        if self.state is State.NOT_AUTHENTICATED:
            self.finish("Inactivity")
        else:
            self.finish(f"Inactivity - no input for {int(IDLE_TIMEOUT)} secs")

    def finish(self, reason: str) -> None:
        """End the connection and log it the way the owning process does."""
        if self.state is State.NOT_AUTHENTICATED:
            self.login.log_disconnect(reason)
        elif self.state is not State.LOGOUT:
            self.close_mailbox()
            s = self.stats
            if reason == "Connection closed" and self.last_command is not None:
                # Dovecot's client_get_commands_status(): what the client did last
                cmd, done = self.last_command
                reason += f" ({cmd} finished {self.clock() - done:.3f} secs ago)"
            self.log(self.program, (
                f"Info: Disconnected: {reason} in={s['in']} out={s['out']} "
                f"deleted={s['deleted']} expunged={s['expunged']} trashed=0 "
                f"hdr_count={s['hdr_count']} hdr_bytes={s['hdr_bytes']} "
                f"body_count={s['body_count']} body_bytes={s['body_bytes']}"))
        self.state = State.LOGOUT
        self.close()

    def close_mailbox(self) -> None:
        if self.box is not None:
            with contextlib.suppress(StorageError):
                self.box.close()
            self.box = None
        self.saved_uids = None
        self.search_updates = []
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    # -- dispatch ------------------------------------------------------------------
    def _dispatch(self, pieces: list[bytes]) -> None:
        tag, name, rest = split_command(pieces[0])
        pieces[0] = rest
        name = name.upper()
        self.logout_rest = rest
        if name == "UID" and self.state is not State.NOT_AUTHENTICATED:
            sub, _, rest = rest.partition(b" ")
            if not sub:
                self.command_error(tag, "", "Invalid command name.", ran=False)
                return
            name, pieces[0] = "UID " + sub.decode("utf-8", "replace").upper(), rest
        if self.state is State.NOT_AUTHENTICATED:
            pre_login_command(self, tag, name, pieces)
            return
        self.cmd_ran_from = self.clock()
        self.cmd_waited = max(0.0, self.cmd_ran_from - self.cmd_started)
        self.cmd_name = name
        if not valid_tag(tag):
            self.tagged("*", "BAD Error in IMAP tag: Invalid tag.")
            self.bad += 1
            return
        handler = COMMANDS.get(name)
        if handler is None or self.state not in ALLOWED[name]:
            self.command_error(tag, name, "Unknown command.", ran=False)
            return
        if name in SELECTED_ONLY and self.state is not State.SELECTED:
            self.tagged(tag, "BAD No mailbox selected.")
            self.bad += 1
            return
        try:
            args = parse_args(pieces)
        except ParseError as exc:
            self.command_error(tag, name, str(exc))
            return
        try:
            handler(self, tag, name, args)
        except StorageError as exc:
            self.tagged(tag, messages.storage_reply(exc))
        if not self.closing:
            self.bad = 0

    # -- IDLE ----------------------------------------------------------------------
    def _idle_tick(self) -> None:
        assert self.idle is not None
        tag, start, check, notify = self.idle
        now = self.clock()
        if now >= check:
            messages.sync_mailbox(self, expunges=True)
            check = now + IDLE_CHECK_INTERVAL
        if now >= notify:
            self.send_line("* OK Still here")
            notify = now + IDLE_NOTIFY_INTERVAL
        self.idle = (tag, start, check, notify)

    def _idle_line(self, line: bytes) -> None:
        assert self.idle is not None
        tag, start, _check, _notify = self.idle
        self.idle = None
        self.cmd_ran_from = self.clock()
        self.cmd_waited = self.cmd_ran_from - start
        if line.strip().upper() != b"DONE":
            self.tagged(tag, "BAD Expected DONE.")
            return
        messages.sync_mailbox(self, expunges=True)
        self.tagged(tag, "OK Idle completed.")


# -- commands of any state after login -------------------------------------------------
def cmd_capability(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    srv.send_line(f"* CAPABILITY {srv.capability}")
    srv.tagged(tag, "OK Capability completed.")


def cmd_noop(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    messages.sync_mailbox(srv, expunges=True)
    srv.tagged(tag, "OK NOOP completed.")


def cmd_id(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    srv.send_line('* ID ("name" "Dovecot")')
    srv.tagged(tag, "OK ID completed.")


def cmd_enable(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    if not args:
        srv.command_error(tag, name, "Missing arguments.")
        return
    known = [a.upper for a in args if isinstance(a, Atom) and a.upper in ("CONDSTORE", "QRESYNC")]
    srv.send_line(" ".join(["* ENABLED", *known]))
    srv.tagged(tag, "OK Enabled.")


def cmd_logout(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    # Dovecot disconnects before it reads LOGOUT's arguments and line end: "in" leaves
    # them out (it has read the space after the name)
    srv.stats["in"] -= srv.last_eol + len(srv.logout_rest)
    srv.send_line("* BYE Logging out")
    srv.tagged(tag, "OK Logout completed.")
    srv.finish("Logged out")


def cmd_idle(srv: ImapServer, tag: str, name: str, args: list[Arg]) -> None:
    now = srv.clock()
    srv.send_line("+ idling")
    srv.idle = (tag, now, now + IDLE_CHECK_INTERVAL, now + IDLE_NOTIFY_INTERVAL)


COMMANDS: dict[str, Handler] = {
    "CAPABILITY": cmd_capability, "NOOP": cmd_noop, "ID": cmd_id, "ENABLE": cmd_enable,
    "LOGOUT": cmd_logout, "IDLE": cmd_idle,
    "SELECT": mailboxes.cmd_select, "EXAMINE": mailboxes.cmd_examine,
    "CREATE": mailboxes.cmd_create, "DELETE": mailboxes.cmd_delete,
    "RENAME": mailboxes.cmd_rename, "SUBSCRIBE": mailboxes.cmd_subscribe,
    "UNSUBSCRIBE": mailboxes.cmd_unsubscribe, "LIST": mailboxes.cmd_list,
    "LSUB": mailboxes.cmd_lsub, "STATUS": mailboxes.cmd_status, "APPEND": cmd_append,
    "NAMESPACE": mailboxes.cmd_namespace,
    "CHECK": messages.cmd_check, "CLOSE": messages.cmd_close, "UNSELECT": messages.cmd_unselect,
    "EXPUNGE": messages.cmd_expunge, "SEARCH": cmd_search, "FETCH": messages.cmd_fetch,
    "STORE": messages.cmd_store, "COPY": messages.cmd_copy, "MOVE": messages.cmd_move,
    "UID FETCH": messages.cmd_fetch, "UID SEARCH": cmd_search,
    "UID STORE": messages.cmd_store, "UID COPY": messages.cmd_copy, "UID MOVE": messages.cmd_move,
    "UID EXPUNGE": messages.cmd_uid_expunge,
    "SORT": cmd_sort, "UID SORT": cmd_sort, "THREAD": cmd_thread, "UID THREAD": cmd_thread,
    "CANCELUPDATE": cmd_cancelupdate,
}

__all__ = ["CAPABILITY", "COMMANDS", "GREETING", "ImapServer", "State", "TRANSITIONS"]
