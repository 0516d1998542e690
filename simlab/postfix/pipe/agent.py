"""NAME
    agent - the pipe(8) delivery agent: hand a message to a command

SUMMARY
    statuses = await deliver(ctx, service, request)
    # master.cf:  labpipe unix - n n - - pipe
    #               flags=FRq user=nobody argv=/usr/local/bin/lab-pipe ${sender} ${recipient}

DESCRIPTION
    Expands the service's argv (attrs.py), runs the command as the user= of
    the service with the message on its standard input (commands_registry:
    a registered Python callable on a simulated host, a real program under
    ``simlab serve``) and judges the exit status as Postfix does:

        0                   sent, "delivered via SERVICE service"
        64..78 (sysexits)   the sys_exits table: 75 EX_TEMPFAIL -> deferred
                            (4.3.0 "temporary failure"), 67 EX_NOUSER -> bounced
                            (5.1.1 "user unknown"), 71 EX_OSERR -> deferred, the rest
                            bounced; ". Command output: ..." is appended
        output "D.S.N text" with a non-zero status: that status and text
        anything else      bounced, 'Command died with status N: "argv0"'
        a signal            deferred 4.3.0, 'Command died with signal N: "argv0"'
                            (a registered program that raises dies with SIGABRT, 6;
                            its exception is logged as a warning)
        the time limit      bounced 5.3.0, 'Command time limit exceeded: "argv0"'

    What the command reads is the queue file's message, preceded as the
    flags ask by a "From sender  date" line (F), Return-Path: (R),
    X-Original-To: (O) and Delivered-To: (D); B adds an empty line at the
    end, "." doubles leading dots, ">" quotes "From " lines; lines end with
    eol=. D and O need <service>_destination_recipient_limit = 1; D also
    bounces a message that already carries Delivered-To: for the recipient
    ("mail forwarding loop for ..."). size= bounces bigger messages.

PARAMETERS
    <service>_time_limit (default command_time_limit), recipient_delimiter,
    export_environment, syslog_name.

SEE ALSO
    pipe(8), sysexits(3), master(5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..bounce import Dsn, Reporter
from ..commands_registry import CommandResult, run_command
from ..common.delivery_log import MsgStats
from ..common.maillog import ident
from ..common.process import agent_process
from ...store.mboxformat import asctime
from ..common.queue import QueueStore
from .attrs import PipeAttrs, PipeConfigError, expand_argv, parse_attrs, quote_822_local

# sys_exits.c: exit status -> (dsn, text)
SYS_EXITS = {
    64: ("5.3.0", "command line usage error"),
    65: ("5.6.0", "data format error"),
    66: ("5.3.0", "cannot open input"),
    67: ("5.1.1", "user unknown"),
    68: ("5.1.2", "host name unknown"),
    69: ("5.3.0", "service unavailable"),
    70: ("5.3.0", "internal software error"),
    71: ("4.3.0", "system resource problem"),
    72: ("5.3.0", "critical OS file missing"),
    73: ("5.2.0", "can't create user output file"),
    74: ("5.3.0", "input/output error"),
    75: ("4.3.0", "temporary failure"),
    76: ("5.5.0", "remote error in protocol"),
    77: ("5.7.0", "permission denied"),
    78: ("5.3.5", "local configuration error"),
}
_DSN_TEXT = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\s+(.*)$", re.S)
_LOG_BUF = 4096


@dataclass(frozen=True)
class PipeOutcome:
    dsn: str
    reason: str

    @property
    def status(self) -> str:
        return {"2": "sent", "4": "deferred"}.get(self.dsn[:1], "bounced")


def judge(result: CommandResult, service: str, argv0: str) -> PipeOutcome:
    """pipe_command()'s verdict on how the command ended."""
    output = result.output[:_LOG_BUF - 1].decode("utf-8", "replace")
    output = "".join(c if c.isprintable() or c in "\t\n" else "_" for c in output)
    output = output.replace("\t", " ").replace("\n", " ")
    tail = f". Command output: {output}" if output else ""
    if result.timed_out:
        return PipeOutcome("5.3.0", f'Command time limit exceeded: "{argv0}"{tail}')
    if result.status < 0:
        return PipeOutcome("4.3.0", f'Command died with signal {-result.status}: "{argv0}"{tail}')
    if result.status == 0:
        return PipeOutcome("2.0.0", f"delivered via {service} service")
    m = _DSN_TEXT.match(output)
    if m:
        return PipeOutcome(f"{m.group(1)}.{m.group(2)}.{m.group(3)}", m.group(4))
    if result.status in SYS_EXITS:
        dsn, text = SYS_EXITS[result.status]
        return PipeOutcome(dsn, text + tail)
    return PipeOutcome("5.3.0", f'Command died with status {result.status}: "{argv0}"{tail}')


