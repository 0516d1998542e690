"""NAME
    notify - build an RFC 3464 delivery status notification, byte for byte as Postfix does

SUMMARY
    orig = Original.from_queue_file(qf)
    body = build_dsn(ctx, templates["failure"], orig, records, dest="bob@example.com",
                     postmaster_copy=False, ret_headers=False, now=t, warn=warn)
    line_wrap("<a@b>: long reason ...", 79, 4) -> ["<a@b>: long", "    reason ..."]

DESCRIPTION
    A notification is a multipart/report message with three parts:

    1. Notification (text/plain): the template text, then one paragraph
       per recipient, "<address>: reason" ("<address> (expanded from
       <original>): reason" after alias expansion), wrapped at 79
       columns with a 4-space indent. A postmaster copy has no template
       text.
    2. Delivery report (message/delivery-status): Reporting-MTA,
       Original-Envelope-Id (ENVID), X-Postfix-Queue-ID, X-Postfix-Sender,
       Arrival-Date, then per recipient Final-Recipient,
       Original-Recipient (the ORCPT), Action (always "failed" in a failure
       report), Status, Remote-MTA, Diagnostic-Code and, in a delay
       warning, Will-Retry-Until.
    3. The original message (message/rfc822), or only its headers
       (text/rfc822-headers) for RET=HDRS, delay warnings, success and
       verify reports, and messages larger than bounce_size_limit; a
       Return-Path: header with the original sender comes first.

    The MIME boundary is "QUEUEID.TIME/myhostname". The header block starts
    with Date: (the Received: header is post_mail's) and cleanup adds the
    Message-Id.

PARAMETERS
    myhostname, myorigin, mail_name, bounce_size_limit,
    maximal_queue_lifetime, smtputf8_enable, empty_address_recipient.

SEE ALSO
    bounce(8), RFC 3464, RFC 3461
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..common.queue import QueueFile
from ..trivial_rewrite import quote_822_local, rewrite
from .log import LogRecord
from .post import mail_date
from .templates import Template, charset_and_encoding, expand_text

Warn = Callable[[str], None]
LENGTH = 79
INDENT = 4


@dataclass
class Original:
    """What a notification needs from the original queue file."""

    qid: str
    sender: str
    arrival: float
    content: bytes
    size: int
    envid: str = ""
    ret: str = ""                 # "FULL", "HDRS" or "" (not specified)
    encoding: str = ""
    trace_flags: int = 0
    smtputf8: bool = False        # sent with SMTPUTF8: the report uses the message/global* types

    @classmethod
    def from_queue_file(cls, qf: QueueFile) -> "Original":
        attrs = qf.attrs
        ret = {"1": "FULL", "2": "HDRS"}.get(str(attrs.get("ret_flags", "")),
                                             str(attrs.get("ret_flags", "")).upper())
        flags = attrs.get("trace_flags", "0")
        return cls(qid=qf.qid, sender=qf.sender, arrival=qf.arrival, content=qf.content,
                   size=qf.size or len(qf.content), envid=attrs.get("envelope_id", ""),
                   ret=ret, encoding=attrs.get("encoding", ""),
                   smtputf8=attrs.get("smtputf8", "") not in ("", "0"),
                   trace_flags=int(flags) if (str(flags).isascii() and str(flags).isdigit()) else 0)


def _original_type(headers_only: bool, smtputf8: bool) -> str:
    if headers_only:
        return "message/global-headers" if smtputf8 else "text/rfc822-headers"
    return "message/global" if smtputf8 else "message/rfc822"


def line_wrap(text: str, length: int = LENGTH, indent: int = INDENT) -> list[str]:
    """Postfix's line_wrap(): break at blanks, later lines indented."""
    out: list[str] = []
    n = len(text)
    curr_indent = 0
    first = True
    start = 0
    word: int | None = 0
    while word is not None:
        space = word
        while space < n and text[space] not in " \t":
            space += 1
        if word > start and space - start > length - curr_indent:
            out.append(" " * curr_indent + text[start:word].rstrip())
            while word < n and text[word].isspace():
                word += 1
            if first:
                first = False
                curr_indent += indent
                if curr_indent > length:
                    curr_indent = 0
            start = word
        word = space + 1 if space < n else None
    out.append(" " * curr_indent + text[start:].rstrip())
    return out


def _sender_header(ctx: Any, tmpl_from: str) -> str:
    m = re.match(r"^\s*(\S+)\s*\((.*)\)\s*$", tmpl_from)
    if m:
        return f"{m.group(2)} <{rewrite(ctx, m.group(1), 'local')}>"
    return tmpl_from


def _is_header(line: bytes) -> bool:
    if line[:1] in (b" ", b"\t"):
        return True
    return re.match(rb"^[!-9;-~]+[ \t]*:", line) is not None


def _lines(content: bytes) -> list[bytes]:
    if not content:
        return []
    body = content[:-1] if content.endswith(b"\n") else content
    return body.split(b"\n")


