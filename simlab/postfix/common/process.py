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

from typing import Any


def agent_process(ctx: Any, service: Any) -> "_AgentProcess":
    """The pid to log under: the process qmgr handed the request to, or one of the service."""
    return _AgentProcess(ctx, service)


class _AgentProcess:
    """agent_process()'s context manager (a class: @contextmanager costs a generator per request)."""

    __slots__ = ("ctx", "service", "using")

    def __init__(self, ctx: Any, service: Any) -> None:
        self.ctx = ctx
        self.service = service
        self.using: Any = None

    def __enter__(self) -> int:
        proc = _CURRENT.get() if _CURRENT is not None else _load()
        if proc is not None and proc.service == self.service.name:
            return proc.pid
        self.using = _use_service(self.ctx, self.service.name)
        return self.using.__enter__().pid

    def __exit__(self, *exc: Any) -> None:
        if self.using is not None:
            self.using.__exit__(*exc)


# master's CURRENT_PROCESS and use_service, imported on first use (master imports this package)
_CURRENT: Any = None
_use_service: Any = None


def _load() -> Any:
    global _CURRENT, _use_service
    from ..master.process import CURRENT_PROCESS
    from ..master.registry import use_service
    _CURRENT, _use_service = CURRENT_PROCESS, use_service
    return CURRENT_PROCESS.get()
