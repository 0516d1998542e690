"""NAME
    session - one SMTP/LMTP session of smtp(8): connect, talk, judge each recipient

SUMMARY
    attempt = await run_session(agent, target, rcpt_indexes, final=True)
    attempt.connected, attempt.verdicts[i], attempt.keep

DESCRIPTION
    Connects to one address (within smtp_connect_timeout), runs the sans-IO
    client core over the connection (with Postfix's per-stage time-outs) and
    turns what happened into a verdict per recipient, with the words Postfix
    logs:

        host H[A] said: 550 5.1.1 ... (in reply to RCPT TO command)
        host H[A] refused to talk to me: 554 ...
        lost connection with H[A] while sending RCPT TO
        conversation with H[A] timed out while receiving the initial server greeting
        connect to H[A]:25: Connection refused
        mail for example.net loops back to myself

    A soft failure (4xx, a broken connection, a 5xx greeting while
    smtp_skip_5xx_greeting is on) on a server that is not the last one to
    try only logs "QID: reason" and keeps the recipient for the next server;
    a hard failure is final at once. A reply that is neither 4xx nor 5xx
    where one of those was due becomes "Protocol error: ..." with 5.5.0.

PARAMETERS
    smtp_connect_timeout, smtp_helo_timeout, smtp_mail_timeout,
    smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_done_timeout,
    smtp_rset_timeout, smtp_quit_timeout, smtp_skip_5xx_greeting,
    smtp_line_length_limit, smtp_send_xforward_command, smtp_xforward_timeout
    (and the lmtp_ forms, lmtp_lhlo_timeout).

SEE ALSO
    smtp(8), smtp_connect.c, smtp_proto.c, smtp_trouble.c in Postfix
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...io import run_client
from ...proto.smtp import Credentials, Outcome, Rcpt, SMTPClient, State
from .nexthop import Target

if TYPE_CHECKING:
    from .agent import SmtpAgent

_TIMEOUTS = {
    State.GREETING: "helo", State.EHLO: "helo", State.LHLO: "helo", State.HELO: "helo",
    State.AUTH: "helo", State.XFORWARD: "xforward", State.MAIL: "mail", State.RCPT: "rcpt", State.DATA: "data_init",
    State.DOT: "data_done", State.RSET: "rset", State.QUIT: "quit",
}


@dataclass
class Verdict:
    """The final word on one recipient (or, with keep, the reason it moves on)."""

    dsn: str
    reason: str
    relay: str
    mname: str = ""               # Remote-MTA (dns; NAME) for the DSN report
    dtext: str = ""               # Diagnostic-Code (smtp; TEXT): what the server said
    time: float = 0.0
    keep: bool = False            # soft failure on a non-final server: try the next one
    remote_dsn: bool = False      # the server announced DSN: NOTIFY=SUCCESS is its job now

    @property
    def status(self) -> str:
        return {"2": "sent", "4": "deferred"}.get(self.dsn[:1], "bounced")


@dataclass
class Attempt:
    connected: bool
    error: Verdict | None = None          # why the connection failed
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    rcpt_stage: set[int] = field(default_factory=set)   # decided by a RCPT reply (logged first)
    core: SMTPClient | None = None


def connect_error_text(target: Target, exc: BaseException) -> str:
    where = target.ip if target.unix else target.namaddrport
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        why = "Connection timed out"
    elif isinstance(exc, ConnectionRefusedError):
        why = "Connection refused"
    elif isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    elif isinstance(exc, OSError) and exc.errno:
        why = errno.errorcode.get(exc.errno, str(exc))
    else:
        why = str(exc) or type(exc).__name__
    return f"connect to {where}: {why}"


async def _connect(agent: "SmtpAgent", target: Target) -> tuple[Any, Any]:
    net = agent.ctx.net
    if target.unix:
        opener = getattr(net, "connect_unix", None)
        if opener is not None:
            return await opener(target.ip, agent.program_name)
        from ..common.netaccess import RealNetAccess
        if not isinstance(net, RealNetAccess):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        path = target.ip if target.ip.startswith("/") else \
            f"{agent.cfg['queue_directory'].rstrip('/')}/{target.ip}"
        return await asyncio.open_unix_connection(str(agent.ctx.path(path)))
    return await net.connect(target.ip, target.port, agent.program_name)


async def run_session(agent: "SmtpAgent", target: Target, indexes: list[int], final: bool,
                      message: bytes, credentials: Credentials | None) -> Attempt:
    """Deliver the recipients ``indexes`` through ``target``."""
    try:
        reader, writer = await asyncio.wait_for(_connect(agent, target),
                                                agent.time_param("connect_timeout", 30))
    except (OSError, asyncio.TimeoutError) as e:
        text = connect_error_text(target, e)
        agent.info(text)
        return Attempt(False, Verdict("4.4.1", text, "none", time=agent.ctx.now()))
    req = agent.req
    rcpts = [Rcpt(req.recipients[i].address, *agent.dsn_params(req.recipients[i])) for i in indexes]
    core = SMTPClient(agent.helo_name, req.sender, rcpts, message, lmtp=agent.lmtp,
                      credentials=credentials, esmtp=agent.esmtp, size=agent.size,
                      body=agent.body, envid=agent.envid, ret=agent.ret,
                      smtputf8=agent.smtputf8, require_smtputf8=agent.needs_smtputf8,
                      line_limit=agent.line_limit,
                      loop_names=() if agent.lmtp else (agent.myhostname,), clock=agent.ctx.now,
                      verify=agent.verify_only, xforward=xforward_attrs(agent))
    limits = stage_limits(agent)
    quit_limit = limits[State.QUIT]
    await run_client(core, reader, writer, timeout=lambda c: limits.get(c.waiting_for, quit_limit))
    attempt = Attempt(True, core=core)
    for reply in core.xforward_replies:
        if reply.cls != 2:
            agent.warning(f"host {target.namaddrport} said: {' '.join(str(reply).splitlines())} "
                          "(in reply to XFORWARD command)")
    if core.lines_broken:
        agent.info(f"{req.qid}: breaking line > {agent.line_limit} bytes with <CR><LF>SPACE")
    if core.failure is not None and core.failure.kind == "loop":
        agent.warning(f"host {target.namaddrport} replied to HELO/EHLO with my own hostname "
                      f"{agent.myhostname}")
    logged_soft = False
    for pos, i in enumerate(indexes):
        outcome = core.rcpt_outcome(pos)
        v = judge(agent, target, outcome, final)
        if "DSN" in core.features:
            v = dataclasses.replace(v, remote_dsn=True)
        if v.keep and (outcome.state is State.RCPT or not logged_soft):
            agent.info(f"{req.qid}: {v.reason}")
            logged_soft = logged_soft or outcome.state is not State.RCPT
        attempt.verdicts[i] = v
        if outcome.state is State.RCPT:
            attempt.rcpt_stage.add(i)
    return attempt


_LIMITS: dict[int, tuple[Any, bool, dict[State, float | None]]] = {}


def stage_limits(agent: "SmtpAgent") -> dict[State, float | None]:
    """The time limit of each reply the client waits for (None: no limit of our own).

    Memo: the read time-out is asked before every reply; it depends only on the
    configuration object (replaced, never changed, on reload) and smtp vs lmtp.
    """
    cfg = agent.cfg
    hit = _LIMITS.get(id(cfg))
    if hit is None or hit[0] is not cfg or hit[1] != agent.lmtp:
        limits = {state: agent.time_param(suffix + "_timeout", 300) for state, suffix in _TIMEOUTS.items()}
        if len(_LIMITS) >= 64:
            _LIMITS.clear()
        hit = _LIMITS[id(cfg)] = (cfg, agent.lmtp, limits)
    return hit[2]


def xforward_attrs(agent: "SmtpAgent") -> list[tuple[str, str]] | None:
    """What smtp_send_xforward_command forwards: the message's logged origin (the queue
    file's log_* attributes), [UNAVAILABLE] for what is not known."""
    if agent.lmtp or not agent._bool("smtp_send_xforward_command", False):
        return None
    attrs = agent.req.attrs or {}

    def value(key: str) -> str:
        return attrs.get(key) or "[UNAVAILABLE]"
    addr = value("log_client_address")
    if ":" in addr:
        addr = "IPV6:" + addr
    port = attrs.get("log_client_port", "")
    source = {"local": "LOCAL", "remote": "REMOTE"}.get(attrs.get("rewrite_context", ""), "[UNAVAILABLE]")
    return [("NAME", value("log_client_name")), ("ADDR", addr),
            ("PORT", port if port.isdigit() else "[UNAVAILABLE]"),
            ("PROTO", value("log_protocol_name")), ("HELO", value("log_helo_name")),
            ("IDENT", attrs.get("log_ident") or agent.req.qid), ("SOURCE", source)]


