"""NAME
    virtual - Postfix's virtual(8) delivery agent: mailboxes for virtual mailbox domains

SUMMARY
    statuses = await deliver(ctx, service, request)     # master.cf command "virtual"

DESCRIPTION
    For a recipient in a virtual mailbox domain, virtual_mailbox_maps
    gives the mailbox path relative to virtual_mailbox_base (keys tried:
    user+ext@domain, user@domain, @domain). A path that ends in "/" is a
    Maildir (new/ cur/ tmp/ are created as needed), otherwise a UNIX
    mailbox file. virtual_uid_maps and virtual_gid_maps give the owner;
    a uid below virtual_minimum_uid is a configuration error and defers
    the mail ("bad uid"). A recipient without a mailbox bounces with
    ``unknown user: "address"`` (5.1.1).

    A mailbox file gets the From_ line, Return-Path:, X-Original-To: and
    Delivered-To: (the recipient) and ">From " quoting, a Maildir file the
    three headers. A message that already has a Delivered-To: header for
    the recipient bounces ("mail forwarding loop for ..."). Status texts:
    "delivered to mailbox", "delivered to maildir".

PARAMETERS
    virtual_mailbox_base, virtual_mailbox_maps, virtual_uid_maps,
    virtual_gid_maps, virtual_minimum_uid, virtual_mailbox_limit,
    recipient_delimiter, deliver_lock_attempts, deliver_lock_delay.

SEE ALSO
    virtual(8), VIRTUAL_README, postconf(5)
"""

from __future__ import annotations

import errno
from typing import Any

from ...store.maildir import Maildir
from ...store.mbox import Mbox
from ...store.message import MailboxError, MailboxLockedError
from ..bounce.client import Dsn, Reporter
from ..common.maillog import ident
from ..common.process import agent_process
from ..common.queue import QueueStore, Recipient
from ..local.mailbox import maildir_counter
from ..local.state import delivered_addresses
from ..maps import MapError
from ..maps.address import lookup_address
from ..qmgr.request import RecipientStatus, reporter, service_config
from ..trivial_rewrite import quote_822_local

__all__ = ["deliver"]


