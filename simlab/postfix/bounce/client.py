"""NAME
    client - how a delivery agent reports a recipient: sent, bounced, deferred, traced

SUMMARY
    rep = Reporter(ctx, "postfix/local", pid, qid, stats, trace_flags=0)
    rep.sent(rcpt, "local", Dsn("2.0.0", "delivered to mailbox"))      -> 0
    rep.bounce(rcpt, "local", Dsn("5.1.1", 'unknown user: "nosuch"'))  -> 0
    rep.defer(rcpt, "none", Dsn("4.4.1", "connect to ...: Connection refused"))  -> -1

DESCRIPTION
    The calls of Postfix's sent(3), bounce_append(3), defer_append(3) and
    trace_append(3), made by a delivery agent for each recipient:

    sent      logs "status=sent (reason)"; when the recipient asked for a
              success notice (NOTIFY=SUCCESS) or the message is traced
              (sendmail -v), also appends a "trace" log record
              ("delivery via RELAY: reason", action delivered/relayed/expanded).
    bounce    appends a "bounce" log record (action failed) and logs
              "status=bounced"; with soft_bounce = yes it defers instead.
    defer     appends a "defer" log record (action delayed) and logs
              "status=deferred"; the result is -1: try again later.
    trace     appends a "trace" record only.

    For an address verification request (sendmail -bv, trace flag
    USR_VRFY) nothing is delivered: every outcome becomes a "trace" record
    with action deliverable or undeliverable and the log says
    "status=deliverable" / "status=undeliverable".

    The result is 0 when the recipient is finished (delivered or bounced)
    and -1 when it must be tried again, as with Postfix.

PARAMETERS
    soft_bounce, delay_logging_resolution_limit.

SEE ALSO
    bounce(8), defer(8), trace(8), sent(3)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..common.delivery_log import MsgStats, log_delivery
from ..common.queue import Recipient
from .log import LogRecord, append_log

# Postfix's DEL_REQ_FLAG_* bits, as stored in the queue file's trace_flags attribute.
TRACE_MTA_VRFY = 1 << 8       # address verification service probe
TRACE_USR_VRFY = 1 << 9       # sendmail -bv: report, do not deliver
TRACE_RECORD = 1 << 10        # sendmail -v: deliver and report
TRACE_ONLY = TRACE_MTA_VRFY | TRACE_USR_VRFY


@dataclass(frozen=True)
class Dsn:
    """A delivery status: enhanced code, reason text and optional DSN details."""

    status: str
    reason: str
    action: str = ""
    dtype: str = ""      # diagnostic type ("smtp")
    dtext: str = ""      # diagnostic text (the remote server's reply)
    mtype: str = ""      # remote MTA type ("dns")
    mname: str = ""      # remote MTA name


def _record(rcpt: Recipient, dsn: Dsn, reason: str | None = None) -> LogRecord:
    return LogRecord(recipient=rcpt.address, status=dsn.status, action=dsn.action,
                     reason=dsn.reason if reason is None else reason,
                     original_recipient=rcpt.orig, dsn_orig_rcpt=rcpt.orcpt,
                     notify=rcpt.notify, offset=rcpt.offset, diag_type=dsn.dtype,
                     diag_text=dsn.dtext, mta_type=dsn.mtype, mta_mname=dsn.mname)


@dataclass
class Reporter:
    """One delivery attempt's reporting context (queue id, log identity, timings)."""

    ctx: Any
    program: str
    pid: int
    qid: str
    stats: MsgStats
    trace_flags: int = 0

    @property
    def verify_only(self) -> bool:
        return bool(self.trace_flags & TRACE_ONLY)

    def _log(self, rcpt: Recipient, relay: str, dsn: Dsn, status: str) -> None:
        log_delivery(self.ctx, self.program, self.pid, self.qid, rcpt.address, rcpt.orig, relay,
                     self.stats, dsn.status, status, dsn.reason)

    def trace(self, rcpt: Recipient, relay: str, dsn: Dsn) -> int:
        reason = dsn.reason if relay == "none" else f"delivery via {relay}: {dsn.reason}"
        append_log(self.ctx, "trace", self.qid, _record(rcpt, dsn, reason))
        if self.trace_flags & TRACE_USR_VRFY:
            self._log(rcpt, relay, dsn, dsn.action)
        return 0

    def sent(self, rcpt: Recipient, relay: str, dsn: Dsn) -> int:
        if not dsn.status.startswith("2"):
            dsn = replace(dsn, status="2.0.0")
        if self.verify_only:
            return self.trace(rcpt, relay, replace(dsn, action="deliverable"))
        if self.trace_flags & TRACE_RECORD or rcpt.notify:
            # only then is the record written (dataclasses.replace() is slow per recipient)
            dsn = replace(dsn, action=dsn.action or "delivered")
            if self.trace_flags & TRACE_RECORD:
                self.trace(rcpt, relay, dsn)
            if "SUCCESS" in rcpt.notify.upper().split(","):
                self.trace(rcpt, relay, dsn)
        self._log(rcpt, relay, dsn, "sent")
        return 0

    def bounce(self, rcpt: Recipient, relay: str, dsn: Dsn) -> int:
        if self.ctx.config.get_bool("soft_bounce"):
            status = "4" + dsn.status[1:] if dsn.status[:1] == "5" else dsn.status
            return self.defer(rcpt, relay, replace(dsn, status=status))
        if self.verify_only:
            return self.trace(rcpt, relay, replace(dsn, action="undeliverable"))
        dsn = replace(dsn, action="failed")
        append_log(self.ctx, "bounce", self.qid, _record(rcpt, dsn))
        if self.trace_flags & TRACE_RECORD:
            self.trace(rcpt, relay, dsn)
        self._log(rcpt, relay, dsn, "bounced")
        return 0

    def defer(self, rcpt: Recipient, relay: str, dsn: Dsn) -> int:
        if self.verify_only:
            return self.trace(rcpt, relay, replace(dsn, action="undeliverable"))
        dsn = replace(dsn, action="delayed")
        append_log(self.ctx, "defer", self.qid, _record(rcpt, dsn))
        if self.trace_flags & TRACE_RECORD:
            self.trace(rcpt, relay, dsn)
        self._log(rcpt, relay, dsn, "deferred")
        return -1
