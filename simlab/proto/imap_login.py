"""NAME
    imap_login - what imap-login answers before a user has logged in

SUMMARY
    class ImapServer(LoginCommands, MailboxCommands, MessageCommands, ServerCore): ...

DESCRIPTION
    Dovecot's imap-login knows CAPABILITY ("OK Pre-login capabilities
    listed, post-login capabilities have more."), NOOP, LOGOUT, LOGIN,
    AUTHENTICATE (PLAIN and LOGIN, SASL-IR or a "+ " continuation, "*"
    aborts), STARTTLS (refused: ssl = no), ID and ENABLE. Everything else,
    a bad tag or bad arguments get "BAD Error in IMAP command received by
    server."; the third such command ends the connection with "* BYE Too
    many invalid IMAP commands.". Its replies carry no timing.

    A wrong password is answered "NO [AUTHENTICATIONFAILED] Authentication
    failed." after the auth service's failure delay (anvil may hold the
    attempt before it, too). A successful login hands the connection to the
    imap process, whose first words are the capability list: in the tagged
    OK's [CAPABILITY ...] code, or, when the client had asked CAPABILITY,
    in a "* CAPABILITY" line before a plain "OK Logged in".

SEE ALSO
    RFC 3501 6.1-6.2, RFC 4959 (SASL-IR), Dovecot imap-login
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .imap_parse import Arg, Atom, ParseError, String, parse_args, valid_tag
from .login import AUTH_FAILED_MSG, Challenge, Credentials, Sasl, SaslFailure

if TYPE_CHECKING:
    from .imap import ImapServer

PRE_LOGIN_CAPABILITY = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                        "AUTH=PLAIN AUTH=LOGIN")
LOGIN_MAX_BAD_COMMANDS = 3


class LoginCommands:
    """The not-authenticated state (see the module documentation)."""

    def _login_reply(self: "ImapServer", tag: str, text: str) -> None:
        self.send_line(f"{tag or '*'} {text}")

    def _pre_login(self: "ImapServer", tag: str, name: str, pieces: list[bytes]) -> None:
        from .imap import COMMANDS, State  # imap imports this module
        entry = COMMANDS.get(name)
        try:
            args: list[Arg] | None = parse_args(pieces)
        except ParseError:
            args = None
        ok = (valid_tag(tag) and entry is not None and State.NOT_AUTHENTICATED in entry[1]
              and args is not None)
        if ok:
            assert entry is not None and args is not None
            ok = getattr(self, "pre_" + entry[0])(tag, args) is not False
        if not ok:
            self.bad += 1
            if self.bad >= LOGIN_MAX_BAD_COMMANDS:
                self.send_line("* BYE Too many invalid IMAP commands.")
                self.finish("Too many invalid commands")
                return
            self._login_reply(tag if valid_tag(tag) else "",
                              "BAD Error in IMAP command received by server.")

    def pre_capability(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self.ignores_capability_code = True
        self.send_line(f"* CAPABILITY {PRE_LOGIN_CAPABILITY}")
        self._login_reply(tag, "OK Pre-login capabilities listed, post-login capabilities have more.")

    def pre_noop(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self._login_reply(tag, "OK NOOP completed.")

    def pre_logout(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self.send_line("* BYE Logging out")
        self._login_reply(tag, "OK Logout completed.")
        self.finish("Aborted login by logging out")

    def pre_starttls(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self._login_reply(tag, "BAD TLS support isn't enabled.")

    def pre_id(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self.send_line('* ID ("name" "Dovecot")')
        self._login_reply(tag, "OK ID completed.")

    def pre_enable(self: "ImapServer", tag: str, args: list[Arg]) -> None:
        self.send_line("* ENABLED")
        self._login_reply(tag, "OK ENABLE ignored in non-authenticated state.")

    def pre_login(self: "ImapServer", tag: str, args: list[Arg]) -> bool | None:
        if len(args) != 2 or not all(isinstance(a, (Atom, String)) for a in args):
            return False
        user, password = (a.value if isinstance(a, Atom) else a.text for a in args)
        self.login.begin_auth("PLAIN", user)
        self._authenticate(tag, Credentials(user, password))
        return None

    def pre_authenticate(self: "ImapServer", tag: str, args: list[Arg]) -> bool | None:
        if not args or len(args) > 2 or not all(isinstance(a, (Atom, String)) for a in args):
            return False
        mech = args[0].value if isinstance(args[0], Atom) else args[0].text
        initial = None
        if len(args) == 2:
            initial = args[1].value if isinstance(args[1], Atom) else args[1].text
        self.login.begin_auth(mech.upper())
        sasl, step = Sasl.start(mech, initial)
        self._sasl_step(tag, step, sasl)
        return None

    def _sasl_step(self: "ImapServer", tag: str, step: Challenge | Credentials | SaslFailure,
                   sasl: Sasl | None = None) -> None:
        if isinstance(step, Challenge):
            self.login.sasl_waiting = True
            self.sasl = (tag, sasl or self.sasl[1])  # type: ignore[index]
            self.send_line("+ " + step.data)
            return
        self.sasl, self.login.sasl_waiting = None, False
        if isinstance(step, Credentials):
            self.login.user = step.user
            self._authenticate(tag, step)
        elif step.kind in ("aborted", "base64"):
            self._login_reply(tag, "BAD " + step.text)
        elif step.kind == "invalid":
            self._authenticate(tag, Credentials("", ""))
        else:
            self._login_reply(tag, "NO [ALERT] " + step.text)

    def _authenticate(self: "ImapServer", tag: str, cred: Credentials) -> None:
        ticket = self.store.auth_request(self.conn.remote_ip)

        def check() -> None:
            account = self.store.auth_verify(ticket, cred.user, cred.password, cred.authzid)
            if account is None:
                self.sleep_then(self.store.auth_failure_delay, lambda: self._login_reply(
                    tag, "NO [AUTHENTICATIONFAILED] " + AUTH_FAILED_MSG))
            else:
                self._logged_in(tag, account)

        if ticket.delay > 0:
            self.sleep_then(ticket.delay, check)
        else:
            check()

    def _logged_in(self: "ImapServer", tag: str, account: str) -> None:
        mpid = self.store.new_pid()
        self.login.user = account
        self.login.log_login(mpid)
        self.user = account
        self.program = f"imap({account})<{mpid}><{self.login.session}>"
        self.boxes = self.store.mailboxes(account)
        from .imap import State  # imap imports this module
        self.state = State.AUTHENTICATED
        self.bad = 0
        if self.ignores_capability_code:
            self.send_line(f"* CAPABILITY {self.capability}")
            self.send_line(f"{tag} OK Logged in")
        else:
            self.send_line(f"{tag} OK [CAPABILITY {self.capability}] Logged in")
