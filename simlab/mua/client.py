"""NAME
    client - the simulated mail user agent: send over SMTP, read over POP3, IMAP or mbox

SUMMARY
    alice = MUA(net, "pc.example.com", "Alice <alice@example.com>", smtp=("10.0.0.25", 587),
                user="alice", password="alice-pw", pop3=("10.0.0.25", 110))
    result = alice.send_sync(to=["bob@example.net"], cc=[...], bcc=[...], subject="Hi", body="...")
    result.ok, result.refused, result.queue_id
    inbox = alice.pop3_fetch_sync(keep=True); alice.imap_list_sync("INBOX"); alice.read_mbox()

DESCRIPTION
    Composes with the standard email package (compose.py), submits with the
    sans-IO SMTP client over a connection from its host (port 25, or 587 with
    AUTH PLAIN/LOGIN when a password is set and the server offers AUTH) and,
    like smtplib, reports refused recipients per address: ``refused`` maps an
    address to (code, text). A refused sender, a failed login or a server
    that cannot be reached set ``error`` instead of raising.

    Reading: ``pop3_fetch(keep=...)`` (keep on the server or delete),
    ``imap_folders()``, ``imap_list(folder)`` (messages with their flags,
    read with BODY.PEEK so nothing becomes \\Seen), ``imap_store(uid, flags)``
    and ``read_mbox()`` for the mbox file on the client's own host (a user
    logged in on the mail server reads /var/mail/USER). Every message comes
    back as an ``InboxMessage``: folder, uid, flags, size, the raw bytes,
    the envelope sender (Return-Path or the From_ line), the parsed
    EmailMessage, and ``summary()`` for a table.

    Every coroutine has a ``*_sync`` twin that runs it on the network's
    virtual loop (``net.run_sync``). With ``net=None`` the client uses real
    sockets and the wall clock.

SEE ALSO
    smtplib, poplib, imaplib (the blocking originals), simlab.proto.smtp
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Coroutine, Iterable, TypeVar

from ..io import run_client
from ..proto.smtp import Credentials, SMTPClient, State
from ..proto.smtp_reply import Reply
from .compose import Attachment, ComposedMessage, compose, to_bytes
from .imap import IMAPClient
from .pop3 import POP3Client

T = TypeVar("T")
_QUEUED = re.compile(r"queued as (\S+)")


@dataclass
class SendResult:
    """What happened to one submission (smtplib's return value, as data)."""

    message_id: str
    sender: str
    recipients: list[str]
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    reply: Reply | None = None
    queue_id: str = ""
    error: str = ""
    authenticated: bool = False
    raw: bytes = b""        # the message as submitted (without Bcc)

    @property
    def ok(self) -> bool:
        return bool(self.accepted) and not self.error

    @property
    def message(self) -> EmailMessage | None:
        """The submitted message, parsed on each use (a client keeps every result)."""
        if not self.raw:
            return None
        return message_from_bytes(self.raw, policy=default)  # type: ignore[return-value]


@dataclass
class InboxMessage:
    """One message as the mail client shows it."""

    folder: str
    uid: str
    raw: bytes
    flags: frozenset[str] = frozenset()
    size: int = 0
    number: int | None = None
    envelope_sender: str = ""

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=default)  # type: ignore[return-value]

    def header(self, name: str) -> str:
        value = self.message.get(name)
        return "" if value is None else str(value)

    def summary(self) -> dict[str, Any]:
        m = self.message
        return {"folder": self.folder, "uid": self.uid, "from": str(m.get("From", "")),
                "to": str(m.get("To", "")), "subject": str(m.get("Subject", "")),
                "date": str(m.get("Date", "")), "flags": sorted(self.flags),
                "size": self.size or len(self.raw), "envelope_sender": self.envelope_sender}