def judge(agent: "SmtpAgent", target: Target, outcome: Outcome, final: bool) -> Verdict:
    """One recipient's verdict from how the session went for it."""
    relay = target.namaddrport
    mta = target.host
    failure = outcome.failure
    reply = outcome.reply
    when = outcome.time or agent.ctx.now()
    if failure is not None and failure.kind in ("lost", "timeout", "protocol"):
        what = "lost connection with" if failure.kind != "timeout" else "conversation with"
        tail = "timed out while" if failure.kind == "timeout" else "while"
        text = f"{what} {target.namaddr} {tail} {failure.stage}"
        return Verdict("4.4.2", text, relay, mta, "", when, keep=not final)
    if failure is not None and failure.kind == "smtputf8":
        return Verdict("5.6.7", f"SMTPUTF8 is required, but was not offered by host {target.namaddr}",
                       relay, "", "", when)
    if failure is not None and failure.kind == "loop":
        dsn = "5.4.6" if target.best else "4.4.6"
        text = f"mail for {agent.nexthop} loops back to myself"
        return Verdict(dsn, text, relay, "", "", when, keep=dsn[0] == "4" and not final)
    assert reply is not None
    if outcome.ok:
        return Verdict(reply.dsn if reply.dsn[0] == "2" else "2.0.0", str(reply), relay, mta,
                       str(reply), when)
    dsn = reply.dsn
    state = outcome.state
    if state in (State.GREETING, State.EHLO, State.LHLO, State.HELO):
        if state is State.GREETING and reply.cls == 5 and agent.skip_5xx_greeting:
            dsn = "4" + dsn[1:]
        text = f"host {target.namaddr} refused to talk to me: {reply}"
    elif state is State.AUTH:
        if agent.sasl_soft_bounce:
            dsn = "4" + dsn[1:]
        text = f"SASL authentication failed; server {target.namaddr} said: {reply}"
    else:
        command = failure.command if failure is not None and state is not State.RCPT \
            else {State.RCPT: "RCPT TO command", State.DOT: "end of DATA command"}.get(state, "")
        text = f"host {target.namaddr} said: {reply} (in reply to {command})"
    if reply.cls not in (4, 5):
        text, dsn = "Protocol error: " + text, "5.5.0"
    return Verdict(dsn, text, relay, mta, str(reply), when, keep=dsn[0] == "4" and not final)
