"""NAME
    error - Postfix's error(8) and retry delivery agent

SUMMARY
    statuses = await deliver(ctx, service, request)     # master.cf command "error"

DESCRIPTION
    Fails every recipient of the request with the nexthop text as the
    reason: ``error:no outbound in this lab`` bounces with
    "status=bounced (no outbound in this lab)", and a text that starts with
    an enhanced status code ("5.1.1 User unknown in virtual alias table")
    uses that code (5.0.0 otherwise). Run under the service name "retry"
    the same agent defers instead (4.0.0 by default), so mail waits in the
    queue. The log says relay=none: nothing was contacted.

PARAMETERS
    syslog_name (per service), soft_bounce.

SEE ALSO
    error(8), transport(5), postconf(5) default_transport
"""

from __future__ import annotations

import re
from typing import Any

from ..bounce.client import Dsn
from ..common.maillog import ident
from ..common.process import agent_process
from ..qmgr.request import RecipientStatus, reporter, service_config

__all__ = ["deliver", "split_dsn"]

_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$", re.S)


def split_dsn(text: str, default: str) -> tuple[str, str]:
    """("5.1.1", "User unknown") from "5.1.1 User unknown"; the default code otherwise."""
    m = _DSN.match(text.strip())
    if m:
        return m.group(1), m.group(2)
    return default, text.strip()


async def deliver(ctx: Any, service: Any, req: Any) -> list[RecipientStatus]:
    retry = service.name != "error"
    status, text = split_dsn(req.nexthop, "4.0.0" if retry else "5.0.0")
    cfg = service_config(ctx, service)
    out = []
    with agent_process(ctx, service) as pid:
        rep = reporter(ctx, ident(cfg, service.command), pid, req)
        for rcpt in req.recipients:
            if retry:
                rep.defer(rcpt, "none", Dsn(status, text))
                out.append(RecipientStatus(rcpt, status, "deferred", text, "none", logged=True))
            else:
                rep.bounce(rcpt, "none", Dsn(status, text))
                word = "deferred" if ctx.config.get_bool("soft_bounce") else "bounced"
                out.append(RecipientStatus(rcpt, status, word, text, "none", logged=True))
    return out
