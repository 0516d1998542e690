"""NAME
    lmtp_delivery - what the LMTP core hands the message store, and the headers it adds

SUMMARY
    job = Delivery(account="erin", rcpt="erin@example.com", detail="", sender="alice@example.com",
                   message=b"...", session_id="...", pid=1001)
    backend.deliver(job) -> DeliveryResult("saved" | "quota" | "tempfail", error)
    added_headers(sender, rcpts, helo, remote_ip, hostname, trans_id, when) -> bytes

DESCRIPTION
    The LMTP core (simlab.proto.lmtp_server) never touches a mailbox: for
    each accepted recipient it builds a frozen ``Delivery`` and asks its
    ``LmtpBackend`` (the store's mail_deliver, simlab.store.delivery) to
    save it; the backend answers with a ``DeliveryResult``. The backend also
    looks users up (``lookup``: userdb, None when unknown) and tells whether
    a mailbox is already full (``over_quota``: Dovecot's
    STATUS_CHECK_OVER_QUOTA, for lmtp_rcpt_check_quota).

    ``added_headers`` writes what Dovecot's lmtp prepends to every copy
    (lmtp_local_add_headers and smtp_server_transaction_write_trace_record):

        Return-Path: <alice@example.com>
        Delivered-To: erin@example.com              (only with one recipient)
        Received: from mail.example.com ([10.0.0.25])
                by store.example.com with LMTP
                id 5Mp1AAAAAAAAMnoK/AAAAA
                (envelope-from <alice@example.com>)
                for <erin@example.com>; Tue, 24 Nov 2026 13:40:03 +0000

    Session ids are 22 characters of base64, the shape of Dovecot's
    GUID-based ones, made from the clock, the client's port and address
    and the process id, so that a run is reproducible.

PARAMETERS
    lmtp_hdr_delivery_address (final), login_greeting.

SEE ALSO
    simlab.proto.lmtp_server, Dovecot lmtp-local.c, lib-smtp smtp-server-transaction.c
"""

from __future__ import annotations

import base64
import ipaddress
import time
from dataclasses import dataclass
from typing import Protocol, Sequence

GREETING = "Dovecot (Debian) ready."
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Delivery:
    """One recipient's copy of the message, for the store to save."""

    account: str           # the userdb name ("erin")
    rcpt: str              # the RCPT TO address
    detail: str            # the +detail of the address ("" when none)
    sender: str            # MAIL FROM ("" for <>)
    message: bytes         # added headers + message, LF line ends
    session_id: str
    pid: int
    service: str = "lmtp"
    mailbox: str = "INBOX"  # the +detail folder with lmtp_save_to_detail_mailbox


@dataclass(frozen=True)
class DeliveryResult:
    status: str            # "saved" | "quota" | "tempfail"
    error: str = ""


class LmtpBackend(Protocol):
    def lookup(self, username: str) -> str | None: ...

    def over_quota(self, account: str) -> str | None: ...

    def deliver(self, job: Delivery) -> DeliveryResult: ...


@dataclass(frozen=True)
class LmtpSettings:
    hostname: str = "localhost"
    greeting: str = GREETING
    recipient_delimiter: str = "+"
    rcpt_check_quota: bool = False
    quota_full_tempfail: bool = False
    save_to_detail_mailbox: bool = False


def session_guid(now: float, remote_port: int, remote_ip: str, pid: int) -> str:
    """A 22-character session id in the shape of Dovecot's GUID-based ones."""
    usecs = int(round(now * 1_000_000)) & ((1 << 48) - 1)
    try:
        packed = ipaddress.ip_address(remote_ip).packed[-4:]
    except ValueError:
        packed = b"\0\0\0\0"
    raw = usecs.to_bytes(6, "little") + (remote_port & 0xFFFF).to_bytes(2, "little") \
        + packed + (pid & 0xFFFFFFFF).to_bytes(4, "little")
    return base64.b64encode(raw).decode().rstrip("=")


def message_date(when: float) -> str:
    """Dovecot's message_date_create(): 'Tue, 24 Nov 2026 13:40:03 +0000' (hosts run in UTC)."""
    tm = time.gmtime(int(when))
    return (f"{_DAYS[tm.tm_wday]}, {tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year:04d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000")


def added_headers(sender: str, rcpts: Sequence[str], helo: str, remote_ip: str, hostname: str,
                  trans_id: str, when: float) -> bytes:
    """Return-Path, Delivered-To (one recipient only) and the Received trace record (LF ends)."""
    one = rcpts[0] if len(rcpts) == 1 else None
    out = [f"Return-Path: <{sender}>"]
    if one is not None:
        out.append(f"Delivered-To: {one}")
    out.append(f"Received: from {helo or 'unknown'} ([{remote_ip}])")
    out.append(f"\tby {hostname} with LMTP")
    out.append(f"\tid {trans_id}")
    out.append(f"\t(envelope-from <{sender}>)")
    if one is not None:
        out.append(f"\tfor <{one}>")
    out[-1] += "; " + message_date(when)
    return "".join(line + "\n" for line in out).encode("utf-8", "surrogateescape")
