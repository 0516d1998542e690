"""NAME
    postdrop - Postfix mail posting utility

SUMMARY
    drop_id = postdrop(ctx, submission, warn=print_warning)

DESCRIPTION
    postdrop(1) is the set-gid program behind sendmail(1): it writes a
    submission into the world-writable maildrop queue and tells the pickup
    service that a file is there. It needs nothing from the running mail
    system, so local mail can be submitted while Postfix is stopped; the
    file waits in the maildrop until pickup finds it (at start, or on its
    periodic wake-up).

    The file is in postdrop's record layout: the arrival time (postdrop
    does not trust the caller's), the attributes sendmail passed
    (rewrite_context, envelope_id, trace_flags, ...), the full name, the
    sender and the recipients, the message content, and the recipients
    extracted from headers (sendmail -t) after the X record. Its name is a
    queue id, its mode 0444 (a ``postsuper -r`` file keeps mode 0700, which
    is how pickup tells them apart), its modification time the submission
    time. The submitting user's uid, which on a real system is the file's
    owner, is kept in a ``submit_uid`` attribute record.

    When public/pickup does not exist (a system never started): "warning: unable to look up
    public/pickup: No such file or directory", and the mail stays queued.

PARAMETERS
    queue_directory, pickup_service_name, line_length_limit.

SEE ALSO
    postdrop(1), sendmail(1), pickup(8)
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..common.queue import QueueFile, QueueStore, new_queue_id

MODE_MAILDROP = 0o444


def postdrop(ctx: Any, qf: QueueFile, uid: int = 0, warn: Callable[[str], None] | None = None) -> str:
    """Write ``qf`` (sender, recipients, content, attrs, fullname) to the maildrop; returns its id."""
    store = QueueStore(ctx)
    qf.qid = new_queue_id(ctx)
    qf.arrival = ctx.now()
    qf.attrs = {**qf.attrs, "submit_uid": str(uid)}
    path = store.write("maildrop", qf, mode=MODE_MAILDROP)
    os.utime(path, (qf.arrival, qf.arrival))
    from ..master import trigger
    service = ctx.config["pickup_service_name"] or "pickup"
    # a stopped system's public/pickup is still there: the trigger just goes unheard
    if not trigger(ctx, service, "W") and not (store.top / "public" / service).exists():
        if warn is not None:
            warn(f"unable to look up public/{service}: No such file or directory")
    return qf.qid
