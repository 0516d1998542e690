"""NAME
    request - what the queue manager hands a delivery agent, and what comes back

SUMMARY
    req = DeliveryRequest(qid, "active", sender, nexthop, (rcpt, ...), "local", arrival, attrs,
                          active_arrival=t1, agent_handoff=t2)
    statuses = await agent(ctx, service, req)        # [RecipientStatus, ...]
    rep = reporter(ctx, "postfix/local", pid, req)  # bounce.Reporter for the agent's log lines

DESCRIPTION
    Programs pass each other only queue ids and small frozen records. A
    delivery request names the queue file (the agent reads the message from
    it), the envelope sender, the transport and nexthop trivial-rewrite
    chose, the recipients (at most <transport>_destination_recipient_limit
    of them), the arrival time and the queue file's named attributes, plus
    the time stamps the "delays=a/b/c/d" log field is computed from and
    the trace flags (sendmail -bv: report, do not deliver).

    A RecipientStatus says what became of one recipient: "sent",
    "bounced" or "deferred", with the enhanced status code and the reason.
    ``logged`` means the agent already wrote the defer/bounce/trace log
    record (local(8) does, because alias expansion can give one recipient
    many outcomes); otherwise the queue manager writes it from ``reason``,
    ``mta`` and ``diag``.

SEE ALSO
    qmgr(8), deliver_request(3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bounce.client import TRACE_RECORD, Reporter
from ..bounce.log import LogRecord, append_log
from ..common.delivery_log import MsgStats
from ..common.queue import Recipient


@dataclass(frozen=True)
class DeliveryRequest:
    qid: str
    queue: str
    sender: str
    nexthop: str
    recipients: tuple[Recipient, ...]
    transport: str
    arrival: float
    attrs: dict[str, str] = field(default_factory=dict)
    active_arrival: float = 0.0
    agent_handoff: float = 0.0
    trace_flags: int = 0

    def handed_off(self, when: float) -> "DeliveryRequest":
        """This request as the delivery agent gets it (a frozen dataclass's __init__, or
        dataclasses.replace(), sets each field through object.__setattr__: slow per message)."""
        copy = object.__new__(DeliveryRequest)
        fields = copy.__dict__
        fields.update(self.__dict__)
        fields["agent_handoff"] = when
        return copy

    def stats(self) -> MsgStats:
        return MsgStats(incoming_arrival=self.arrival, active_arrival=self.active_arrival,
                        agent_handoff=self.agent_handoff)

    @property
    def verify_only(self) -> bool:
        from ..bounce.client import TRACE_ONLY
        return bool(self.trace_flags & TRACE_ONLY)


@dataclass(frozen=True)
class RecipientStatus:
    rcpt: Recipient
    dsn: str
    status: str                  # "sent" | "bounced" | "deferred"
    reason: str = ""
    relay: str = ""
    mta: str = ""                # Remote-MTA name for the DSN report
    diag: str = ""               # "smtp; 550 5.1.1 ..." or "X-Postfix; ..."
    logged: bool = False         # the agent wrote the status log records itself

    @property
    def done(self) -> bool:
        return self.status != "deferred"


def service_config(ctx: Any, service: Any) -> Any:
    """main.cf plus the service's -o overrides, built once per configuration and service."""
    cfg = ctx.config
    # the context's state: (Config, {service key: Config}, {id(service): (service, Config)})
    hit = ctx.shared.get("qmgr:service_configs")
    if hit is None or hit[0] is not cfg:
        hit = ctx.shared["qmgr:service_configs"] = (cfg, {}, {})
    # memo: the master.cf entries are the same objects for one configuration (services.py)
    seen = hit[2].get(id(service))
    if seen is not None and seen[0] is service:
        return seen[1]
    key = (service.name, service.type, tuple(sorted(service.overrides.items())))
    if key not in hit[1]:
        hit[1][key] = cfg.for_service(service)
    if len(hit[2]) > 256:
        hit[2].clear()
    hit[2][id(service)] = (service, hit[1][key])
    return hit[1][key]


def reporter(ctx: Any, program: str, pid: int, req: DeliveryRequest) -> Reporter:
    """The bounce/defer/trace client for one request."""
    return Reporter(ctx, program, pid, req.qid, req.stats(), req.trace_flags)


def _split_diag(diag: str) -> tuple[str, str]:
    dtype, sep, dtext = diag.partition(";")
    if not sep or dtype.strip().lower() == "x-postfix":
        return "", ""
    return dtype.strip(), dtext.strip()


def record_status(ctx: Any, qid: str, st: RecipientStatus, trace_flags: int = 0) -> None:
    """Write the bounce/defer/trace log record for a status the agent did not record itself."""
    if st.logged:
        return
    rcpt = st.rcpt
    dtype, dtext = _split_diag(st.diag)
    rec = LogRecord(recipient=rcpt.address, status=st.dsn, action="", reason=st.reason,
                    original_recipient=rcpt.orig, dsn_orig_rcpt=rcpt.orcpt, notify=rcpt.notify,
                    offset=rcpt.offset, diag_type=dtype, diag_text=dtext,
                    mta_type="dns" if st.mta else "", mta_mname=st.mta)
    if st.status == "bounced":
        rec.action = "failed"
        append_log(ctx, "bounce", qid, rec)
    elif st.status == "deferred":
        rec.action = "delayed"
        append_log(ctx, "defer", qid, rec)
    elif "SUCCESS" in rcpt.notify.upper().split(",") or trace_flags & TRACE_RECORD:
        rec.action = "delivered"
        if st.relay and st.relay != "none":
            rec.reason = f"delivery via {st.relay}: {st.reason}"
        append_log(ctx, "trace", qid, rec)
