"""NAME
    imap_login - what imap-login answers before a user has logged in

SUMMARY
    pre_login_command(server, tag, name, pieces)    # a command before login
    sasl_step(server, tag, sasl.respond(line))      # an AUTHENTICATE continuation

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

from typing import TYPE_CHECKING, Callable

from .imap_parse import Arg, Atom, ParseError, String, parse_args, valid_tag
from .imap_state import State
from .login import AUTH_FAILED_MSG, Challenge, Credentials, Sasl, SaslFailure

if TYPE_CHECKING:
    from .imap import ImapServer

PRE_LOGIN_CAPABILITY = ("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                        "AUTH=PLAIN AUTH=LOGIN")
LOGIN_MAX_BAD_COMMANDS = 3


def _login_reply(srv: ImapServer, tag: str, text: str) -> None:
    srv.send_line(f"{tag or '*'} {text}")


def pre_capability(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    srv.ignores_capability_code = True
    srv.send_line(f"* CAPABILITY {PRE_LOGIN_CAPABILITY}")
    _login_reply(srv, tag, "OK Pre-login capabilities listed, post-login capabilities have more.")


def pre_noop(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    _login_reply(srv, tag, "OK NOOP completed.")


def pre_logout(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    srv.send_line("* BYE Logging out")
    _login_reply(srv, tag, "OK Logout completed.")
    srv.finish("Aborted login by logging out")


def pre_starttls(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    _login_reply(srv, tag, "BAD TLS support isn't enabled.")


def pre_id(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    srv.send_line('* ID ("name" "Dovecot")')
    _login_reply(srv, tag, "OK ID completed.")


def pre_enable(srv: ImapServer, tag: str, args: list[Arg]) -> None:
    srv.send_line("* ENABLED")
    _login_reply(srv, tag, "OK ENABLE ignored in non-authenticated state.")


def _text(arg: Arg) -> str | None:
    return arg.value if isinstance(arg, Atom) else arg.text if isinstance(arg, String) else None


def pre_login(srv: ImapServer, tag: str, args: list[Arg]) -> bool | None:
    words = [_text(a) for a in args]
    if len(words) != 2 or None in words:
        return False
    user, password = str(words[0]), str(words[1])
    srv.login.begin_auth("PLAIN", user)
    _authenticate(srv, tag, Credentials(user, password))
    return None


def pre_authenticate(srv: ImapServer, tag: str, args: list[Arg]) -> bool | None:
    words = [_text(a) for a in args]
    if not words or len(words) > 2 or None in words:
        return False
    mech = str(words[0])
    srv.login.begin_auth(mech.upper())
    sasl, step = Sasl.start(mech, words[1] if len(words) == 2 else None)
    if isinstance(step, SaslFailure) and step.kind == "mechanism":
        sasl_step(srv, tag, step, sasl)
        return None
    # anvil's penalty holds the request when it starts, before any challenge
    srv.auth_ticket = srv.store.auth_request(srv.conn.remote_ip)
    if srv.auth_ticket.delay > 0:
        srv.sleep_then(srv.auth_ticket.delay, lambda: sasl_step(srv, tag, step, sasl))
    else:
        sasl_step(srv, tag, step, sasl)
    return None


def sasl_step(srv: ImapServer, tag: str, step: Challenge | Credentials | SaslFailure,
              sasl: Sasl | None = None) -> None:
    """Answer one step of an AUTHENTICATE exchange (SASL starts it, or the last continuation)."""
    if isinstance(step, Challenge):
        srv.login.sasl_waiting = True
        if sasl is None:
            assert srv.sasl is not None
            sasl = srv.sasl[1]
        srv.sasl = (tag, sasl)
        srv.send_line("+ " + step.data)
        return
    srv.sasl, srv.login.sasl_waiting = None, False
    if isinstance(step, Credentials):
        srv.login.user = step.user
        _authenticate(srv, tag, step)
    elif step.kind in ("aborted", "base64"):
        _login_reply(srv, tag, "BAD " + step.text)
    elif step.kind == "invalid":
        _authenticate(srv, tag, Credentials("", ""))
    else:
        _login_reply(srv, tag, "NO [ALERT] " + step.text)


def _authenticate(srv: ImapServer, tag: str, cred: Credentials) -> None:
    held, srv.auth_ticket = srv.auth_ticket, None
    ticket = held or srv.store.auth_request(srv.conn.remote_ip)

    def check() -> None:
        account = srv.store.auth_verify(ticket, cred.user, cred.password, cred.authzid)
        if account is None:
            reply = "NO [AUTHENTICATIONFAILED] " + AUTH_FAILED_MSG
            srv.sleep_then(srv.store.auth_failure_delay, lambda: _login_reply(srv, tag, reply))
        else:
            _logged_in(srv, tag, account)

    if ticket.delay > 0 and held is None:
        srv.sleep_then(ticket.delay, check)
    else:
        check()


def _logged_in(srv: ImapServer, tag: str, account: str) -> None:
    mpid = srv.store.new_pid()
    srv.login.user = account
    srv.login.log_login(mpid)
    srv.user = account
    srv.program = f"imap({account})<{mpid}><{srv.login.session}>"
    srv.boxes = srv.store.mailboxes(account)
    srv.state = State.AUTHENTICATED
    srv.bad = 0
    if srv.ignores_capability_code:
        srv.send_line(f"* CAPABILITY {srv.capability}")
        srv.send_line(f"{tag} OK Logged in")
    else:
        srv.send_line(f"{tag} OK [CAPABILITY {srv.capability}] Logged in")


PRE_LOGIN_COMMANDS: dict[str, Callable[[ImapServer, str, list[Arg]], bool | None]] = {
    "CAPABILITY": pre_capability, "NOOP": pre_noop, "LOGOUT": pre_logout, "LOGIN": pre_login,
    "AUTHENTICATE": pre_authenticate, "STARTTLS": pre_starttls, "ID": pre_id,
    "ENABLE": pre_enable,
}


def pre_login_command(srv: ImapServer, tag: str, name: str, pieces: list[bytes]) -> None:
    """Run one command in the not-authenticated state; count and refuse the rest."""
    handler = PRE_LOGIN_COMMANDS.get(name)
    try:
        args: list[Arg] | None = parse_args(pieces)
    except ParseError:
        args = None
    ok = valid_tag(tag) and handler is not None and args is not None
    if ok:
        assert handler is not None and args is not None
        ok = handler(srv, tag, args) is not False
    if not ok:
        srv.bad += 1
        if srv.bad >= LOGIN_MAX_BAD_COMMANDS:
            srv.send_line("* BYE Too many invalid IMAP commands.")
            srv.finish("Too many invalid commands")
            return
        _login_reply(srv, tag if valid_tag(tag) else "",
                     "BAD Error in IMAP command received by server.")
