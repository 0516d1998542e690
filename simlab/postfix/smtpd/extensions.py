"""NAME
    extensions - smtpd(8) greeting and ESMTP extension commands

SUMMARY
    HELO EHLO ETRN STARTTLS XCLIENT XFORWARD AUTH

DESCRIPTION
    HELO and EHLO reset the transaction and remember the client's name;
    EHLO answers with Postfix's keyword list, in Postfix's order, without
    the keywords listed in smtpd_discard_ehlo_keywords (VRFY disappears
    with disable_vrfy_command, AUTH appears with smtpd_sasl_auth_enable).
    ETRN asks for a flush of a fast_flush_domains site (a "flush" event on
    ctx.events). STARTTLS is not available (502); XCLIENT and XFORWARD
    only for smtpd_authorized_xclient_hosts / smtpd_authorized_xforward_hosts
    (XFORWARD itself: xforward.py).

PARAMETERS
    smtpd_delay_reject, message_size_limit, disable_vrfy_command,
    smtpd_discard_ehlo_keywords, smtputf8_enable, fast_flush_domains,
    smtpd_authorized_xclient_hosts, smtpd_authorized_xforward_hosts,
    smtpd_sasl_auth_enable, smtpd_sasl_exceptions_networks,
    broken_sasl_auth_clients, smtpd_helo_required.

SEE ALSO
    smtpd(8), RFC 5321, RFC 1985, XCLIENT_README, XFORWARD_README
"""

from __future__ import annotations

from typing import Any

from . import replies as R
from .lists import get, match_domain, match_namadr, parent_matches
from .replies import Reply
from .restrictions import valid_hostaddr, valid_hostname
from .tokens import Token, printable, xtext_unquote