def mail_addr_mail_daemon(ctx: Any) -> str:
    return rewrite(ctx, ctx.config["empty_address_recipient"], "local")


def _human(rec: LogRecord) -> str:
    orig = rec.original_recipient
    if orig and orig.casefold() != rec.recipient.casefold():
        return f"<{rec.recipient}> (expanded from <{orig}>): {rec.reason}"
    return f"<{rec.recipient}>: {rec.reason}"


def build_dsn(ctx: Any, tmpl: Template, orig: Original, records: list[LogRecord], *, dest: str,
              postmaster_copy: bool, ret_headers: bool, now: float, warn: Warn) -> bytes:
    """The notification message (headers from Date: on, then the three MIME parts)."""
    cfg = ctx.config
    boundary = f"{orig.qid}.{int(now)}/{cfg['myhostname']}"
    charset, text_encoding = charset_and_encoding(ctx, tmpl)
    smtputf8 = cfg.get_bool("smtputf8_enable")
    encoding = "8bit" if (smtputf8 or orig.encoding == "8bit" or text_encoding == "8bit") else "7bit"
    subject = tmpl.postmaster_subject if postmaster_copy and tmpl.postmaster_subject else tmpl.subject
    out: list[str] = [
        f"Date: {mail_date(now)}",
        f"From: {_sender_header(ctx, tmpl.sender_from)}",
        f"Subject: {subject}",
        f"To: {quote_822_local(dest)}",
        f"Auto-Submitted: {'auto-generated' if postmaster_copy else 'auto-replied'}",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
        f"Content-Transfer-Encoding: {encoding}",
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{boundary}",
        "Content-Description: Notification",
        f"Content-Type: text/plain; charset={charset}",
    ]
    if text_encoding == "8bit" or smtputf8:
        out.append(f"Content-Transfer-Encoding: {text_encoding}")
    out.append("")
    if not postmaster_copy:
        out.extend(expand_text(ctx, tmpl, warn))
    for rec in records:
        out.append("")
        out.extend(line_wrap(_human(rec)))

    mail_name = re.sub(r'[ \t\r\n()<>@,;:\\".\[\]]', "-", cfg["mail_name"])
    sender = quote_822_local(orig.sender or mail_addr_mail_daemon(ctx))
    out += ["", f"--{boundary}", "Content-Description: Delivery report",
            "Content-Type: message/global-delivery-status" if orig.smtputf8 else "Content-Type: message/delivery-status"]
    if orig.smtputf8:
        out.append(f"Content-Transfer-Encoding: {encoding}")
    out += ["", f"Reporting-MTA: dns; {cfg['myhostname']}"]
    if orig.envid:
        out.append(f"Original-Envelope-Id: {orig.envid}")
    out.append(f"X-{mail_name}-Queue-ID: {orig.qid}")
    out.append(f"X-{mail_name}-Sender: rfc822; {sender}")
    if orig.arrival > 0:
        out.append(f"Arrival-Date: {mail_date(orig.arrival)}")
    for rec in records:
        out += ["", f"Final-Recipient: rfc822; {rec.recipient}"]
        if rec.dsn_orig_rcpt:
            out.append(f"Original-Recipient: {rec.dsn_orig_rcpt}")
        elif rec.original_recipient:
            out.append(f"Original-Recipient: rfc822;{rec.original_recipient}")
        out.append(f"Action: {'failed' if tmpl.cls == 'failure' else rec.action}")
        out.append(f"Status: {rec.status}")
        if rec.mta_type and rec.mta_mname:
            out.extend(line_wrap(f"Remote-MTA: {rec.mta_type}; {rec.mta_mname}"))
        if rec.diag_type and rec.diag_text:
            out.extend(line_wrap(f"Diagnostic-Code: {rec.diag_type}; {rec.diag_text}"))
        else:
            out.extend(line_wrap(f"Diagnostic-Code: X-{mail_name}; {rec.reason}"))
        if tmpl.cls == "delay":
            lifetime = cfg.get_time("maximal_queue_lifetime")
            out.append(f"Will-Retry-Until: {mail_date(orig.arrival + lifetime)}")

    limit = cfg.get_int("bounce_size_limit")
    headers_only = ret_headers or (limit > 0 and (orig.size <= 0 or orig.size > limit))
    undelivered = "Undelivered " if tmpl.cls in ("failure", "delay") else ""
    out += ["", f"--{boundary}",
            f"Content-Description: {undelivered}{'Message Headers' if headers_only else 'Message'}",
            f"Content-Type: {_original_type(headers_only, orig.smtputf8)}",
            f"Content-Transfer-Encoding: {encoding}", "", f"Return-Path: <{sender}>"]
    data = bytearray("\n".join(out).encode("utf-8", "surrogateescape") + b"\n")
    for line in _lines(orig.content):
        if headers_only and not _is_header(line):
            break
        data += line + b"\n"
    data += f"\n--{boundary}--\n".encode()
    return bytes(data)
