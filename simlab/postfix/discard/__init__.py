"""NAME
    discard - Postfix's discard(8) delivery agent

SUMMARY
    statuses = await deliver(ctx, service, request)     # master.cf command "discard"

DESCRIPTION
    Pretends to deliver: every recipient is logged as sent, with the
    nexthop text as the reason (``discard:lab discard`` in transport_maps
    gives "status=sent (lab discard)"), relay=none, and the message is
    gone. A success notice is still sent to a sender who asked for one
    (NOTIFY=SUCCESS).

PARAMETERS
    syslog_name (per service).

SEE ALSO
    discard(8), transport(5)
"""

from __future__ import annotations

from typing import Any

from ..bounce.client import Dsn
from ..common.maillog import ident
from ..common.process import agent_process
from ..qmgr.request import RecipientStatus, reporter, service_config

__all__ = ["deliver"]


async def deliver(ctx: Any, service: Any, req: Any) -> list[RecipientStatus]:
    cfg = service_config(ctx, service)
    reason = req.nexthop.strip() or service.name
    out = []
    dsn = Dsn("2.0.0", reason)      # immutable: one for all recipients
    with agent_process(ctx, service) as pid:
        rep = reporter(ctx, ident(cfg, service.command), pid, req)
        for rcpt in req.recipients:
            rep.sent(rcpt, "none", dsn)
            out.append(RecipientStatus(rcpt, "2.0.0", "sent", reason, "none", logged=True))
    return out