class MUA:
    """A mail client on a host of the virtual network (or on real sockets with net=None)."""

    def __init__(self, net: Any, host: Any, address: str, *, smtp: tuple[str, int] = ("127.0.0.1", 25),
                 user: str | None = None, password: str | None = None,
                 pop3: tuple[str, int] | None = None, imap: tuple[str, int] | None = None,
                 helo: str | None = None, timeout: float = 300.0, smtp_auth: bool = True) -> None:
        self.net = net
        # sending and reading are configured separately (as in every mail client):
        # smtp_auth=False submits without AUTH (port 25) and still reads with the password
        self.smtp_auth = smtp_auth
        self.host = net[host] if net is not None and isinstance(host, str) else host
        self.from_header = address
        self.address = parseaddr(address)[1] or address
        self.smtp = smtp
        self.pop3 = pop3 or (smtp[0], 110)
        self.imap = imap or (smtp[0], 143)
        self.user = user or self.address.partition("@")[0]
        self.password = password
        self.helo = helo or getattr(self.host, "name", None) or "localhost"
        self.timeout = timeout
        self.inbox: list[InboxMessage] = []
        self.sent: list[SendResult] = []
        seed = f"{getattr(net, 'seed', 0)}/{self.address}"
        self._rng = random.Random(seed)
        self._count = 0
        self._stamp: tuple[int | None, str] = (None, "")

    # -- time and connections ---------------------------------------------------------
    def now(self) -> float:
        if self.net is None:
            return time.time()
        from ..postfix.common.context import LAB_EPOCH
        return LAB_EPOCH + self.net.loop.time()

    async def _connect(self, where: tuple[str, int]) -> tuple[Any, Any]:
        if self.net is None:
            return await asyncio.open_connection(where[0], where[1])
        return await self.host.open_connection(where[0], where[1], component="mua")

    def _sync(self, coro: Coroutine[Any, Any, T]) -> T:
        if self.net is None:
            return asyncio.run(coro)
        return self.net.run_sync(coro)

    def _message_id(self, when: float) -> str:
        self._count += 1
        second = int(when)
        if second != self._stamp[0]:        # memo: many messages share a second
            self._stamp = (second, time.strftime("%Y%m%d%H%M%S", time.gmtime(second)))
        stamp = self._stamp[1]
        domain = self.address.rpartition("@")[2] or self.helo
        return f"<{stamp}.{self._count}.{self._rng.getrandbits(32):08x}@{domain}>"

    # -- sending --------------------------------------------------------------------------
    async def send(self, to: str | Iterable[str] | None = None, subject: str = "", body: str = "", *,
                   cc: str | Iterable[str] | None = None, bcc: str | Iterable[str] | None = None,
                   reply_to: str | None = None, attachments: Iterable[Attachment] = (),
                   headers: dict[str, str] | None = None) -> SendResult:
        """Compose and submit one message."""
        when = self.now()
        msg, (sender, rcpts) = compose(self.from_header, to=to, cc=cc, bcc=bcc, subject=subject,
                                       body=body, reply_to=reply_to, attachments=attachments,
                                       headers=headers, when=when, message_id=self._message_id(when))
        return await self.send_message(msg, sender, rcpts)

    async def send_message(self, msg: EmailMessage, sender: str | None = None,
                           recipients: list[str] | None = None) -> SendResult:
        """Submit an already composed message (envelope from the headers unless given)."""
        from .compose import addresses
        sender = sender if sender is not None else parseaddr(str(msg.get("From", "")))[1]
        if recipients is None:
            recipients = addresses([str(v) for k in ("To", "Cc", "Bcc") for v in msg.get_all(k, [])])
        if "Bcc" in msg:
            del msg["Bcc"]
        data = to_bytes(msg)
        message_id = msg.message_id() if isinstance(msg, ComposedMessage) else str(msg.get("Message-ID", ""))
        result = SendResult(message_id, sender, list(recipients), raw=data)
        creds = Credentials(self.user, self.password) if self._auth_smtp() else None
        core = SMTPClient(self.helo, sender, list(recipients), data, credentials=creds,
                          body="" if data.isascii() else "8BITMIME")
        try:
            reader, writer = await self._connect(self.smtp)
        except (OSError, asyncio.TimeoutError) as e:
            result.error = f"connect to {self.smtp[0]}:{self.smtp[1]}: {_why(e)}"
            self.sent.append(result)
            return result
        await run_client(core, reader, writer, timeout=self.timeout)
        self._judge(core, result)
        self.sent.append(result)
        return result

    def _judge(self, core: SMTPClient, result: SendResult) -> None:
        result.authenticated = core.authenticated
        for i, addr in enumerate(result.recipients):
            out = core.rcpt_outcome(i)
            if out.ok:
                result.accepted.append(addr)
            elif out.reply is not None:
                result.refused[addr] = (out.reply.code, out.reply.text)
            else:
                result.refused[addr] = (-1, out.failure.stage if out.failure else "not sent")
        fail = core.failure
        if fail is not None and fail.state is not State.RCPT:
            text = str(fail.reply) if fail.reply is not None else f"connection {fail.kind} while {fail.stage}"
            result.error = f"{fail.state.name}: {text}"
        if core.dot_replies and any(core.dot_replies):
            result.reply = next(r for r in core.dot_replies if r is not None)
            m = _QUEUED.search(result.reply.text)
            result.queue_id = m.group(1) if m else ""
        if self._auth_smtp() and not core.authenticated and not result.error and core.greeting:
            result.error = "AUTH: the server did not offer a mechanism we can use"

    def send_sync(self, *args: Any, **kw: Any) -> SendResult:
        return self._sync(self.send(*args, **kw))

    def _auth_smtp(self) -> bool:
        return self.smtp_auth and self.password is not None

    # -- reading ---------------------------------------------------------------------------
    def _password(self) -> str:
        return self.password if self.password is not None else ""

    async def pop3_fetch(self, keep: bool = True) -> list[InboxMessage]:
        """Fetch every message over POP3; delete them on the server unless ``keep``."""
        core = POP3Client(self.user, self._password(), delete=not keep)
        reader, writer = await self._connect(self.pop3)
        await run_client(core, reader, writer, timeout=self.timeout)
        if core.error:
            raise MailClientError(f"POP3: {core.error}")
        self.inbox = [InboxMessage("INBOX", m.uid, m.raw, frozenset(), m.size or len(m.raw), m.number,
                                   _return_path(m.raw)) for m in core.messages]
        return self.inbox

    async def _imap(self, **kw: Any) -> IMAPClient:
        core = IMAPClient(self.user, self._password(), **kw)
        reader, writer = await self._connect(self.imap)
        await run_client(core, reader, writer, timeout=self.timeout)
        if core.error:
            raise MailClientError(f"IMAP: {core.error}")
        return core

    async def imap_folders(self) -> list[str]:
        return (await self._imap(folder=None, list_folders=True, fetch=False)).folders

    async def imap_list(self, folder: str = "INBOX") -> list[InboxMessage]:
        """The messages of a folder with their flags (nothing is marked \\Seen)."""
        core = await self._imap(folder=folder)
        self.inbox = [InboxMessage(folder, str(f.get("uid", f["seq"])), f.get("raw", b""),
                                   frozenset(f.get("flags", [])), f.get("size", 0), f["seq"],
                                   _return_path(f.get("raw", b""))) for f in core.fetched]
        return self.inbox

    async def imap_store(self, uid: int | str, flags: Iterable[str], mode: str = "+",
                         folder: str = "INBOX") -> None:
        """Add ("+"), remove ("-") or set ("") flags on one message."""
        await self._imap(folder=folder, fetch=False, stores=[(int(uid), mode, list(flags))])

    def read_mbox(self, path: str | None = None) -> list[InboxMessage]:
        """The mbox file on this client's own host (default /var/mail/USER)."""
        from ..store.mbox import Mbox
        unix = path or f"/var/mail/{self.user}"
        box = Mbox(self.host.path(unix) if self.host is not None else Path(unix))
        self.inbox = [InboxMessage(unix, str(m.uid or n), m.visible(), m.flags, len(m.visible()), n,
                                   m.sender) for n, m in enumerate(box.read().messages, 1)]
        return self.inbox

    def pop3_fetch_sync(self, keep: bool = True) -> list[InboxMessage]:
        return self._sync(self.pop3_fetch(keep))

    def imap_folders_sync(self) -> list[str]:
        return self._sync(self.imap_folders())

    def imap_list_sync(self, folder: str = "INBOX") -> list[InboxMessage]:
        return self._sync(self.imap_list(folder))

    def imap_store_sync(self, uid: int | str, flags: Iterable[str], mode: str = "+",
                        folder: str = "INBOX") -> None:
        return self._sync(self.imap_store(uid, flags, mode, folder))

    def inbox_table(self) -> list[dict[str, Any]]:
        """The last messages read, one dict per message (for a DataFrame or a widget)."""
        return [m.summary() for m in self.inbox]


class MailClientError(Exception):
    """The server refused the login or the session broke."""


def _why(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "Connection refused"
    if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
        return "Connection timed out"
    return getattr(e, "strerror", None) or str(e)


def _return_path(raw: bytes) -> str:
    m = re.search(rb"(?im)^return-path:[ \t]*<([^>]*)>", raw.split(b"\n\n", 1)[0])
    return m.group(1).decode("utf-8", "replace") if m else ""
