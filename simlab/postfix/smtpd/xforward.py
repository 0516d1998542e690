"""NAME
    xforward - smtpd(8) XFORWARD: the up-stream client of a content filter's re-injection

SUMMARY
    XFORWARD NAME=client.example ADDR=10.0.0.9 PORT=40000 HELO=client.example
    XFORWARD PROTO=ESMTP IDENT=1A2B3C4D5E SOURCE=REMOTE    -> 250 2.0.0 Ok

DESCRIPTION
    A client listed in smtpd_authorized_xforward_hosts (an after-queue
    content filter, Postfix's own smtp client with smtp_send_xforward_command)
    may tell, before MAIL FROM, who the original client was. Outside that
    list the answer is "550 5.7.0 Error: insufficient authorization"; during
    a mail transaction "503 5.5.1 Error: MAIL transaction in progress";
    without an attribute "501 5.5.4 Syntax: XFORWARD attribute=value...".
    A value of [UNAVAILABLE] means "unknown"; a bad value or name is
    refused with 501 5.5.4 and changes nothing of that command.

    The forwarded attributes last for one mail transaction. smtpd keeps
    checking, logging and writing its Received: header with the real
    client; what changes is what it hands to cleanup(8) as the message's
    logged origin (log_client_name, log_client_address, log_client_port,
    log_message_origin, log_helo_name, log_protocol_name, log_ident and the
    rewrite context of SOURCE), which cleanup uses in its own log lines and
    the smtp client forwards again, and the queue id line, which becomes
    ``QID: client=name[addr], orig_queue_id=ID, orig_client=name[addr]``.
    Once any client attribute was forwarded, the ones not forwarded are
    "unknown" (name, address, port) or absent (HELO, PROTO).

PARAMETERS
    smtpd_authorized_xforward_hosts.

SEE ALSO
    XFORWARD_README, smtpd(8), smtp(8) smtp_send_xforward_command
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import replies as R
from .replies import Reply
from .tokens import Token, printable, valid_hostaddr, valid_hostname, xtext_unquote

UNAVAILABLE = "[UNAVAILABLE]"
UNKNOWN = "unknown"
# neuter(3) in smtpd: characters that could break a header or a log line
NEUTER = ' <>()\\";@'
CLIENT_ATTRS = ("NAME", "ADDR", "PORT", "PROTO", "HELO")
SOURCES = {"LOCAL": "local", "REMOTE": "remote"}

IN_TRANSACTION = Reply(503, "5.5.1", "Error: MAIL transaction in progress")
SYNTAX = Reply(501, "5.5.4", "Syntax: XFORWARD attribute=value...")
NEED_VALUE = Reply(501, "5.5.4", "Error: attribute=value expected")
TOO_LONG = Reply(501, "5.5.4", "Error: attribute value too long")


def bad_syntax(name: str, value: str) -> Reply:
    return Reply(501, "5.5.4", f"Bad {name} syntax: {value}")


def bad_name(name: str) -> Reply:
    return Reply(501, "5.5.4", f"Bad XFORWARD attribute name: {name}")


@dataclass
class XForward:
    """The forwarded attributes of one mail transaction (Postfix's state->xforward)."""

    name: str = UNKNOWN
    addr: str = UNKNOWN
    port: str = UNKNOWN
    proto: str | None = None
    helo: str | None = None
    ident: str | None = None
    source: str | None = None
    client: bool = False            # some client attribute (NAME ADDR PORT PROTO HELO) was forwarded

    @property
    def namaddr(self) -> str:
        return self.name if self.addr == UNKNOWN else f"{self.name}[{self.addr}]"


def parse(current: XForward | None, args: list[str]) -> XForward | Reply:
    """Apply ``NAME=value`` words to a copy of ``current``; the result, or the 501 reply."""
    new = XForward(**vars(current)) if current is not None else XForward()
    for word in args:
        name, eq, raw = word.partition("=")
        if not eq or not raw:
            return NEED_VALUE
        if len(raw) > 255:
            return TOO_LONG
        value = printable(xtext_unquote(raw) or raw)
        key = name.upper()
        unavailable = value == UNAVAILABLE
        if key != "SOURCE" and not unavailable:
            value = "".join("?" if c in NEUTER else c for c in value)
        if key == "NAME":
            if not unavailable and not valid_hostname(value):
                return bad_syntax("NAME", value)
            new.name = UNKNOWN if unavailable else value
        elif key == "ADDR":
            if not unavailable:
                value = value[5:] if value[:5].upper() == "IPV6:" else value
                if not valid_hostaddr(value):
                    return bad_syntax("ADDR", value)
            new.addr = UNKNOWN if unavailable else value
        elif key == "PORT":
            if not unavailable and not (value.isascii() and value.isdigit() and len(value) <= 5):
                return bad_syntax("PORT", value)
            new.port = UNKNOWN if unavailable else value
        elif key == "PROTO":
            if not unavailable and len(value) > 64:
                return bad_syntax("PROTO", value)
            new.proto = UNKNOWN if unavailable else value
        elif key == "HELO":
            new.helo = UNKNOWN if unavailable else value
        elif key == "IDENT":
            new.ident = UNKNOWN if unavailable else value
        elif key == "SOURCE":
            context = SOURCES.get("LOCAL" if unavailable else value.upper())
            if context is None:
                return bad_syntax("SOURCE", value)
            new.source = context
        else:
            return bad_name(name)
        new.client = new.client or key in CLIENT_ATTRS
    return new


async def xforward_command(s: Any, argv: list[Token]) -> bool:
    """xforward_cmd(): checked in Postfix's order, then 250 2.0.0 Ok."""
    if s.sender is not None:
        await s.reply(IN_TRANSACTION)
        return False
    if len(argv) < 2:
        await s.reply(SYNTAX)
        return False
    if not s._xauthorized("smtpd_authorized_xforward_hosts"):
        await s.reply(R.NOT_AUTHORIZED)
        return False
    got = parse(s.xforward, [t.text for t in argv[1:]])
    if isinstance(got, Reply):
        await s.reply(got)
        return False
    s.xforward = got
    await s.reply(R.OK)
    return True


def log_attrs(s: Any, attrs: dict[str, str]) -> None:
    """The log_* attributes smtpd hands to cleanup, from XFORWARD when there was one."""
    xf: XForward | None = s.xforward
    if xf is None:
        return
    if xf.client:
        # an "unknown" name, address or port, and a HELO or PROTO never given, are left out
        known = {"log_client_name": xf.name, "log_client_address": xf.addr, "log_client_port": xf.port,
                 "log_message_origin": xf.namaddr}
        forwarded = {k: (v if v != UNKNOWN else None) for k, v in known.items()}
        forwarded.update({"log_helo_name": xf.helo, "log_protocol_name": xf.proto})
        for key, value in forwarded.items():
            if value is None:
                attrs.pop(key, None)
            else:
                attrs[key] = value
    if xf.ident is not None:
        attrs["log_ident"] = xf.ident
    if xf.source is not None:
        attrs["rewrite_context"] = xf.source


def client_line(s: Any) -> str:
    """The ``client=`` log line's forwarded part: ", orig_queue_id=ID, orig_client=name[addr]"."""
    xf: XForward | None = s.xforward
    if xf is None:
        return ""
    text = f", orig_queue_id={xf.ident}" if xf.ident is not None else ""
    if xf.client:
        text += f", orig_client={xf.namaddr}"
    return text