class ExtensionsMixin:
    """HELO, EHLO and the ESMTP extensions for SmtpdSession."""

    ctx: Any
    cfg: Any

    # -- HELO / EHLO -------------------------------------------------------------------
    async def _greeting(self, argv: list[Token], verb: str) -> bool:
        s: Any = self
        if len(argv) < 2:
            await s.reply(R.helo_syntax(verb))
            return False
        name = "?".join(t.text for t in argv[1:])     # measured: "HELO a b" is helo=<a?b> everywhere
        if not s._bool("smtpd_delay_reject"):
            saved, s.helo_name = s.helo_name, printable(name)
            err = s.access_denied or await s.checks.helo()
            s.helo_name = saved
            if err is not None:
                await s.reply(err)
                return False
        if self.sender is not None or self.bdat_error is not None:
            self.abort_transaction(s.partial_message())
        s.helo_name = printable(name)
        return True

    async def cmd_helo(self, argv: list[Token]) -> bool:
        s: Any = self
        if not await self._greeting(argv, "HELO"):
            return False
        if s.protocol not in ("SMTP", "ESMTP"):
            s.protocol = "SMTP"
        await s.reply(R.shared(250, "", s.myhostname))
        return True

    async def cmd_ehlo(self, argv: list[Token]) -> bool:
        s: Any = self
        if not await self._greeting(argv, "EHLO"):
            return False
        s.protocol = "ESMTP"
        await s.reply(R.shared(250, "", "\n".join([s.myhostname] + self.ehlo_keywords())))
        return True

    def ehlo_keywords(self) -> list[str]:
        s: Any = self
        limit = s._int("message_size_limit", 10240000)
        words = ["PIPELINING", f"SIZE {limit}" if limit > 0 else "SIZE"]
        if not s._bool("disable_vrfy_command"):
            words.append("VRFY")
        words.append("ETRN")
        if self.sasl_offered():
            mechs = " ".join(self.sasl_mechanisms())
            words.append(f"AUTH {mechs}")
            if s._bool("broken_sasl_auth_clients"):
                words.append(f"AUTH={mechs}")
        if self._xauthorized("smtpd_authorized_xclient_hosts"):
            words.append("XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT")
        if self._xauthorized("smtpd_authorized_xforward_hosts"):
            words.append("XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT")
        words += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN"]
        if get(self.cfg, "smtputf8_enable", "yes").lower() in ("yes", "true", "1"):
            words.append("SMTPUTF8")
        words.append("CHUNKING")
        discard = {w.lower() for w in s.settings.words("smtpd_discard_ehlo_keywords")}
        if not discard:
            return words
        return [w for w in words if w.split(" ", 1)[0].split("=", 1)[0].lower() not in discard]

    def _xauthorized(self, param: str) -> bool:
        s: Any = self
        return match_namadr(self.ctx, get(self.cfg, param), s.client_name, s.client_addr)

    async def cmd_etrn(self, argv: list[Token]) -> bool:
        s: Any = self
        if s._bool("smtpd_helo_required") and s.helo_name is None:
            await s.reply(Reply(503, "", R.NEED_HELO.text))     # ETRN replies carry no enhanced code
            return False
        if self.sender is not None:
            await s.reply(R.ETRN_IN_MAIL)
            return False
        if len(argv) != 2:
            await s.reply(R.ETRN_SYNTAX)
            return False
        domain = argv[1].text
        if domain[:1] in "@#":
            domain = domain[1:]
        if not (valid_hostname(domain) or (domain.startswith("[") and valid_hostaddr(domain))):
            await s.reply(Reply(501, "", "Error: invalid parameter syntax"))
            return False
        err = s.access_denied or await s.checks.etrn(domain)
        if err is not None:
            await s.reply(err)
            return False
        flush = get(self.cfg, "fast_flush_domains", get(self.cfg, "relay_domains"))
        if not match_domain(self.ctx, flush, domain, parent=parent_matches(self.cfg, "fast_flush_domains")):
            s.log_warning(f"reject: ETRN {domain[:100]}... from {s.namaddr}")
            await s.reply(R.etrn_unavailable(domain))
            return False
        self.ctx.events.wakeup("flush", domain)
        await s.reply(R.ETRN_STARTED)
        return True

    async def cmd_starttls(self, argv: list[Token]) -> bool:
        s: Any = self
        await s.reply(Reply(501, "5.5.4", "Syntax: STARTTLS") if len(argv) != 1 else R.NOT_IMPLEMENTED)
        return False

    async def cmd_xclient(self, argv: list[Token]) -> bool:
        return await self._xcommand(argv, "smtpd_authorized_xclient_hosts")

    async def cmd_xforward(self, argv: list[Token]) -> bool:
        from .xforward import xforward_command
        return await xforward_command(self, argv)

    async def _xcommand(self, argv: list[Token], param: str) -> bool:
        s: Any = self
        if self.sender is not None:
            await s.reply(Reply(503, "5.5.1", "Error: MAIL transaction in progress"))
            return False
        if len(argv) < 2:             # xclient_cmd(): syntax before authorization (measured)
            verb = argv[0].text.upper()
            await s.reply(Reply(501, "5.5.4", f"Syntax: {verb} attribute=value..."))
            return False
        if not self._xauthorized(param):
            await s.reply(R.NOT_AUTHORIZED)
            return False
        if param.endswith("xclient_hosts"):
            for t in argv[1:]:
                name, _, value = t.text.partition("=")
                value = xtext_unquote(value) or value
                name = name.upper()
                if name == "ADDR" and value and value != "[UNAVAILABLE]":
                    s.client_addr = value[5:] if value.upper().startswith("IPV6:") else value
                elif name == "NAME" and value:
                    s.client_name = "unknown" if value in ("[UNAVAILABLE]", "[TEMPUNAVAIL]") else value
                elif name == "HELO" and value:
                    s.helo_name = None if value == "[UNAVAILABLE]" else value
                elif name == "PROTO" and value.upper() in ("SMTP", "ESMTP"):
                    s.protocol = value.upper()
                elif name == "LOGIN":
                    s.sasl_username = "" if value == "[UNAVAILABLE]" else value
            s.namaddr = f"{s.client_name}[{s.client_addr}]"
            await s.reply(Reply(220, "", get(self.cfg, "smtpd_banner", f"{s.myhostname} ESMTP Postfix")))
            return True
        await s.reply(R.OK)
        return True

    # -- SASL (see sasl.py) ----------------------------------------------------------------
    def sasl_offered(self) -> bool:
        s: Any = self
        if not s._bool("smtpd_sasl_auth_enable"):
            return False
        exceptions = get(self.cfg, "smtpd_sasl_exceptions_networks")
        return not (exceptions and match_namadr(self.ctx, exceptions, s.client_name, s.client_addr))

    def sasl_mechanisms(self) -> list[str]:
        return ["PLAIN", "LOGIN"]

    async def cmd_auth(self, argv: list[Token]) -> bool:
        from .sasl import auth_command
        return await auth_command(self, argv)

