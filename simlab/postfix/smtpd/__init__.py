"""NAME
    smtpd - Postfix SMTP server

SUMMARY
    factory = make_smtpd_protocol(ctx, service)   # service: a master.cf MasterService
    host.listen(25, factory, component="smtpd")   # virtual network
    await loop.create_server(factory, "127.0.0.1", 2525)   # simlab serve

DESCRIPTION
    smtpd(8) accepts SMTP connections, applies the access restrictions,
    and hands each accepted message to cleanup(8), which queues it. It is
    an aiosmtpd ``SMTP`` protocol (session.py) whose replies, logging and
    limits are Postfix 3.7's; one module per sub-job:

      replies.py       every reply text, as Reply(code, enhanced, text)
      tokens.py        the command tokenizer and address extraction
      session.py       the command loop, error limits, statistics
      reading.py       one input line at a time (line_length_limit, bare LF)
      settings.py      parameter values converted once per configuration
      peer.py          the client's verified name
      commands.py      MAIL RCPT RSET NOOP VRFY QUIT
      extensions.py    HELO EHLO ETRN STARTTLS XCLIENT XFORWARD AUTH
      data.py          DATA, and the end of a message (DATA and BDAT)
      bdat.py          BDAT (CHUNKING)
      restrictions.py  smtpd_*_restrictions (smtpd_check)
      access.py        check_*_access tables
      recipients.py    reject_unlisted_recipient and the error transport
      lists.py         mynetworks-style and domain lists
      sasl.py          AUTH PLAIN/LOGIN
      xforward.py      XFORWARD attributes: the logged origin of a re-injection

    The master.cf entry's ``-o name=value`` overrides apply to that
    listener only (``for_service``), including syslog_name, which names
    the program in the log (``postfix/outside/smtpd``).

SEE ALSO
    smtpd(8), cleanup(8), postconf(5), master(5)
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from ..cleanup import ClientInfo
from .replies import Reply
from ..common.context import PidPool
from .session import SmtpdSession

__all__ = ["ClientInfo", "Reply", "SmtpdSession", "make_smtpd_protocol"]


def make_smtpd_protocol(ctx: Any, service: Any = None) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for one smtpd service (one per master.cf entry)."""
    pids = PidPool(ctx.pids)
    cache: dict[str, Any] = {}

    def factory() -> asyncio.Protocol:
        # The per-listener configuration is rebuilt only after a reload replaced ctx.config.
        if cache.get("base") is not ctx.config:
            cache["base"] = ctx.config
            cache["cfg"] = ctx.config.for_service(service) if service is not None else ctx.config
        return SmtpdSession(ctx, service, cache["cfg"], pids, asyncio.get_running_loop())

    return factory
