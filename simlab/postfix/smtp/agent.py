"""NAME
    agent - the smtp(8) and lmtp(8) delivery agents

SUMMARY
    statuses = await deliver(ctx, service, request)      # service.command "smtp" or "lmtp"

DESCRIPTION
    Takes one delivery request from the queue manager (a queue id, a next
    hop and some recipients), finds the addresses to try (nexthop.py), and
    tries them in order (session.py) until every recipient has a final
    status or no address is left: recipients still open then are deferred
    with the last reason ("connect to 127.0.0.1[127.0.0.1]:2599: Connection
    refused", relay=none). An empty next hop means relayhost, or else the
    recipient's domain; smtp_fallback_relay hosts are tried after the rest.
    At most smtp_mx_session_limit servers get a session; the last one to try
    is the "final server", whose soft failures defer instead of moving on.

    Each recipient gets one log line from common.delivery_log:

        QID: to=<u@relay.example>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.02,
        delays=0/0.02/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok)

    where c in delays is the connection setup (DNS, connect, greeting,
    EHLO, until MAIL FROM is sent) and d the transaction. Recipients refused
    at RCPT time are logged first, as Postfix logs them while the session is
    still going.

    With smtp_sasl_auth_enable the client logs in with the user:password that
    smtp_sasl_password_maps gives for the next hop (or the server name);
    smtp_sasl_security_options containing noplaintext (the default) forbids
    PLAIN and LOGIN, which are the only mechanisms simlab has.

PARAMETERS
    smtp_helo_name, lmtp_lhlo_name, relayhost, smtp_fallback_relay,
    smtp_mx_session_limit, smtp_never_send_ehlo,
    smtp_sasl_auth_enable, smtp_sasl_password_maps,
    smtp_sasl_security_options, smtp_sasl_auth_soft_bounce,
    smtp_line_length_limit, myhostname, syslog_name (and the lmtp_ forms).

SEE ALSO
    smtp(8), lmtp(8), postconf(5)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ...proto.smtp import Credentials
from ..bounce import Dsn, Reporter
from ..common.delivery_log import MsgStats
from ..common.maillog import ident
from ..common.queue import QueueStore
from ..config import ConfigError
from ..common.process import agent_process
from .nexthop import NextHopError, Target, find_targets, parse_nexthop
from .session import Attempt, Verdict, run_session

_CFG_ERRORS = (KeyError, ValueError, ConfigError)
_DSN_RET = {"1": "FULL", "2": "HDRS", "FULL": "FULL", "HDRS": "HDRS"}
_SETTINGS: dict[int, tuple[Any, tuple[bool, str], tuple[str, str, str, bool, bool, bool, int]]] = {}


class SmtpAgent:
    """One delivery request in the hands of smtp(8) or lmtp(8)."""

    def __init__(self, ctx: Any, service: Any, req: Any, pid: int) -> None:
        self.ctx = ctx
        self.service = service
        self.req = req
        self.lmtp = service.command == "lmtp"
        self.prefix = "lmtp" if self.lmtp else "smtp"
        self.program_name = self.prefix
        self.cfg = ctx.config.for_service(service) if hasattr(ctx.config, "for_service") else ctx.config
        self.pid = pid
        (self.ident, self.myhostname, self.helo_name, self.esmtp, self.skip_5xx_greeting,
         self.sasl_soft_bounce, self.line_limit) = self._settings(ctx.hostname)
        self.nexthop = req.nexthop
        attrs = dict(getattr(req, "attrs", {}) or {})
        self.envid = attrs.get("envelope_id", "")
        self.ret = _DSN_RET.get(str(attrs.get("ret_flags", "")).upper(), "")
        enc = attrs.get("encoding", "").lower()
        self.body = {"8bit": "8BITMIME", "7bit": "7BIT"}.get(enc, "")
        self.smtputf8 = attrs.get("smtputf8", "") not in ("", "0")
        self.needs_smtputf8 = False
        self.size = 0
        self.stats = MsgStats(incoming_arrival=float(req.arrival),
                              active_arrival=float(getattr(req, "active_arrival", 0.0) or 0.0),
                              agent_handoff=float(getattr(req, "agent_handoff", 0.0) or ctx.now()))
        self.final: dict[int, str] = {}
        self.verify_only = bool(getattr(req, "verify_only", False))
        self.reporter = Reporter(ctx, self.ident, pid, req.qid, self.stats,
                                 int(getattr(req, "trace_flags", 0) or attrs.get("trace_flags", 0) or 0))

    # -- configuration ------------------------------------------------------------
    def _settings(self, hostname: str) -> tuple[str, str, str, bool, bool, bool, int]:
        """Memo: what every request reads from the configuration object (replaced, never
        changed, on reload), per smtp/lmtp and host name."""
        cfg = self.cfg
        hit = _SETTINGS.get(id(cfg))
        if hit is not None and hit[0] is cfg and hit[1] == (self.lmtp, hostname):
            return hit[2]
        myhostname = self._str("myhostname", hostname)
        values = (ident(cfg, self.prefix), myhostname,
                  self._str("lmtp_lhlo_name" if self.lmtp else "smtp_helo_name", myhostname),
                  self.lmtp or (not self._bool("smtp_never_send_ehlo", False)),
                  self._bool(self.prefix + "_skip_5xx_greeting", True),
                  self._bool(self.prefix + "_sasl_auth_soft_bounce", True),
                  self._int(self.prefix + "_line_length_limit", 998))
        if len(_SETTINGS) >= 64:
            _SETTINGS.clear()
        _SETTINGS[id(cfg)] = (cfg, (self.lmtp, hostname), values)
        return values

    def _str(self, name: str, default: str) -> str:
        try:
            return self.cfg[name] or default
        except KeyError:
            return default

    def _bool(self, name: str, default: bool) -> bool:
        try:
            return self.cfg.get_bool(name)
        except _CFG_ERRORS:
            return default

    def _int(self, name: str, default: int) -> int:
        try:
            return self.cfg.get_int(name)
        except _CFG_ERRORS:
            return default

    def time_param(self, suffix: str, default: float) -> float | None:
        """A time limit in seconds; None where the parameter says 0 (no limit of our own)."""
        names = [f"{self.prefix}_{suffix}"]
        if self.lmtp and suffix == "helo_timeout":
            names.insert(0, "lmtp_lhlo_timeout")
        for name in names:
            try:
                value = self.cfg.get_time(name)
            except _CFG_ERRORS:
                continue
            return value if value > 0 else None
        return default

    # -- logging ------------------------------------------------------------------
    def info(self, text: str) -> None:
        self.ctx.log.line(self.ident, self.pid, text)

    def warning(self, text: str) -> None:
        self.ctx.log.line(self.ident, self.pid, "warning: " + text)

    def dsn_params(self, rcpt: Any) -> tuple[str, str]:
        orcpt = getattr(rcpt, "orcpt", "") or ""
        orig = getattr(rcpt, "orig", "") or rcpt.address
        if not orcpt and orig:
            orcpt = "rfc822;" + orig
        return orcpt, getattr(rcpt, "notify", "") or ""

    # -- the request ----------------------------------------------------------------
    def destinations(self) -> list[str]:
        hops = [self.req.nexthop] if self.req.nexthop else []
        if not hops:
            relay = self._str("relayhost", "") if not self.lmtp else ""
            if relay:
                hops = relay.replace(",", " ").split()
            else:
                hops = [self.req.recipients[0].address.rpartition("@")[2]]
        if not self.lmtp:
            hops += self._str("smtp_fallback_relay", "").replace(",", " ").split()
        return hops

    def credentials(self, target: Target) -> Credentials | None:
        if self.lmtp or not self._bool("smtp_sasl_auth_enable", False):
            return None
        for spec in self._list("smtp_sasl_password_maps"):
            table = self.ctx.map(spec)
            for key in (self.nexthop, f"[{target.host}]:{target.port}", f"[{target.host}]",
                        target.host):
                value = table.lookup(key) if key else None
                if value:
                    user, _, password = value.partition(":")
                    return Credentials(user, password)
        return None

    def _list(self, name: str) -> list[str]:
        try:
            return self.cfg.get_list(name)
        except _CFG_ERRORS:
            return []

    async def run(self) -> list[Any]:
        req = self.req
        qf = QueueStore(self.ctx).read(req.queue, req.qid)
        self.size = qf.size or len(qf.content)
        if self.smtputf8:
            # a message sent with SMTPUTF8 that has UTF-8 in its envelope or headers cannot be downgraded
            head = qf.content.split(b"\n\n", 1)[0]
            self.needs_smtputf8 = not (head.isascii() and req.sender.isascii()
                                       and all(r.address.isascii() for r in req.recipients))
        pending = list(range(len(req.recipients)))
        done: dict[int, Verdict] = {}
        last: Verdict | None = None
        targets: list[Target] = []
        hops = self.destinations()
        self.nexthop = req.nexthop or hops[0]
        for hop in hops:
            try:
                targets += await find_targets(self.ctx, self.cfg, parse_nexthop(hop, self.lmtp),
                                              self.lmtp, self.program_name)
            except NextHopError as e:
                last = Verdict(e.dsn, e.text, "none", time=self.ctx.now())
        session_limit = self._int(self.prefix + "_mx_session_limit", 2)
        sessions = 0
        for n, target in enumerate(targets):
            if not pending:
                break
            final = n == len(targets) - 1 or (session_limit > 0 and sessions + 1 >= session_limit)
            creds = self.credentials(target)
            if creds is not None and "noplaintext" in self._list(self.prefix + "_sasl_security_options"):
                self.warning("SASL authentication failure: No worthy mechs found")
                last = Verdict("4.7.0", f"SASL authentication failed; cannot authenticate to "
                                        f"server {target.namaddr}: no mechanism available",
                               target.namaddrport, time=self.ctx.now())
                continue
            attempt = await run_session(self, target, pending, final, qf.content, creds)
            if not attempt.connected:
                last = attempt.error
                continue
            sessions += 1
            self._log_attempt(attempt, done)
            pending = [i for i in pending if i not in done]
            kept = [attempt.verdicts[i] for i in pending if i in attempt.verdicts]
            if kept:
                last = kept[-1]
            if final:
                break
        for i in pending:
            v = last or Verdict("4.4.1", "no destination available", "none", time=self.ctx.now())
            done[i] = dataclasses.replace(v, keep=False)
            self._log(i, done[i], 0.0)
        return [self._status(i, done[i]) for i in range(len(req.recipients))]

    def _log_attempt(self, attempt: Attempt, done: dict[int, Verdict]) -> None:
        core = attempt.core
        setup = core.setup_done_at if core is not None else 0.0
        order = sorted(attempt.verdicts, key=lambda i: (i not in attempt.rcpt_stage, i))
        for i in order:
            v = attempt.verdicts[i]
            if v.keep:
                continue
            done[i] = v
            self._log(i, v, setup or v.time)

    def _log(self, i: int, v: Verdict, setup_done: float) -> None:
        """Report one final verdict: the status log line and the bounce/defer/trace record."""
        rcpt = self.req.recipients[i]
        notify = getattr(rcpt, "notify", "") or ""
        remote_success = v.remote_dsn and v.status == "sent" and not self.verify_only \
            and "SUCCESS" in notify.upper().split(",")
        if remote_success:
            # a DSN server got NOTIFY=SUCCESS: the trace record is kept, without SUCCESS, so that
            # bounce(8) has a trace log to look at but nothing of it to report (measured)
            rest = [w for w in notify.split(",") if w.upper() != "SUCCESS"]
            rcpt = dataclasses.replace(rcpt, notify=",".join(rest))
        self.reporter.stats = dataclasses.replace(self.stats, conn_setup_done=setup_done or v.time,
                                                  deliver_done=v.time)
        dsn = Dsn(v.dsn, v.reason, dtype="smtp" if v.dtext else "", dtext=v.dtext,
                  mtype="dns" if v.mname else "", mname=v.mname)
        report = {"sent": self.reporter.sent, "bounced": self.reporter.bounce,
                  "deferred": self.reporter.defer}[v.status]
        if report(rcpt, v.relay, dsn) < 0:
            self.final[i] = "deferred"
        else:       # a probe's soft failure is a result too (trace log): the recipient is finished
            self.final[i] = "sent" if v.status == "deferred" else v.status
        if remote_success:
            self.reporter.trace(rcpt, v.relay, dataclasses.replace(dsn, action="relayed"))

    def _status(self, i: int, v: Verdict) -> Any:
        from ..qmgr import RecipientStatus
        return RecipientStatus(rcpt=self.req.recipients[i], dsn=v.dsn,
                               status=self.final.get(i, v.status), reason=v.reason, relay=v.relay,
                               mta=v.mname, diag=f"smtp; {v.dtext}" if v.dtext else f"X-Postfix; {v.reason}",
                               logged=True)


async def deliver(ctx: Any, service: Any, req: Any) -> list[Any]:
    """The agent entry point (master.cf command "smtp" or "lmtp")."""
    with agent_process(ctx, service) as pid:
        return await SmtpAgent(ctx, service, req, pid).run()


async def deliver_smtp(ctx: Any, service: Any, req: Any) -> list[Any]:
    return await deliver(ctx, dataclasses.replace(service, command="smtp"), req)


async def deliver_lmtp(ctx: Any, service: Any, req: Any) -> list[Any]:
    return await deliver(ctx, dataclasses.replace(service, command="lmtp"), req)
