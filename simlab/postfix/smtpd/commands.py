"""NAME
    commands - smtpd(8) envelope commands

SUMMARY
    MAIL RCPT RSET NOOP VRFY QUIT (HELO, EHLO and the extensions: extensions.py)

DESCRIPTION
    Each ``cmd_<verb>(argv)`` sends its reply and returns True when the
    command succeeded (the "ok" half of ``rcpt=1/2`` in the disconnect
    line). The envelope state that RSET clears is kept here: sender,
    recipients, DSN parameters and the cleanup(8) session opened at the
    first accepted recipient (smtpd_delay_open_until_valid_rcpt), which is
    when the queue id appears in the log as ``QID: client=name[addr]``.

    MAIL FROM syntax is Postfix's lenient one unless strict_rfc821_envelopes
    is set; ESMTP parameters are checked in the order Postfix checks them,
    which decides between 555, 501 and 552.

PARAMETERS
    smtpd_helo_required, strict_rfc821_envelopes, disable_vrfy_command,
    smtpd_recipient_limit, smtpd_recipient_overshoot_limit,
    message_size_limit, smtpd_delay_open_until_valid_rcpt, smtputf8_enable,
    allow_min_user, local_header_rewrite_clients.

SEE ALSO
    smtpd(8), RFC 5321, RFC 1870, RFC 3461
"""

from __future__ import annotations

from typing import Any

from ..cleanup import ClientInfo, open_cleanup
from ..common.queue import Recipient
from . import replies as R
from .lists import get, interface_addresses
from .recipients import resolve
from .replies import Reply
from .restrictions import valid_hostaddr, valid_hostname
from .tokens import ERROR, Token, allprint, dsn_notify, extract_addr, printable, xtext_unquote
from .xforward import client_line

_OFF_T_MAX = (1 << 63) - 1


