"""NAME
    bounce - delivery status logs and notifications (Postfix's bounce(8), defer(8), trace(8))

SUMMARY
    from simlab.postfix.bounce import Reporter, Dsn, bounce_flush, defer_flush, defer_warn, trace_flush
    rep = Reporter(ctx, "postfix/local", pid, qid, stats)
    rep.bounce(rcpt, "local", Dsn("5.1.1", 'unknown user: "nosuch"'))   # agent side
    await bounce_flush(ctx, "active", qid)                              # qmgr side

DESCRIPTION
    Delivery agents append a record per recipient to the message's status
    logs (defer/QID, bounce/QID, trace/QID, see log.py) while logging the
    "status=" line; the queue manager later asks for the notification to
    the sender: a non-delivery report, a delay warning, a success or a
    verification report, in RFC 3464 format (notify.py, templates.py),
    submitted through cleanup with the null sender (post.py). mailq reads
    the last deferral reasons with ``last_reasons(ctx, qid)``.

SEE ALSO
    bounce(8), bounce(5), RFC 3464
"""

from __future__ import annotations

from .client import TRACE_MTA_VRFY, TRACE_RECORD, TRACE_USR_VRFY, Dsn, Reporter
from .log import LogRecord, append_log, has_log, last_reasons, log_path, read_log, remove_log
from .notify import Original, build_dsn, line_wrap
from .post import mail_date, post_mail
from .service import bounce_flush, defer_flush, defer_warn, trace_flush
from .templates import BUILTIN, Template, load_templates

__all__ = [
    "BUILTIN", "Dsn", "LogRecord", "Original", "Reporter", "TRACE_MTA_VRFY", "TRACE_RECORD",
    "TRACE_USR_VRFY", "Template", "append_log", "bounce_flush", "build_dsn", "defer_flush",
    "defer_warn", "has_log", "last_reasons", "line_wrap", "load_templates", "log_path",
    "mail_date", "post_mail", "read_log", "remove_log", "trace_flush",
]
