"""NAME
    qmgr - the queue manager (Postfix's qmgr(8))

SUMMARY
    from simlab.postfix.qmgr import QueueManager, DeliveryRequest, RecipientStatus, AGENTS

DESCRIPTION
    Moves mail from the incoming and deferred queues into the active queue,
    asks trivial-rewrite where each recipient goes, hands delivery requests
    to the delivery agents (local, virtual, smtp, lmtp, pipe, error,
    discard) with per-destination concurrency and recipient limits, and
    afterwards removes the message, defers it with exponential backoff, or
    has bounce(8) notify the sender (non-delivery, delay warning, success,
    expiry).

    manager.py   the daemon: wake-ups, queue scans, concurrency slots
    active.py    one message: resolve, dispatch, bounce/defer/remove
    request.py   DeliveryRequest and RecipientStatus, the records agents see
    agents.py    transport name -> master.cf service -> agent function

SEE ALSO
    qmgr(8), QSHAPE_README, postconf(5)
"""

from __future__ import annotations

from .agents import AGENTS, agent_for, transport_service
from .manager import QueueManager
from .request import DeliveryRequest, RecipientStatus, reporter

__all__ = ["AGENTS", "DeliveryRequest", "QueueManager", "RecipientStatus", "agent_for",
           "reporter", "transport_service"]