class _Virtual:
    def __init__(self, ctx: Any, service: Any, req: Any, rep: Reporter, content: bytes) -> None:
        self.ctx = ctx
        self.cfg = service_config(ctx, service)
        self.service = service
        self.req = req
        self.rep = rep
        self.content = content
        self.loops = delivered_addresses(content)

    def lookup(self, param: str, address: str) -> str | None:
        if not self.cfg[param].strip():
            return None
        hit = lookup_address(self.ctx.maps(param), address.lower(), self.cfg["recipient_delimiter"],
                             kind="virtual")
        return hit[0] if hit else None

    def headers(self, rcpt: Recipient) -> bytes:
        sender = self.req.sender
        out = f"Return-Path: <{quote_822_local(sender) if sender else ''}>\n"
        if rcpt.orig:
            out += f"X-Original-To: {quote_822_local(rcpt.orig)}\n"
        out += f"Delivered-To: {quote_822_local(rcpt.address)}\n"
        return out.encode("utf-8", "surrogateescape")

    async def one(self, rcpt: Recipient) -> RecipientStatus:
        relay = self.service.name
        address = rcpt.address
        if address.casefold() in self.loops:
            return self._done(rcpt, self.rep.bounce(rcpt, relay, Dsn("5.4.6", f"mail forwarding loop for {address}")),
                              "5.4.6", f"mail forwarding loop for {address}")
        try:
            path = self.lookup("virtual_mailbox_maps", address)
        except MapError:
            return self._fail(rcpt, "4.3.0", "table lookup failure")
        if path is None:
            text = f'unknown user: "{address.lower()}"'
            return self._fail(rcpt, "5.1.1", text)
        try:
            uid = self.lookup("virtual_uid_maps", address)
            gid = self.lookup("virtual_gid_maps", address)
        except MapError:
            return self._fail(rcpt, "4.3.0", "table lookup failure")
        minimum = self.cfg.get_int("virtual_minimum_uid")
        if uid is None or not (uid.isascii() and uid.isdigit()) or int(uid) < minimum:
            self.warn(f"recipient {address}: bad uid {uid} in {self.cfg['virtual_uid_maps']}")
            return self._fail(rcpt, "4.3.5", "mail system configuration error")
        if gid is None or not (gid.isascii() and gid.isdigit()) or int(gid) <= 0:
            self.warn(f"recipient {address}: bad gid {gid} in {self.cfg['virtual_gid_maps']}")
            return self._fail(rcpt, "4.3.5", "mail system configuration error")
        mailbox = f"{self.cfg['virtual_mailbox_base'].rstrip('/')}/{path}"
        if self.rep.verify_only:
            what = "maildir" if mailbox.endswith("/") else "mailbox"
            return self._ok(rcpt, f"delivers to {what}")
        data = self.headers(rcpt) + self.content
        if mailbox.endswith("/"):
            box = Maildir(self.ctx.path(mailbox.rstrip("/")), self.ctx.hostname,
                          counter=maildir_counter(self.ctx))
            try:
                box.append(data, self.req.sender, self.ctx.now(), pid=self.rep.pid, fsync=self.ctx.fsync)
            except (OSError, MailboxError) as exc:
                text = exc.strerror if isinstance(exc, OSError) else str(exc)
                return self._fail(rcpt, "4.2.0", f"create maildir file {mailbox}: {text}")
            return self._ok(rcpt, "delivered to maildir")
        return await self._mbox(rcpt, mailbox, data)

    async def _mbox(self, rcpt: Recipient, mailbox: str, data: bytes) -> RecipientStatus:
        real = self.ctx.path(mailbox)
        limit = self.cfg.get_int("virtual_mailbox_limit")
        attempts = max(1, self.cfg.get_int("deliver_lock_attempts"))
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            size = real.stat().st_size if real.exists() else 0
            if limit > 0 and size + len(data) + 100 > limit:
                raise OSError(errno.EFBIG, "File too large")
            sender = quote_822_local(self.req.sender) if self.req.sender else ""
            for attempt in range(attempts):
                try:
                    Mbox(real).append(data, sender, self.ctx.now(), fsync=self.ctx.fsync)
                    break
                except MailboxLockedError:
                    if attempt + 1 >= attempts:
                        raise
                    await self.ctx.sleep(self.cfg.get_time("deliver_lock_delay"))
        except MailboxLockedError as exc:
            return self._fail(rcpt, "4.2.0", f"delivery failed to mailbox {mailbox}: {exc}")
        except OSError as exc:
            dsn = "5.2.2" if exc.errno in (errno.EFBIG, errno.EDQUOT) else "5.2.0"
            return self._fail(rcpt, dsn, f"delivery failed to mailbox {mailbox}: {exc.strerror}")
        return self._ok(rcpt, "delivered to mailbox")

    def warn(self, text: str) -> None:
        self.ctx.log.line(self.rep.program, self.rep.pid, "warning: " + text)

    def _ok(self, rcpt: Recipient, reason: str) -> RecipientStatus:
        self.rep.sent(rcpt, self.service.name, Dsn("2.0.0", reason))
        return RecipientStatus(rcpt, "2.0.0", "sent", reason, self.service.name, logged=True)

    def _fail(self, rcpt: Recipient, dsn: str, reason: str) -> RecipientStatus:
        relay = self.service.name
        if dsn.startswith("4"):
            code = self.rep.defer(rcpt, relay, Dsn(dsn, reason))
        else:
            code = self.rep.bounce(rcpt, relay, Dsn(dsn, reason))
        return self._done(rcpt, code, dsn, reason)

    def _done(self, rcpt: Recipient, code: int, dsn: str, reason: str) -> RecipientStatus:
        word = "deferred" if code else ("bounced" if dsn[:1] == "5" else "sent")
        return RecipientStatus(rcpt, dsn, word, reason, self.service.name, logged=True)


async def deliver(ctx: Any, service: Any, req: Any) -> list[RecipientStatus]:
    """The virtual(8) entry point."""
    cfg = service_config(ctx, service)
    qf = QueueStore(ctx).read(req.queue, req.qid)
    with agent_process(ctx, service) as pid:
        rep = reporter(ctx, ident(cfg, service.command), pid, req)
        agent = _Virtual(ctx, service, req, rep, qf.content)
        return [await agent.one(rcpt) for rcpt in req.recipients]
