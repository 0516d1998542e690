"""NAME
    session - one message through cleanup(8): envelope, headers, body, queue file

SUMMARY
    cs = open_cleanup(ctx, service_config, ClientInfo(...))   # cs.qid exists now
    result = await cs.finish(sender, recipients, content, attrs, arrival=t)
    result.ok, result.qid, result.reply       # reply: smtpd's answer when not ok
    cs.abort(content)                         # the client went away / smtpd refused

DESCRIPTION
    finish() does what cleanup does between "smtpd opened the stream" and
    "the file is in the incoming queue":

    1. rewrites the envelope sender and each recipient (rewrite.py) and
       expands recipients through virtual_alias_maps, dropping duplicates;
       the original recipient is kept for X-Original-To and orig_to=;
    2. walks the headers: drops Return-Path: and Content-Length:, applies
       header_checks, drops Bcc: and Resent-Bcc:, counts Received: headers against hopcount_limit
       ("554 5.4.0 Error: too many hops", logged "message rejected:
       hopcount exceeded"), logs ``QID: message-id=<...>``, and in the
       local rewrite context rewrites addresses in From:/To:/Cc:... ;
    3. adds the missing Message-Id:, Date: and From: headers, only in the
       local rewrite context (or with always_add_missing_headers = yes);
       otherwise logs ``message-id=<>``;
    4. applies body_checks, then writes the queue file atomically into the
       incoming queue (hold for HOLD), wakes qmgr, and only then returns.

    The content filter (the queue file's "content_filter:" record, which
    makes qmgr send the message to that transport:nexthop) is, the last
    one winning: the caller's content_filter (smtpd and pickup pass it),
    smtpd's access(5) FILTER action, a header_checks/body_checks FILTER.
    A value without ":" is ignored with a warning. A table that cannot be
    searched (virtual_alias_maps, canonical maps) refuses the message for
    now: "451 4.3.0 Error: queue file write error".

    smtpd's access(5)/policy actions arrive as attributes (smtpd logged
    them when they triggered): access_hold puts the file in the hold queue,
    access_discard accepts the message and drops it, access_bcc (one
    address a line) adds recipients with NOTIFY=NEVER, and access_redirect
    replaces every recipient by that address, keeping the first one's
    original recipient (what qmgr does with Postfix's redirect record).

    The rewrite context comes from smtpd (local_header_rewrite_clients);
    the remote context rewrites headers only when remote_header_rewrite_domain
    is set.

    Like the cleanup daemon, a session reads main.cf plus the ``-o``
    overrides of the master.cf service the caller names in its
    cleanup_service_name (default "cleanup"); receive_override_options is
    the caller's (smtpd's or pickup's) setting. Log lines carry that
    service's syslog_name.

PARAMETERS
    hopcount_limit, message_size_limit, always_add_missing_headers,
    remote_header_rewrite_domain, header_checks, body_checks,
    delay_warning_time, receive_override_options, cleanup_service_name,
    syslog_name, myhostname, and those of rewrite.py.

SEE ALSO
    cleanup(8), ADDRESS_REWRITING_README, header_checks(5)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..common.maillog import ident
from ..common.queue import QueueFile, QueueStore, Recipient, new_queue_id, release_queue_id
from ..common.services import service_settings
from ..config.fallback import ParamGetters, param_str, param_time
from ..maps import tok822
from .checks import ContentChecks
from .headers import DROPPED_HEADERS, RECIPIENT_HEADERS, SENDER_HEADERS, Header, Message, mail_date
from .rewrite import AddressMapper, ExpansionError, TableFailure, config_memo, fold_addresses, memo_specs

# cleanup_stat_detail(CLEANUP_STAT_WRITE): what smtpd answers when cleanup could not finish the file
WRITE_ERROR = "451 4.3.0 Error: queue file write error"


@dataclass(frozen=True)
class ClientInfo:
    """Who handed the message to cleanup (smtpd's client, or a local user for pickup)."""

    name: str
    addr: str
    port: int
    helo: str = ""
    protocol: str = "SMTP"
    rewrite_context: str = "local"
    sasl_username: str = ""


@dataclass(frozen=True)
class CleanupResult:
    ok: bool
    qid: str
    reply: str | None


class CleanupSession(ParamGetters):
    """cleanup(8) for one message; the queue id exists from the start."""

    def __init__(self, ctx: Any, service_config: Any, client: ClientInfo, *,
                 content_filter: str = "") -> None:
        self.ctx = ctx
        caller = service_config if service_config is not None else ctx.config
        service, self.overrides = _caller_settings(caller)
        self.cfg = service_settings(ctx, service)
        self.memo = memo = config_memo(self.cfg)
        self.client = client
        self.qid = new_queue_id(ctx)
        self.pool = ctx.pid_pool("cleanup")
        self.pid = self.pool.take()
        self.ident = memo.get("ident") or memo.setdefault("ident", ident(self.cfg, "cleanup"))
        self.sender = ""
        self.first_rcpt = ""
        self.actions: list[tuple[str, str]] = []
        self.closed = False
        self.fullname = ""
        self.extract = False
        self.extracted: list[str] = []
        self.filter = ""
        if content_filter:
            self.set_filter(content_filter)

    # -- logging --------------------------------------------------------------------
    def info(self, text: str) -> None:
        self.ctx.log.line(self.ident, self.pid, f"{self.qid}: {text}")

    def warn(self, text: str) -> None:
        self.ctx.log.warning(self.ident, self.pid, f"{self.qid}: {text}")

    def set_filter(self, value: str) -> None:
        """A REC_TYPE_FILT from the client (content_filter, access FILTER): the last one wins."""
        if ":" not in value:
            self.warn(f"ignoring invalid content filter: {value[:100]}")
            return
        self.filter = value

    def log_action(self, action: str, what: str, text: str) -> None:
        """cleanup_act_log(): 'QID: reject: header ... from name[addr]; from=<> to=<> ...: text'."""
        c = self.client
        line = f"{self.qid}: {action}: {what}"
        line += f" from {c.name}[{c.addr}]" if c.addr else " from local"    # the message origin
        line += f"; from=<{tok822.quote_822_local(self.sender) if self.sender else ''}>"
        if self.first_rcpt:
            line += f" to=<{tok822.quote_822_local(self.first_rcpt)}>"
        if c.protocol:
            line += f" proto={c.protocol}"
        if c.helo:
            line += f" helo=<{c.helo}>"
        if text:
            line += f": {text}"
        self.ctx.log.line(self.ident, self.pid, line)

    def maps_of(self, param: str) -> list[Any]:
        if "no_header_body_checks" in self.overrides:
            return []
        out = []
        for spec in memo_specs(self.memo, self.cfg, param):
            try:
                out.append(self.ctx.map(spec))
            except Exception as exc:
                self.warn(f"{spec}: table lookup problem: {exc}")
        return out

    # -- the message ------------------------------------------------------------------
    async def finish(self, sender: str, recipients: list[Any], content: bytes, attrs: dict[str, str],
                     arrival: float | None = None, *, fullname: str = "",
                     extract: bool = False) -> CleanupResult:
        """Process and queue the message; the queue file exists when this returns ok.

        ``fullname`` (local submission; also taken from attrs["fullname"]) goes
        into the queue file and into an added From: header;
        ``extract`` takes recipients from To:, Cc: and Bcc: (the Resent-
        ones when there are any). sendmail -t extracts them itself and
        pickup hands them over as ``extracted`` recipients, which stay in
        the queue file's extracted segment, as in Postfix.
        """
        arrival = arrival if arrival else self.ctx.now()
        attrs = dict(attrs)
        fullname = fullname or attrs.pop("fullname", "")
        if "access_filter" in attrs:            # smtpd's access(5) FILTER action
            self.set_filter(attrs.pop("access_filter"))
        hold, discard, redirect, bcc = _delegated(attrs)
        if bcc:
            recipients = list(recipients) + [Recipient(address=a, orig=a, notify="NEVER") for a in bcc]
        self.fullname, self.extract = fullname, extract
        self.extracted: list[str] = []
        mapper = AddressMapper(self.ctx, self.cfg, self.warn, "no_address_mappings" not in self.overrides,
                               proc=(self.ident, self.pid))
        try:
            self.sender = mapper.sender(sender) if sender else ""
            rcpts = self._recipients(mapper, recipients)
            msg, checks, err = self._content(mapper, content, arrival)
            if err is not None:
                return self._fail(err)
            if extract:
                more = self._recipients(mapper, [Recipient(address=a, orig=a) for a in self.extracted])
        except ExpansionError as exc:
            return self._fail(f"451 {exc}")
        except TableFailure as exc:
            self.warn(str(exc))
            return self._fail(WRITE_ERROR)
        if extract:
            for r in more:
                r.extracted = True
            rcpts += more
        if redirect and rcpts:
            # qmgr's REDIRECT: the first recipient, re-addressed, replaces them all
            first = rcpts[0]
            rcpts = [Recipient(address=mapper.canonical(redirect), orig=first.orig, notify=first.notify,
                               orcpt=first.orcpt)]
        if not rcpts:
            return self._fail("550 5.1.0 Error: no recipients specified")
        if checks.verdict == "reject":
            return self._fail(checks.reply)
        data = msg.render()
        limit = self._int("message_size_limit", 10240000)
        if limit > 0 and len(data) > limit:
            self.warn("queue file size limit exceeded")
            return self._fail("552 5.3.4 Error: message file too big")
        if checks.verdict == "discard" or discard:
            self._release()
            return CleanupResult(True, self.qid, None)
        qf = QueueFile(qid=self.qid, arrival=arrival, sender=self.sender, recipients=rcpts, content=data,
                       attrs=attrs, create_time=self.ctx.now(), fullname=fullname, filter=self.filter)
        delay = param_time(self.cfg, "delay_warning_time", 0.0)
        if delay > 0:
            qf.warn_time = arrival + delay
        queue = "hold" if checks.verdict == "hold" or hold else "incoming"
        await QueueStore(self.ctx).enqueue(queue, qf, fresh=True)
        self.closed = True
        self.pool.give(self.pid)
        self.ctx.trace.record("cleanup", "cleanup", qid=self.qid, queue=queue, sender=self.sender,
                              recipients=[r.address for r in rcpts])
        if queue == "incoming":
            self.ctx.events.wakeup("qmgr")
        return CleanupResult(True, self.qid, None)

    def abort(self, content: bytes | None = None) -> None:
        """The stream was closed without a complete message; only the header log remains."""
        if self.closed:
            return
        if content and _headers_ended(content):
            # only a header section that ended was processed (and its message-id logged)
            mapper = AddressMapper(self.ctx, self.cfg, self.warn, False)
            self._content(mapper, content, self.ctx.now())
        self._release()

    def _fail(self, reply: str) -> CleanupResult:
        self._release()
        return CleanupResult(False, self.qid, reply)

    def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        release_queue_id(self.ctx, self.qid)
        self.pool.give(self.pid)

    def _recipients(self, mapper: AddressMapper, recipients: list[Any]) -> list[Any]:
        out: list[Any] = []
        seen: set[tuple[str, str, str, str]] = set()
        for r in recipients:
            orig = r.orig or r.address
            canon = mapper.recipient(r.address)
            for addr in mapper.virtual(canon):
                key = (r.orcpt, r.notify, orig, addr)
                if key in seen:
                    continue
                seen.add(key)
                extracted = bool(getattr(r, "extracted", False))
                # a recipient without a DSN original recipient (sendmail's, or taken from the
                # headers) gets one made of its address as given
                orcpt = r.orcpt or (f"rfc822;{r.address}" if r.address else "")
                out.append(Recipient(address=addr, orig=orig, notify=r.notify, orcpt=orcpt,
                                     extracted=extracted))
        if out:
            self.first_rcpt = out[0].address
        return out

    def _content(self, mapper: AddressMapper, content: bytes,
                 arrival: float) -> tuple[Message, ContentChecks, str | None]:
        msg = Message.parse(content)
        checks = ContentChecks(self)
        context = self.client.rewrite_context
        if context != "local":
            context = "remote" if param_str(self.cfg, "remote_header_rewrite_domain") else ""
        hops = 0
        hop_limit = self._int("hopcount_limit", 50)
        err: str | None = None
        names = [h.lname for h in msg.headers]
        resent = any(name.startswith("resent-") for name in names)
        seen: set[str] = set()
        out: list[Header] = []
        for h, name in zip(msg.headers, names):
            if err is not None:
                break  # as Postfix's cleanup: once the message is rejected, later headers are not looked at
            if name in DROPPED_HEADERS:
                continue
            text = checks.header(h.text)
            if text is None:
                continue
            if checks.prepend:
                for extra in checks.prepend:
                    out.append(Header(extra))
                checks.prepend.clear()
            if text is not h.text:
                h = Header(text)
                name = h.lname
            seen.add(name)
            if name == "received":
                hops += 1
                if hops >= hop_limit and err is None:
                    self.warn("message rejected: hopcount exceeded")
                    err = "554 5.4.0 Error: too many hops"
            elif name in ("message-id", "resent-message-id"):
                prefix = "resent-" if name.startswith("resent") else ""
                self.info(f"{prefix}message-id={h.value[:200]}")
            if context and (name in SENDER_HEADERS or name in RECIPIENT_HEADERS):
                value = mapper.header_addresses(h.text.split(":", 1)[1], context, name in SENDER_HEADERS)
                if value is not None:
                    h = Header(fold_addresses(h.name, value))
            if self.extract and name in _extract_from(resent):
                self.extracted += tok822.addresses(h.text.split(":", 1)[1])
            if name in BCC_HEADERS:
                continue
            out.append(h)
        msg.headers = out
        if err is None:  # a rejected message gets no added headers, and no message-id is logged
            self._missing(msg, seen, resent, context, arrival)
        if checks.body_maps:     # without body_checks every line stays as it is
            body = []
            for line in msg.body:
                got = checks.body_line(line)
                if got is not None:
                    body.extend(got.split("\n"))
            msg.body = body
        return msg, checks, err

    def _missing(self, msg: Message, seen: set[str], resent: bool, context: str, arrival: float) -> None:
        prefix = "Resent-" if resent else ""
        lp = prefix.lower()
        add = context == "local" or self._bool("always_add_missing_headers")
        if lp + "message-id" not in seen and add:
            if self._bool("enable_long_queue_ids"):
                mid = f"{self.qid}@{param_str(self.cfg, 'myhostname')}"
            else:
                stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(arrival)))
                mid = f"{stamp}.{self.qid}@{param_str(self.cfg, 'myhostname')}"
            msg.headers.append(Header(f"{prefix}Message-Id: <{mid}>"))
            self.info(f"{lp}message-id=<{mid}>")
            seen.add(lp + "message-id")
        if "message-id" not in seen:
            # no plain Message-ID (even when a Resent-Message-Id was added): logged empty
            self.info("message-id=<>")
        if not add:
            return
        if lp + "date" not in seen:
            msg.headers.append(Header(f"{prefix}Date: {mail_date(arrival)}"))
        if lp + "from" not in seen:
            sender = tok822.quote_822_local(self.sender) if self.sender else "MAILER-DAEMON"
            if self.sender and self.fullname:
                msg.headers.append(Header(f"{prefix}From: {_phrase(self.fullname)} <{sender}>"))
            else:
                msg.headers.append(Header(f"{prefix}From: {sender}"))