def mail_copy(content: bytes, sender: str, orig: str, delivered: str, attr: PipeAttrs,
              now: float) -> bytes:
    """The bytes the command reads (mail_copy() with the service's flags)."""
    eol = attr.eol.encode("utf-8", "surrogateescape")
    head: list[str] = []
    quoted = quote_822_local(sender) if sender else ""
    if attr.has("F"):
        head.append(f"From {quoted or 'MAILER-DAEMON'}  {asctime(now)}")   # asctime(3): "Fri Dec  4 ..."
    if attr.has("R"):
        head.append(f"Return-Path: <{quoted}>")
    if attr.has("O") and orig:
        head.append(f"X-Original-To: {quote_822_local(orig)}")
    if attr.has("D"):
        head.append(f"Delivered-To: {quote_822_local(delivered).lower()}")
    out = bytearray(b"".join(h.encode("utf-8", "surrogateescape") + eol for h in head))
    body = content[:-1] if content.endswith(b"\n") else content
    if content:
        for line in body.split(b"\n"):
            if attr.has(">") and line.startswith(b"From "):
                line = b">" + line
            if attr.has(".") and line.startswith(b"."):
                line = b"." + line
            out += line + eol
    if attr.has("B"):
        out += eol
    return bytes(out)


def delivered_to_loop(content: bytes, address: str) -> bool:
    """True when the message headers already hold Delivered-To: address."""
    head = content.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    for m in re.finditer(r"(?im)^delivered-to:[ \t]*(.*(?:\n[ \t].*)*)", head):
        if m.group(1).replace("\n", "").strip().lower() == address.lower():
            return True
    return False


