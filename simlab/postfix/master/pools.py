"""NAME
    pools - the programs' process pools, backed by the master's process table

SUMMARY
    install_pools(master)      # at master start: ctx.pid_pool("cleanup") now asks master
    remove_pools(master)       # at stop: back to the stand-alone pools

DESCRIPTION
    Programs that serve another program in-process (cleanup for smtpd and
    pickup, local/smtp/... for qmgr) take a process id from
    ``ctx.pid_pool(program)``: ``take()`` when a request starts, ``give(pid)``
    when it is done. While a master runs, those pools are this module's:
    take() is a process of the master.cf service of that name (or command),
    started on demand, counted against maxproc and max_use, idle-timed
    with max_idle, and traced; so ``master.processes()`` and the maillog
    show the same pids.

SEE ALSO
    master(8)
"""

from __future__ import annotations

from typing import Any

from .process import Process

PROGRAMS = ("cleanup", "trivial-rewrite", "rewrite", "local", "virtual", "smtp", "lmtp", "relay", "pipe",
            "bounce", "defer", "trace", "error", "retry", "discard", "showq", "verify", "flush",
            "proxymap", "anvil", "scache", "tlsmgr", "postlogd", "smtpd")


class MasterPool:
    """PidPool's take()/give() on top of the master's process table."""

    def __init__(self, master: Any, program: str, fallback: Any) -> None:
        self.master = master
        self.program = program
        self.fallback = fallback
        self.lent: dict[int, list[Process]] = {}

    def take(self) -> int:
        proc = self.master.acquire(self.program) if self.master.running else None
        if proc is None:
            return self.fallback.take() if self.fallback is not None else self.master.ctx.pids.next()
        self.lent.setdefault(proc.pid, []).append(proc)
        return proc.pid

    def give(self, pid: int) -> None:
        procs = self.lent.get(pid)
        if procs:
            proc = procs.pop()
            if not procs:
                del self.lent[pid]
            if self.master.table.has(proc):
                self.master.release(proc)
        elif self.fallback is not None:
            self.fallback.give(pid)


def install_pools(master: Any) -> None:
    shared = getattr(master.ctx, "shared", None)
    if shared is None:
        return
    for program in PROGRAMS:
        key = "pids:" + program
        old = shared.get(key)
        if isinstance(old, MasterPool):
            old = old.fallback
        shared[key] = MasterPool(master, program, old)


def remove_pools(master: Any) -> None:
    shared = getattr(master.ctx, "shared", None)
    if shared is None:
        return
    for key, pool in list(shared.items()):
        if isinstance(pool, MasterPool) and pool.master is master:
            if pool.fallback is not None:
                shared[key] = pool.fallback
            else:
                del shared[key]
