"""NAME
    flush - Postfix fast flush server

SUMMARY
    from simlab.postfix.flush import flush_site, flush_queue_ids, site_allowed, FlushServer
    site_allowed(ctx, "deferred.example")   # is the site in fast_flush_domains?
    flush_site(ctx, "deferred.example")     # its deferred mail -> incoming, qmgr woken; -> count
    flush_queue_ids(ctx, ["C086916052C"])   # the same for named messages
    FlushServer(ctx).start()                # answers ctx.events "flush" requests (ETRN)

DESCRIPTION
    flush(8) delivers the mail that waits in the deferred queue for one
    destination now, on request: smtpd's ETRN, ``postqueue -s site`` and
    ``sendmail -qRsite``. Postfix keeps a log of queue ids per site for
    that (filled when mail for a recipient domain is deferred); here the
    deferred queue itself is that log: a site's mail is every deferred
    message with a pending recipient in exactly that domain.

    Flushing a message gives its queue file the current time as time stamp
    (on the virtual network the virtual time) and renames it from deferred
    to incoming, as flush_one_file() does; then the queue manager is woken
    with an "I" (scan incoming) request, so the retry happens at once
    instead of at the message's next retry time.

    Only sites in fast_flush_domains (default $relay_domains) are served;
    smtpd answers "459 4.7.1 <site>: Unable to perform ETRN request" for
    the others and postqueue says "Flush service is not configured for
    destination".

    A FlushServer subscribes to the "flush" wake-up channel of the
    instance (smtpd's ETRN fires ``ctx.events.wakeup("flush", site)``) and
    runs each request as a process of the master.cf flush service, so it
    shows in the master's process table and maillog pids.

PARAMETERS
    fast_flush_domains, parent_domain_matches_subdomains, queue_directory.

SEE ALSO
    flush(8), smtpd(8) ETRN, postqueue(1), qmgr(8), RFC 1985
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from ..common.queue import QueueStore

__all__ = ["FlushServer", "flush_queue_ids", "flush_site", "site_allowed", "site_queue_ids"]

QMGR_SCAN_INCOMING = "I"


def site_allowed(ctx: Any, site: str) -> bool:
    """Is ``site`` one of fast_flush_domains (a domain_list, parent domains as configured)?"""
    from ..smtpd.lists import get, match_domain, parent_matches
    cfg = ctx.config
    value = get(cfg, "fast_flush_domains", get(cfg, "relay_domains"))
    return match_domain(ctx, value, site.strip("[]").rstrip("."),
                        parent=parent_matches(cfg, "fast_flush_domains"))


def site_queue_ids(store: QueueStore, site: str) -> list[str]:
    """The deferred messages with a pending recipient at ``site``."""
    want = site.lower().strip("[]").rstrip(".")
    out = []
    for qid in store.list("deferred"):
        try:
            qf = store.read("deferred", qid)
        except (OSError, ValueError):
            continue
        if any(r.address.rpartition("@")[2].lower().rstrip(".") == want for r in qf.pending()):
            out.append(qid)
    return out


def requeue(ctx: Any, store: QueueStore, qids: Iterable[str]) -> int:
    """flush_one_file(): deferred -> incoming with a fresh time stamp; how many moved."""
    moved = 0
    for qid in qids:
        path = store.locate("deferred", qid)
        if path is None:
            continue
        now = ctx.now()
        try:
            os.utime(path, (now, now))
            store.move(qid, "deferred", "incoming")
        except FileNotFoundError:
            continue
        moved += 1
    return moved


def _wake_qmgr(ctx: Any, moved: int) -> None:
    if moved:
        ctx.events.wakeup("qmgr", QMGR_SCAN_INCOMING)


def flush_queue_ids(ctx: Any, qids: Iterable[str], *, wake: bool = True) -> int:
    """Flush the named deferred messages; wake the queue manager when any moved."""
    moved = requeue(ctx, QueueStore(ctx), qids)
    if wake:
        _wake_qmgr(ctx, moved)
    return moved


def flush_site(ctx: Any, site: str, *, wake: bool = True) -> int:
    """Flush the deferred mail for ``site`` (the caller checked site_allowed)."""
    store = QueueStore(ctx)
    moved = requeue(ctx, store, site_queue_ids(store, site))
    ctx.trace.record("flush", "flush", site=site, moved=moved)
    if wake:
        _wake_qmgr(ctx, moved)
    return moved


class FlushServer:
    """flush(8) of one instance: serves the "flush" wake-up channel."""

    name = "flush"

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> "FlushServer":
        if self._unsubscribe is None:
            self._unsubscribe = self.ctx.events.subscribe(self.name, self.request)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def request(self, site: str = "") -> int:
        """One flush request for ``site``; sites outside fast_flush_domains are ignored."""
        from ..master.registry import use_service
        site = str(site or "")
        if not site or not site_allowed(self.ctx, site):
            return 0
        with use_service(self.ctx, self.name):
            return flush_site(self.ctx, site)
