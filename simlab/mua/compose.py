"""NAME
    compose - write a message the way a mail client does, with the standard email package

SUMMARY
    msg, envelope = compose("Alice <alice@example.com>", to=["bob@example.net"], cc=[...],
                            bcc=["carol@example.org"], subject="Hi", body="...",
                            when=epoch, message_id="<...@example.com>")

DESCRIPTION
    Builds an ``email.message.EmailMessage`` (policy ``email.policy.default``)
    with From, To, Cc, Reply-To, Subject, Date and Message-ID, a text body and
    attachments (``(filename, bytes, "type/subtype")`` or a path). Bcc
    recipients go into the envelope only: they are never written into the
    header, which is the envelope/header distinction of RFC 5321 vs RFC 5322
    that the course shows. The envelope is (sender address, every To, Cc and
    Bcc address, duplicates removed in order).

SEE ALSO
    email.message, email.utils, RFC 5322
"""

from __future__ import annotations

import mimetypes
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from pathlib import Path
from typing import Iterable, Union

Attachment = Union[tuple[str, bytes, str], tuple[str, bytes], str, Path]


def addresses(values: str | Iterable[str] | None) -> list[str]:
    """Bare addresses from header-style values ("Bob <bob@x>, carol@y")."""
    if not values:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [addr for _, addr in getaddresses(items) if addr]


def _header_list(values: str | Iterable[str] | None) -> str:
    if not values:
        return ""
    items = [values] if isinstance(values, str) else list(values)
    return ", ".join(items)


def compose(sender: str, *, to: str | Iterable[str] | None = None, cc: str | Iterable[str] | None = None,
            bcc: str | Iterable[str] | None = None, subject: str = "", body: str = "",
            reply_to: str | None = None, attachments: Iterable[Attachment] = (),
            headers: dict[str, str] | None = None, when: float | None = None,
            message_id: str | None = None) -> tuple[EmailMessage, tuple[str, list[str]]]:
    """The message and its envelope (sender, recipients)."""
    msg = EmailMessage(policy=default)
    name, addr = parseaddr(sender)
    msg["From"] = formataddr((name, addr)) if name else addr
    if to:
        msg["To"] = _header_list(to)
    if cc:
        msg["Cc"] = _header_list(cc)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    if when is not None:
        msg["Date"] = format_datetime(datetime.fromtimestamp(int(when), tz=timezone.utc))
    if message_id:
        msg["Message-ID"] = message_id
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body if body.endswith("\n") or not body else body + "\n")
    for att in attachments:
        filename, data, ctype = _attachment(att)
        maintype, _, subtype = ctype.partition("/")
        if maintype == "text":
            msg.add_attachment(data.decode("utf-8", "replace"), subtype=subtype, filename=filename)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename)
    rcpts: list[str] = []
    for a in addresses(to) + addresses(cc) + addresses(bcc):
        if a not in rcpts:
            rcpts.append(a)
    return msg, (addr, rcpts)


def _attachment(att: Attachment) -> tuple[str, bytes, str]:
    if isinstance(att, (str, Path)):
        path = Path(att)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return path.name, path.read_bytes(), ctype
    if len(att) == 2:
        filename, data = att  # type: ignore[misc]
        return filename, data, mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return att  # type: ignore[return-value]


def to_bytes(msg: EmailMessage) -> bytes:
    """The message as it goes into DATA (LF line ends; the SMTP client makes them CRLF)."""
    return msg.as_bytes(policy=default.clone(linesep="\n"))
