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

    A header whose value the policy would write out unchanged ("Name: value",
    plain ASCII on one line) is stored as that text, the way the parser
    stores the headers of a message it reads; the policy turns it into a
    header object when it is read (msg["Subject"]). Any other value goes
    through the policy's header registry, so the message and its bytes are
    the same either way. A plain ASCII body is stored the same way as
    ``set_content`` stores it (7bit). When every part of a message is stored
    that way, its bytes are plain concatenation; the message keeps them
    (a ``ComposedMessage``) and hands them out while it is left unchanged.

SEE ALSO
    email.message, email.utils, RFC 5322
"""

from __future__ import annotations

import mimetypes
import operator
import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, formataddr, getaddresses, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Union

Attachment = Union[tuple[str, bytes, str], tuple[str, bytes], str, Path]

LF_POLICY = default.clone(linesep="\n")
_MAX_LINE = default.max_line_length
# printable ASCII words with single spaces: an unstructured header the policy folds as is
_PLAIN_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MSG_ID = re.compile(rf"<{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*>")
_CONTENT_7BIT = (("Content-Type", 'text/plain; charset="utf-8"'), ("Content-Transfer-Encoding", "7bit"),
                 ("MIME-Version", "1.0"))


class ComposedMessage(EmailMessage):
    """An EmailMessage that keeps the bytes it was composed as, while it stays unchanged."""

    _kept: tuple[list[tuple[str, str]], object, bytes] | None = None
    _message_id: str | None = None      # stored as text, which is also what str(header) gives

    def message_id(self) -> str:
        """str(self.get("Message-ID", "")), without parsing the text compose() stored."""
        for key, value in self._headers:
            if key.lower() == "message-id":
                return value if value is self._message_id else str(self.get(key))
        return ""

    def keep(self, data: bytes) -> None:
        """DATA is what the generator writes for the message as it is now."""
        self._kept = (list(self._headers), self._payload, data)

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        kept = self._kept
        if kept is not None and not unixfrom and self.policy is default \
                and (policy is None or policy is default or policy is LF_POLICY) \
                and self._payload is kept[1] and len(self._headers) == len(kept[0]) \
                and all(map(operator.is_, self._headers, kept[0])):
            return kept[2]
        return super().as_bytes(unixfrom, policy)


def addresses(values: str | Iterable[str] | None) -> list[str]:
    """Bare addresses from header-style values ("Bob <bob@x>, carol@y")."""
    if not values:
        return []
    items = (values,) if isinstance(values, str) else tuple(values)
    try:
        return list(_addresses(items))
    except TypeError:       # unhashable items: let getaddresses() judge them
        return [addr for _, addr in getaddresses(list(items)) if addr]


@lru_cache(maxsize=256)
def _addresses(items: tuple[str, ...]) -> tuple[str, ...]:
    # memo: a client sends to the same few lists over and over
    return tuple(addr for _, addr in getaddresses(list(items)) if addr)


def _header_list(values: str | Iterable[str] | None) -> str:
    if not values:
        return ""
    items = [values] if isinstance(values, str) else list(values)
    return ", ".join(items)


@lru_cache(maxsize=64)
def _from_value(sender: str) -> tuple[str, str]:
    name, addr = parseaddr(sender)
    return (formataddr((name, addr)) if name else addr), addr


@lru_cache(maxsize=256)
def _folds_unchanged(name: str, value: str) -> bool:
    """True when the policy writes NAME: VALUE back exactly (asked once per value)."""
    if not (value.isascii() and value.isprintable()):
        return False
    header = default.header_factory(name, value)
    return header.fold(policy=LF_POLICY) == f"{name}: {value}\n"


def _plain(name: str, value: str) -> bool:
    return len(name) + len(value) + 2 <= _MAX_LINE and _PLAIN_TEXT.fullmatch(value) is not None \
        and "=?" not in value


def _plain_msg_id(value: str) -> bool:
    return len(value) <= 60 and _MSG_ID.fullmatch(value) is not None


def _put(msg: EmailMessage, name: str, value: str, as_is: bool) -> bool:
    if as_is:
        msg._headers.append((name, value))     # as the parser stores a header it reads
    else:
        msg[name] = value
    return as_is


def _set_body(msg: EmailMessage, text: str) -> bool:
    if text.isascii():
        lines = text.encode("ascii").splitlines()
        if max(map(len, lines), default=0) <= _MAX_LINE:
            # what set_content() stores for such a body (contentmanager._encode_text: 7bit)
            msg._headers.extend(_CONTENT_7BIT)
            msg._payload = (b"\n".join(lines) + b"\n").decode("ascii")
            return True
    msg.set_content(text)
    return False


@lru_cache(maxsize=64)
def _date(second: int) -> tuple[str, bool]:
    """The Date header value; memo: many messages share a second."""
    # format_datetime() writes what the Date header object writes back
    date = datetime.fromtimestamp(second, tz=timezone.utc)
    return format_datetime(date), date.year >= 1000


def compose(sender: str, *, to: str | Iterable[str] | None = None, cc: str | Iterable[str] | None = None,
            bcc: str | Iterable[str] | None = None, subject: str = "", body: str = "",
            reply_to: str | None = None, attachments: Iterable[Attachment] = (),
            headers: dict[str, str] | None = None, when: float | None = None,
            message_id: str | None = None) -> tuple[EmailMessage, tuple[str, list[str]]]:
    """The message and its envelope (sender, recipients)."""
    attachments = list(attachments)
    simple = not headers and not attachments
    msg = ComposedMessage(policy=default) if simple else EmailMessage(policy=default)
    from_value, addr = _from_value(sender)
    as_text = _put(msg, "From", from_value, _folds_unchanged("From", from_value))
    for name, values in (("To", to), ("Cc", cc)):
        if values:
            value = _header_list(values)
            as_text &= _put(msg, name, value, _folds_unchanged(name, value))
    if reply_to:
        as_text &= _put(msg, "Reply-To", reply_to, _folds_unchanged("Reply-To", reply_to))
    as_text &= _put(msg, "Subject", subject, _plain("Subject", subject))
    if when is not None:
        value, plain = _date(int(when))
        as_text &= _put(msg, "Date", value, plain)
    if message_id:
        plain_id = _put(msg, "Message-ID", message_id, _plain_msg_id(message_id))
        if plain_id and simple:
            msg._message_id = message_id
        as_text &= plain_id
    for key, value in (headers or {}).items():
        msg[key] = value
    text = body if body.endswith("\n") or not body else body + "\n"
    if not simple:
        msg.set_content(text)
    elif _set_body(msg, text) and as_text:
        # what BytesGenerator writes: each header unchanged, a blank line, the 7bit body
        head = "".join([f"{name}: {value}\n" for name, value in msg._headers])
        msg.keep((head + "\n" + msg._payload).encode("ascii"))
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
    return msg.as_bytes(policy=LF_POLICY)
