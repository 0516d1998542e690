"""NAME
    local - Postfix's local(8) delivery agent

SUMMARY
    statuses = await deliver(ctx, service, request)     # master.cf command "local"

DESCRIPTION
    Delivers mail for the local domains (mydestination): each recipient
    goes through the aliases, the user's .forward and the mailbox, in
    Sendmail's tradition (recipient.py, forward.py, mailbox.py). Every
    outcome is logged as it happens

        QID: to=<alice@example.com>, orig_to=<team@example.com>, relay=local,
        delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)

    and recorded in the message's status logs (bounce(8)), so the queue
    manager only learns per top-level recipient whether it is finished
    (delivered, forwarded or bounced) or must be tried again.

    Mailboxes get Return-Path:, X-Original-To: and Delivered-To: headers;
    a message that already has a Delivered-To: header for the recipient
    bounces ("mail forwarding loop for ...", 5.4.6). Mail forwarded by a
    .forward or :include: file is re-submitted as a new message.

    |command destinations and mailbox_command run programs of the host
    (see simlab.postfix.commands_registry: registered Python callables on
    a simulated host).

PARAMETERS
    See recipient.py, forward.py, mailbox.py; local_destination_recipient_limit
    and local_destination_concurrency_limit are the queue manager's.

SEE ALSO
    local(8), aliases(5), postconf(5)
"""

from __future__ import annotations

from typing import Any

from ..common.maillog import ident
from ..common.process import agent_process
from ..common.queue import QueueStore
from ..qmgr.request import RecipientStatus, reporter, service_config
from .forward import forward_finish
from .recipient import deliver_recipient
from .state import Attr, LocalState, UserAttr, delivered_addresses

__all__ = ["deliver"]


def _status(state: LocalState, rcpt: Any, rcpt_stat: int) -> RecipientStatus:
    if rcpt_stat != 0 or "deferred" in state.outcomes:
        word = "deferred"
    elif "sent" in state.outcomes or not state.outcomes:
        word = "sent"
    else:
        word = "bounced"
    dsn, reason = state.last
    return RecipientStatus(rcpt, dsn or ("4.3.0" if word == "deferred" else "2.0.0"), word,
                           reason, state.relay, logged=True)


async def deliver(ctx: Any, service: Any, req: Any) -> list[RecipientStatus]:
    """The local(8) entry point: one delivery request, one status per recipient."""
    cfg = service_config(ctx, service)
    qf = QueueStore(ctx).read(req.queue, req.qid)
    with agent_process(ctx, service) as pid:
        rep = reporter(ctx, ident(cfg, service.command), pid, req)
        state = LocalState(ctx, service, cfg, req, rep, qf.content, pid,
                           loop_info=delivered_addresses(qf.content))
        out = []
        for rcpt in req.recipients:
            state.new_recipient()
            top = Attr(rcpt=rcpt, sender=req.sender)
            rcpt_stat = await deliver_recipient(state, top, UserAttr())
            rcpt_stat |= await forward_finish(state, top, cancel=rcpt_stat != 0)
            out.append(_status(state, rcpt, rcpt_stat))
        return out