class PipeAgent:
    def __init__(self, ctx: Any, service: Any, req: Any, pid: int) -> None:
        self.ctx = ctx
        self.service = service
        self.req = req
        self.pid = pid
        self.cfg = ctx.config.for_service(service) if hasattr(ctx.config, "for_service") else ctx.config
        self.ident = ident(self.cfg, "pipe")
        attrs = dict(getattr(req, "attrs", {}) or {})
        self.attrs = attrs
        self.stats = MsgStats(incoming_arrival=float(req.arrival),
                              active_arrival=float(getattr(req, "active_arrival", 0.0) or 0.0),
                              agent_handoff=float(getattr(req, "agent_handoff", 0.0) or ctx.now()))

    def _param(self, name: str, default: str = "") -> str:
        try:
            return self.cfg[name]
        except KeyError:
            return default

    def _time_limit(self) -> float:
        for name in (f"{self.service.name}_time_limit", "command_time_limit"):
            try:
                return float(self.cfg.get_time(name))
            except Exception:       # an unknown per-service name, or a bad value
                continue
        return 1000.0

    async def run(self) -> list[Any]:
        req, name = self.req, self.service.name
        rcpts = list(req.recipients)
        try:
            attr = parse_attrs(list(self.service.args))
            uid, gid = self._account(attr)
        except PipeConfigError as e:
            self.ctx.log.line(self.ident, self.pid, f"fatal: {e}")
            return self._finish(rcpts, PipeOutcome("4.3.0", "unknown mail transport error"))
        qf = QueueStore(self.ctx).read(req.queue, req.qid)
        for flag in ("D", "O"):
            if attr.has(flag) and len(rcpts) > 1:
                self.ctx.log.line(self.ident, self.pid, f"warning: pipe flag `{flag}' requires "
                                                        f"{name}_destination_recipient_limit = 1")
                return self._finish(rcpts, PipeOutcome("4.3.5", "mail system configuration error"))
        size = qf.size or len(qf.content)
        if attr.size_limit and size > attr.size_limit:
            return self._finish(rcpts, PipeOutcome("5.2.3", "message too large"))
        if attr.has("D") and delivered_to_loop(qf.content, rcpts[0].address):
            return self._finish(rcpts, PipeOutcome("5.4.6", f"mail forwarding loop for {rcpts[0].address}"))
        sender = req.sender or attr.null_sender
        values = self._values(attr, sender, size)
        try:
            argv = expand_argv(attr, values, rcpts, self._param("recipient_delimiter"))
        except PipeConfigError as e:
            self.ctx.log.line(self.ident, self.pid,
                              f"warning: file /etc/postfix/master.cf: service {name}: {e}")
            return self._finish(rcpts, PipeOutcome("4.3.5", "mail system configuration error"))
        stdin = mail_copy(qf.content, sender, getattr(rcpts[0], "orig", "") or rcpts[0].address,
                          rcpts[0].address, attr, self.ctx.now())
        env = {"MAIL_CONFIG": "/etc/postfix", "TZ": "UTC", "LANG": "C"}
        result = await run_command(self.ctx, argv, stdin=stdin, user=attr.user, uid=uid, gid=gid,
                                   env=env, cwd=attr.directory or self._param("queue_directory", "/"),
                                   time_limit=self._time_limit())
        if result.crash:
            self.ctx.log.line(self.ident, self.pid, f"warning: {result.crash}")
        return self._finish(rcpts, judge(result, name, attr.command[0]), final=attr.has("X"))

    def _account(self, attr: PipeAttrs) -> tuple[int, int]:
        entry = self.ctx.passwd().get(attr.user)
        if entry is None:
            raise PipeConfigError(f"get_service_attr: unknown username: {attr.user}")
        uid, gid = entry.uid, entry.gid
        if attr.group:
            gid = _group_id(self.ctx, attr.group)
        if uid == 0:
            raise PipeConfigError("user= command-line attribute specifies root privileges")
        owner = self.ctx.passwd().get(self._param("mail_owner", "postfix"))
        if owner is not None and uid == owner.uid:
            raise PipeConfigError(f"user= command-line attribute specifies mail system owner "
                                  f"{owner.name}")
        if gid == 0:
            raise PipeConfigError("user= command-line attribute specifies privileged group id 0")
        return uid, gid

    def _values(self, attr: PipeAttrs, sender: str, size: int) -> dict[str, str]:
        a = self.attrs
        nexthop = self.req.nexthop.lower() if attr.has("h") else self.req.nexthop
        return {
            "sender": quote_822_local(sender) if sender and attr.has("q") else sender,
            "nexthop": nexthop, "size": str(size), "queue_id": self.req.qid,
            "client_address": a.get("client_address", ""), "client_helo": a.get("helo_name", ""),
            "client_hostname": a.get("client_name", ""), "client_port": a.get("client_port", ""),
            "client_protocol": a.get("protocol_name", ""), "sasl_method": a.get("sasl_method", ""),
            "sasl_username": a.get("sasl_username", ""), "sasl_sender": a.get("sasl_sender", ""),
        }

    def _finish(self, rcpts: list[Any], outcome: PipeOutcome, final: bool = True) -> list[Any]:
        """Report every recipient (log line, bounce/defer record) and return their statuses.

        A success is "relayed" in a DSN unless the service has flag X (final delivery)."""
        from ..qmgr import RecipientStatus
        rep = Reporter(self.ctx, self.ident, self.pid, self.req.qid, self.stats,
                       int(getattr(self.req, "trace_flags", 0) or self.attrs.get("trace_flags", 0) or 0))
        rep.stats.deliver_done = self.ctx.now()
        report = {"sent": rep.sent, "bounced": rep.bounce, "deferred": rep.defer}[outcome.status]
        out = []
        for rcpt in rcpts:
            done = report(rcpt, self.service.name, Dsn(outcome.dsn, outcome.reason, action="" if final else "relayed"))
            status = "deferred" if done < 0 else outcome.status
            out.append(RecipientStatus(rcpt=rcpt, dsn=outcome.dsn, status=status,
                                       reason=outcome.reason, relay=self.service.name,
                                       diag=f"X-Postfix; {outcome.reason}", logged=True))
        return out


def _group_id(ctx: Any, group: str) -> int:
    try:
        for line in ctx.path("/etc/group").read_text().splitlines():
            parts = line.split(":")
            if len(parts) >= 3 and parts[0] == group and parts[2].isascii() and parts[2].isdigit():
                return int(parts[2])
    except OSError:
        pass
    raise PipeConfigError(f"get_service_attr: unknown group: {group}")


async def deliver(ctx: Any, service: Any, req: Any) -> list[Any]:
    """The pipe(8) agent entry point."""
    with agent_process(ctx, service) as pid:
        return await PipeAgent(ctx, service, req, pid).run()