def _headers_ended(content: bytes) -> bool:
    """Did the content get past its header section (a blank line, or a line that is no header)?"""
    return Message.parse(content).headers_ended


def _delegated(attrs: dict[str, str]) -> tuple[bool, bool, str, list[str]]:
    """smtpd's access(5)/policy HOLD, DISCARD, REDIRECT and BCC results (taken out of attrs).

    smtpd logged each action when it triggered; the queue file keeps none of them as attributes.
    """
    hold = attrs.pop("access_hold", None) is not None
    discard = attrs.pop("access_discard", None) is not None
    redirect = attrs.pop("access_redirect", "")
    bcc = [a for a in attrs.pop("access_bcc", "").split("\n") if a]
    return hold, discard, redirect, bcc


# Postfix's HDR_OPT_DROP recipient headers: removed from every message, after
# header_checks saw them and after their addresses were extracted.
BCC_HEADERS = ("bcc", "resent-bcc")


def _extract_from(resent: bool) -> tuple[str, ...]:
    return ("resent-to", "resent-cc", "resent-bcc") if resent else ("to", "cc", "bcc")


def _phrase(text: str) -> str:
    """A full name as an RFC 822 phrase (quoted when it holds specials)."""
    if any(c in '()<>@,;:\\".[]' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _words(value: str) -> list[str]:
    return [w for w in value.replace(",", " ").split() if w]


def _caller_settings(caller: Any) -> tuple[str, frozenset[str]]:
    """The caller's (smtpd's, pickup's) cleanup_service_name and receive_override_options."""
    memo = config_memo(caller)
    hit = memo.get("cleanup caller")
    if hit is None:
        hit = memo["cleanup caller"] = (param_str(caller, "cleanup_service_name") or "cleanup",
                                        frozenset(_words(param_str(caller, "receive_override_options"))))
    return hit


