"""NAME
    process - the process a delivery agent runs as

SUMMARY
    with agent_process(ctx, service) as pid:
        ctx.log.line("postfix/local", pid, "...")

DESCRIPTION
    The queue manager hands a delivery request to a process of the
    transport's master.cf service. An agent takes that process for the time
    of the request: the one it already runs as (a process the master
    started for this service), or else one from the master's table
    (started, marked busy, and idle again afterwards, so ``master.ps()``
    lists it until max_idle ends it). Without a running master a stand-in
    process per service keeps the pids in the maillog stable.

SEE ALSO
    master(8), qmgr(8)
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator


@contextlib.contextmanager
def agent_process(ctx: Any, service: Any) -> Iterator[int]:
    """The pid to log under: the process qmgr handed the request to, or one of the service."""
    from ..master.master import current_process
    from ..master.registry import use_service
    proc = current_process()
    if proc is not None and proc.service == service.name:
        yield proc.pid
        return
    with use_service(ctx, service.name) as proc:
        yield proc.pid
