"""NAME
    post - submit a message made by the mail system itself (Postfix's post_mail)

SUMMARY
    qid = await post_mail(ctx, "", ["bob@example.com"], build)
    # build(qid, now) -> message bytes, written after "Received: by HOST (Postfix)\n\tid QID; DATE"
    mail_date(epoch) -> "Tue, 24 Nov 2026 13:39:42 +0000 (UTC)"

DESCRIPTION
    Delivery status notifications (bounce(8)) and mail that local(8)
    forwards (.forward, :include:) are new messages: they go through
    cleanup(8) like any other, get a queue id of their own and a
    ``Received: by myhostname (mail_name)`` header naming that id. cleanup
    adds the missing Message-Id (the local rewrite context) and wakes the
    queue manager.

    ``build`` receives the new queue id and the posting time, so that the
    message text (MIME boundary, Date header) can use them.

PARAMETERS
    myhostname, mail_name.

SEE ALSO
    post_mail(3), cleanup(8)
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from ..cleanup.headers import mail_date, received_bounce
from ..common.queue import Recipient

__all__ = ["mail_date", "post_abandoned", "post_mail", "received_by"]


def received_by(ctx: Any, qid: str, when: float) -> bytes:
    """"Received: by myhostname (mail_name)\\n\\tid QID; DATE\\n"."""
    cfg = ctx.config
    return received_bounce(myhostname=cfg["myhostname"], mail_name=cfg["mail_name"], qid=qid, when=when)


def _open_cleanup(ctx: Any) -> Any:
    from ..cleanup import ClientInfo, open_cleanup
    client = ClientInfo(name="", addr="", port=0, helo="", protocol="", rewrite_context="local")
    return open_cleanup(ctx, ctx.config, client)


def _recipient(r: Recipient | str) -> Recipient:
    if isinstance(r, Recipient):
        return Recipient(r.address, r.orig, r.notify, r.orcpt)
    return Recipient(r, r)


async def post_mail(ctx: Any, sender: str, recipients: Iterable[Recipient | str],
                    build: Callable[[str, float], bytes], attrs: dict[str, str] | None = None,
                    *, received: bool = True) -> str | None:
    """Queue a new message; returns its queue id, or None when cleanup refused it."""
    session = _open_cleanup(ctx)
    qid = session.qid
    now = ctx.now()
    body = build(qid, now)
    content = (received_by(ctx, qid, now) if received else b"") + body
    merged = {"rewrite_context": "local"}
    merged.update(attrs or {})
    result = await session.finish(sender, [_recipient(r) for r in recipients], content, merged)
    return result.qid if result.ok else None


def post_abandoned(ctx: Any, build: Callable[[str, float], bytes]) -> None:
    """A message begun and then given up (the stream closed unfinished): cleanup logs what it saw."""
    session = _open_cleanup(ctx)
    now = ctx.now()
    session.abort(received_by(ctx, session.qid, now) + build(session.qid, now))
