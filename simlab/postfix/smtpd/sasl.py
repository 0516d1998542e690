"""NAME
    sasl - the AUTH command of smtpd(8): PLAIN and LOGIN against Dovecot's users file

SUMMARY
    AUTH PLAIN <base64(authzid NUL user NUL password)>  -> 235 2.7.0 Authentication successful
    AUTH LOGIN -> 334 VXNlcm5hbWU6 / 334 UGFzc3dvcmQ6 / 235 ...

DESCRIPTION
    With smtpd_sasl_auth_enable = yes smtpd offers ``AUTH PLAIN LOGIN`` in
    the EHLO reply and checks passwords against the host's
    /etc/dovecot/users (Dovecot passwd-file lines ``name:{PLAIN}secret``, read
    by simlab.store.users),
    as Postfix does when smtpd_sasl_type = dovecot. A client that
    authenticated is ``permit_sasl_authenticated``, is logged as
    ``client=..., sasl_method=PLAIN, sasl_username=alice`` and its
    Received: header says ``with ESMTPA``.

    Without SASL the command gets "503 5.5.1 Error: authentication not
    enabled".

PARAMETERS
    smtpd_sasl_auth_enable, smtpd_sasl_exceptions_networks,
    smtpd_sasl_security_options, broken_sasl_auth_clients.

SEE ALSO
    smtpd(8), SASL_README, RFC 4954, RFC 4616
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from . import replies as R
from .replies import Reply
from .tokens import Token

USERS_FILE = "/etc/dovecot/users"


def check_password(ctx: Any, user: str, password: str) -> bool:
    """Dovecot's passdb (simlab.store.users), scheme PLAIN unless the entry names one."""
    from ...store.users import PasswdFile
    return PasswdFile(ctx.path(USERS_FILE), default_scheme="PLAIN").verify(user, password)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


async def auth_command(s: Any, argv: list[Token]) -> bool:
    """smtpd_sasl_auth_cmd()."""
    if s._bool("smtpd_helo_required") and s.helo_name is None:     # before anything else (measured)
        await s.reply(R.NEED_HELO)
        return False
    if not s.sasl_offered():
        await s.reply(R.AUTH_NOT_ENABLED)
        return False
    if s.sender is not None:
        await s.reply(R.AUTH_IN_MAIL)
        return False
    if s.sasl_username:
        await s.reply(R.AUTH_ALREADY)
        return False
    if len(argv) < 2 or len(argv) > 3:
        await s.reply(R.AUTH_SYNTAX)
        return False
    mech = argv[1].text.upper()
    initial = argv[2].text if len(argv) == 3 else None
    if mech not in s.sasl_mechanisms():
        await s.reply(R.AUTH_BAD_MECH)
        return False
    if mech == "PLAIN":
        data = await _response(s, initial, "")
        if data is None:
            return False
        parts = data.split(b"\0")
        if len(parts) != 3:
            return await _fail(s, mech)
        user = parts[1].decode("utf-8", "replace")
        password = parts[2].decode("utf-8", "replace")
    else:
        first = await _response(s, initial, "Username:")
        if first is None:
            return False
        second = await _response(s, None, "Password:")
        if second is None:
            return False
        user, password = first.decode("utf-8", "replace"), second.decode("utf-8", "replace")
    if not check_password(s.ctx, user, password):
        return await _fail(s, mech)
    s.sasl_username, s.sasl_method = user, mech
    await s.reply(R.AUTH_OK)
    return True


async def _response(s: Any, initial: str | None, challenge: str) -> bytes | None:
    """The client's (initial) response, decoded; None after a reply was sent."""
    if initial is None:
        await s.reply(Reply(334, "", base64.b64encode(challenge.encode()).decode()))
        raw, _, _ = await s.read_line(s._int("line_length_limit", 2048))
        initial = raw.decode("ascii", "replace").strip()
    if initial == "*":
        await s.reply(R.AUTH_ABORTED)
        return None
    if initial == "=":
        return b""
    data = _b64(initial)
    if data is None:
        await s.reply(R.AUTH_BAD_B64)
        return None
    return data


async def _fail(s: Any, mech: str) -> bool:
    s.log_warning(f"{s.namaddr}: SASL {mech} authentication failed: authentication failure")
    await s.reply(R.AUTH_FAILED)
    return False
