"""NAME
    assign - a process of a service for each client, within the service's maxproc

DESCRIPTION
    Master's side of one client: the listener factory the binder calls per
    connection (_wrap) takes a process of the service (_assign: an idle one
    of the current generation, else a new one while the service is under
    its maxproc limit, else the least busy one, with Postfix's "has reached
    its process limit" warnings once per service), creates the service's
    protocol with that process as current_process(), and gives the process
    back (Master.release) when the connection is lost. Kept apart from
    master.py, which starts, stops and reloads the services.

PARAMETERS
    default_process_limit (for a maxproc of "-"). See master(5).

SEE ALSO
    master(8), master(5)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .process import CURRENT_PROCESS, Process

if TYPE_CHECKING:
    from .master import ServiceState


class AssignMixin:
    """Master's _limit(), _assign(), _limit_warning() and _wrap()."""

    def _limit(self, svc: Any) -> int:
        if svc.maxproc is None:
            return self.ctx.config.get_int("default_process_limit")
        return svc.maxproc

    def _assign(self, state: ServiceState) -> Process:
        svc = state.svc
        proc = self.table.idle_one(svc.name, svc.type, self.generation)
        if proc is None:
            procs = self.table.serving(svc.name, svc.type, self.generation)
            limit = self._limit(svc)
            if limit == 0 or len(procs) < limit:
                proc = self.table.start(svc, self.generation)
            else:
                if not state.warned_limit:
                    state.warned_limit = True
                    self._limit_warning(svc, limit)
                proc = min(procs, key=lambda p: p.busy_count)
        self.table.busy(proc)
        return proc

    def _limit_warning(self, svc: Any, limit: int) -> None:
        port = svc.name.rpartition(":")[2]
        self.log(f'warning: service "{svc.name}" ({port}) has reached its process limit "{limit}": '
                 "new clients may experience noticeable delays")
        self.log("warning: to avoid this condition, increase the process count in master.cf "
                 "or reduce the service time per client")
        self.log("warning: see https://www.postfix.org/STRESS_README.html for examples of "
                 "stress-adapting configuration settings")

    def _wrap(self, key: str) -> Any:
        """The factory the binder calls per connection: a process, then the service's protocol.

        It looks the service up at each connection, so a listener kept across
        a reload serves new clients with the new configuration.
        """
        def factory() -> Any:
            state = self.services[key]
            proc = self._assign(state)
            token = CURRENT_PROCESS.set(proc)
            try:
                proto = state.factory()
            finally:
                CURRENT_PROCESS.reset(token)
            lost = proto.connection_lost

            def connection_lost(exc: Exception | None) -> None:
                try:
                    lost(exc)
                finally:
                    try:    # proto -> this closure -> its bound method -> proto: a cycle to break
                        del proto.connection_lost
                    except AttributeError:
                        pass
                    self.release(proc)
            proto.connection_lost = connection_lost
            try:
                proto.master_process = proc
            except AttributeError:
                pass
            return proto
        return factory