class CommandsMixin:
    """MAIL .. QUIT for SmtpdSession (see session.py for the attributes used)."""

    ctx: Any
    cfg: Any

    # -- transaction state ---------------------------------------------------------------
    def reset_transaction(self) -> None:
        self.sender: str | None = None
        self.recipient: str | None = None
        self.recipients: list[Any] = []
        self.rcpt_count = 0
        self.rcpt_overshoot = 0
        self.msg_size = 0
        self.dsn_envid = ""
        self.dsn_ret = ""
        self.encoding = ""
        self.smtputf8 = False
        self.arrival = 0.0
        self.queue_id = ""
        self.cleanup: Any = None
        self.in_data = False
        self.data_bytes = 0
        self.data_lines: list[bytes] = []
        self.act_size = 0
        self.too_big = False
        self.bdat_chunks: list[bytes] | None = None
        self.bdat_bytes = 0
        self.bdat_error: Reply | None = None
        self.saved_actions: list[tuple[str, str]] = []
        self.xforward: Any = None           # xforward.XForward: lasts one mail transaction
        self._rewrite_context: str | None = None

    def abort_transaction(self, content: bytes | None = None) -> None:
        if self.cleanup is not None:
            self.cleanup.abort(content)
        self.reset_transaction()

    async def open_transaction(self) -> None:
        """mail_open_stream(): a cleanup session, hence a queue id."""
        self.cleanup = open_cleanup(self.ctx, self.cfg, self.client_info(),
                                    content_filter=get(self.cfg, "content_filter"))
        self.queue_id = self.cleanup.qid
        text = f"{self.queue_id}: client={self.namaddr}"
        if self.sasl_username:
            text += f", sasl_method={self.sasl_method}, sasl_username={self.sasl_username}"
        self.log(text + client_line(self))

    def client_info(self) -> Any:
        """Who cleanup names in its log lines: the XFORWARD client when there is one."""
        xf = self.xforward
        context = xf.source if xf is not None and xf.source else self.rewrite_context()
        if xf is not None and xf.client:
            return ClientInfo(name=xf.name, addr=xf.addr, port=int(xf.port) if xf.port.isdigit() else 0,
                              helo=xf.helo or "", protocol=xf.proto or "", rewrite_context=context,
                              sasl_username=self.sasl_username)
        return ClientInfo(name=self.client_name, addr=self.client_addr, port=self.client_port,
                          helo=self.helo_name or "", protocol=self.protocol,
                          rewrite_context=context, sasl_username=self.sasl_username)

    def rewrite_context(self) -> str:
        """local_header_rewrite_clients decides between the local and the remote context.

        Decided once per mail transaction, as smtpd_check_rewrite() does: the
        client, its SASL login and the configuration cannot change meanwhile.
        """
        if self._rewrite_context is None or self.sender is None:
            context = self._find_rewrite_context()
            if self.sender is None:
                return context
            self._rewrite_context = context
        return self._rewrite_context

    def _find_rewrite_context(self) -> str:
        s: Any = self
        for word in s.settings.words("local_header_rewrite_clients", "permit_inet_interfaces"):
            w = word.lower()
            if w == "permit_mynetworks" and s.checks.in_mynetworks():
                return "local"
            if w == "permit_inet_interfaces":
                if s.client_addr in interface_addresses(self.ctx, self.cfg):
                    return "local"
            if w == "permit_sasl_authenticated" and s.sasl_username:
                return "local"
            if w == "permit":
                return "local"
            if ":" in word:
                try:
                    if self.ctx.map(word).lookup(s.client_addr) is not None:
                        return "local"
                except Exception:
                    continue
        return "remote"

    # -- helpers -----------------------------------------------------------------------
    def _strict(self) -> bool:
        return self._flag("strict_rfc821_envelopes")

    def _flag(self, name: str) -> bool:
        s: Any = self
        return s._bool(name)

    def check_addr(self, addr: str) -> bool:
        """smtpd_check_addr(): can trivial-rewrite resolve this address?"""
        at = addr.rfind("@")
        if at >= 0:
            domain = addr[at + 1:]
            if not domain or addr[:at].endswith("@"):
                return False
            bare = domain[:-1] if domain.endswith(".") and not domain.endswith("..") else domain
            if not (valid_hostname(bare) or (bare.startswith("[") and bare.endswith("]") and valid_hostaddr(bare))):
                return False
        if addr.startswith("-") and not self._flag("allow_min_user"):
            return False
        try:
            res = resolve(self.ctx, addr, "", getattr(self, "resolved", None))
        except Exception:
            return True
        return res is None or "error" not in res.flags

    async def _recipient_allowed(self, addr: str) -> bool:
        """RCPT and VRFY: the recipient restrictions, seeing ADDR as the recipient; replies when denied."""
        s: Any = self
        saved = self.recipient
        self.recipient = addr
        try:
            err_reply = s.access_denied or await s.checks.rcpt(addr)
        finally:
            self.recipient = saved
        if err_reply is not None:
            await s.reply(err_reply)
            return False
        return True

    async def _illegal(self, token: Token) -> None:
        s: Any = self
        s.log_warning(f"Illegal address syntax from {s.namaddr} in {s.where} command: {printable(token.text)}")

    # -- MAIL ---------------------------------------------------------------------------
    async def cmd_mail(self, argv: list[Token]) -> bool:
        s: Any = self
        if s._bool("smtpd_helo_required") and s.helo_name is None:
            await s.reply(R.NEED_HELO)
            return False
        if self.sender is not None:
            await s.reply(R.NESTED_MAIL)
            return False
        if self.bdat_error is not None or self.bdat_chunks is not None:
            await s.reply(R.MAIL_AFTER_BDAT)
            return False
        if len(argv) < 3 or argv[1].text.lower() != "from:":
            await s.reply(R.MAIL_SYNTAX)
            return False
        if argv[2].kind == ERROR:
            await s.reply(R.BAD_SENDER)
            return False
        params = [t.text for t in argv[3:]]
        smtputf8 = bool(params) and any(p.upper() == "SMTPUTF8" for p in params)
        err, addr = extract_addr(argv[2], allow_empty=True, strict=self._strict(), check=self.check_addr)
        if err:
            await self._illegal(argv[2])
            await s.reply(R.BAD_SENDER)
            return False
        size = 0
        envid = ret = encoding = ""
        auth: str | None = None        # RFC 4954 AUTH=: accepted (and not used) with or without SASL
        for arg in params:
            up = arg.upper()
            if up in ("BODY=8BITMIME", "BODY=7BIT"):
                encoding = "8bit" if up == "BODY=8BITMIME" else "7bit"
            elif up.startswith("SIZE="):
                digits = arg[5:]
                if not (digits.isascii() and digits.isdigit()):
                    await s.reply(R.BAD_SIZE)
                    return False
                size = int(digits)
                if size > _OFF_T_MAX:
                    await s.reply(R.SIZE_FS_LIMIT)
                    return False
            elif up == "SMTPUTF8" and get(self.cfg, "smtputf8_enable", "yes").lower() in ("yes", "true", "1"):
                continue
            elif up.startswith("AUTH="):
                if auth is not None:
                    await s.reply(R.AUTH_MAIL_TWICE)
                    return False
                auth = arg[5:]
            elif up.startswith("RET="):
                if ret or up[4:] not in ("FULL", "HDRS"):
                    await s.reply(R.BAD_RET)
                    return False
                ret = up[4:]
            elif up.startswith("ENVID="):
                value = xtext_unquote(arg[6:])
                if envid or value is None or not value or not allprint(value):
                    await s.reply(R.BAD_ENVID)
                    return False
                envid = value
            else:
                await s.reply(R.unsupported_option(arg))
                return False
        self.sender = addr
        try:
            err_reply = s.checks.size(size)
            if err_reply is None and not s._bool("smtpd_delay_reject"):
                err_reply = s.access_denied or await s.checks.mail()
        finally:
            self.sender = None
        if err_reply is not None:
            await s.reply(err_reply)
            return False
        self.sender = addr
        self.msg_size, self.dsn_envid, self.dsn_ret, self.encoding = size, envid, ret, encoding
        self.smtputf8 = smtputf8
        self.arrival = self.ctx.now()
        if not s._bool("smtpd_delay_open_until_valid_rcpt"):
            await self.open_transaction()
        await s.reply(R.MAIL_OK)
        return True

    # -- RCPT ---------------------------------------------------------------------------
    async def cmd_rcpt(self, argv: list[Token]) -> bool:
        s: Any = self
        if self.sender is None:
            await s.reply(R.NEED_MAIL)
            return False
        if self.bdat_error is not None or self.bdat_chunks is not None:
            await s.reply(R.RCPT_AFTER_BDAT)
            return False
        if len(argv) < 3 or argv[1].text.lower() != "to:":
            await s.reply(R.RCPT_SYNTAX)
            return False
        if argv[2].kind == ERROR:
            await s.reply(R.BAD_RECIPIENT)
            return False
        err, addr = extract_addr(argv[2], allow_empty=False, strict=self._strict(), check=self.check_addr)
        if err:
            await self._illegal(argv[2])
            await s.reply(R.BAD_RECIPIENT)
            return False
        notify = orcpt = ""
        for t in argv[3:]:
            arg, up = t.text, t.text.upper()
            if up.startswith("NOTIFY="):
                value = dsn_notify(arg[7:])
                if notify or value is None:
                    # name_mask() warns about an unknown word only (not a bad mix, an empty or a repeated NOTIFY)
                    bad = next((w for w in arg[7:].split(",") if w and w.upper() not in
                                ("NEVER", "SUCCESS", "FAILURE", "DELAY")), None)
                    if bad is not None and not notify:
                        s.log_warning(f'unknown DSN NOTIFY command value "{bad}" in "{arg[7:]}"')
                    await s.reply(R.BAD_NOTIFY)
                    return False
                notify = value
            elif up.startswith("ORCPT="):
                kind, sep, coded = arg[6:].partition(";")
                value = xtext_unquote(coded) if sep else None
                if orcpt or not kind or value is None or not allprint(value):   # an empty address is fine
                    await s.reply(R.BAD_ORCPT)
                    return False
                orcpt = f"{kind.lower()};{value}"
            else:
                await s.reply(R.unsupported_option(arg))
                return False
        limit = s._int("smtpd_recipient_limit", 1000)
        if limit and self.rcpt_count >= limit:
            await s.reply(R.TOO_MANY_RCPTS)
            self.rcpt_overshoot += 1
            return self.rcpt_overshoot <= s._int("smtpd_recipient_overshoot_limit", 1000)
        if not await self._recipient_allowed(addr):
            return False
        if self.cleanup is None:
            await self.open_transaction()
        if not orcpt:
            external = argv[2].text
            if external.startswith("<") and external.endswith(">"):
                external = external[1:-1]
            orcpt = f"rfc822;{external}"
        self.recipients.append(Recipient(address=addr, orig=addr, notify=notify, orcpt=orcpt))
        self.rcpt_count += 1
        if self.recipient is None:
            self.recipient = addr
        await s.reply(R.RCPT_OK)
        return True

    # -- simple commands -------------------------------------------------------------------
    async def cmd_rset(self, argv: list[Token]) -> bool:
        s: Any = self
        if len(argv) != 1:
            await s.reply(R.RSET_SYNTAX)
            return False
        self.abort_transaction(s.partial_message())
        await s.reply(R.OK)
        return True

    async def cmd_noop(self, argv: list[Token]) -> bool:
        s: Any = self
        await s.reply(R.OK)
        return True

    async def cmd_quit(self, argv: list[Token]) -> bool:
        s: Any = self
        await s.reply(R.BYE)
        s.hangup = True
        return True

    async def cmd_vrfy(self, argv: list[Token]) -> bool:
        s: Any = self
        if s._bool("disable_vrfy_command"):
            await s.reply(R.VRFY_DISABLED)
            return False
        if len(argv) < 2:
            await s.reply(R.VRFY_SYNTAX)
            return False
        words = argv[1:-1] if len(argv) > 2 and argv[-1].text.upper() == "SMTPUTF8" else argv[1:]
        # the words are collapsed into one argument: "VRFY Alice <alice@x>" checks alice@x, echoes it all
        arg = words[0] if len(words) == 1 else Token(" ".join(w.text for w in words))
        # (no check for an unbalanced "<" here, unlike MAIL and RCPT: "<alice@x" is the local part "<alice")
        err, addr = extract_addr(arg, allow_empty=False, strict=False, check=self.check_addr)
        if err:
            await self._illegal(arg)
            await s.reply(R.BAD_RECIPIENT)
            return False
        if not await self._recipient_allowed(addr):
            return False
        await s.reply(Reply(252, "2.0.0", arg.text))
        return True
