"""NAME
    attrs - pipe(8) command attributes and ${macro} expansion of argv

SUMMARY
    attr = parse_attrs(["flags=FRq", "user=nobody", "argv=/usr/local/bin/lab-pipe", "${sender}"])
    argv = expand_argv(attr, macros, recipients, delimiter="+")

DESCRIPTION
    The master.cf arguments of a pipe service: ``flags=BDFORXhqu.>``,
    ``user=name[:group]``, ``directory=``, ``eol=`` (C escapes), ``null_sender=``,
    ``size=``, and ``argv=`` which must come last. Errors are PipeConfigError
    with the text Postfix's pipe daemon dies with ("unknown flag: x (ignored)",
    "missing user= command-line attribute").

    In argv, ``${name}``, ``$name`` and ``$(name)`` expand; ``$$`` is one
    dollar. An argument with ${recipient}, ${original_recipient}, ${user},
    ${extension}, ${mailbox} or ${domain} becomes one argument per recipient
    (an argument whose ${user} is empty is left out). The q flag quotes the
    local part of $sender and $recipient as RFC 822 requires; h folds the
    domain of $recipient and all of $domain and $nexthop to lower case, u the
    local part. An unknown macro name is a configuration error.

SEE ALSO
    pipe(8), master(5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PER_RCPT = ("recipient", "original_recipient", "user", "extension", "mailbox", "domain")
GLOBAL = ("nexthop", "sender", "size", "queue_id", "client_address", "client_helo",
          "client_hostname", "client_port", "client_protocol", "sasl_method",
          "sasl_username", "sasl_sender")
FLAG_CHARS = "BDFORhqu.>"
_MACRO = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|\(([A-Za-z0-9_]+)\)|([A-Za-z0-9_]+)|(\$))")
_SPECIALS = set('()<>@,;:\\".[]')


class PipeConfigError(Exception):
    """The service's master.cf attributes are unusable (pipe(8) would exit fatally)."""


@dataclass
class PipeAttrs:
    flags: str = ""
    user: str = ""
    group: str = ""
    directory: str = ""
    eol: str = "\n"
    null_sender: str = "MAILER-DAEMON"
    size_limit: int = 0
    command: list[str] = field(default_factory=list)

    def has(self, flag: str) -> bool:
        return flag in self.flags


def unescape(text: str) -> str:
    """C escapes as Postfix's unescape(): \\a \\b \\f \\n \\r \\t \\v \\ddd \\\\."""
    table = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n in table:
                out.append(table[n])
                i += 2
                continue
            m = re.match(r"[0-7]{1,3}", text[i + 1:])
            if m:
                out.append(chr(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
                continue
            out.append(n)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def parse_attrs(args: list[str]) -> PipeAttrs:
    attr = PipeAttrs()
    user_seen = False
    for n, arg in enumerate(args):
        low = arg.lower()
        if low.startswith("flags="):
            for ch in arg[6:]:
                if ch not in FLAG_CHARS:
                    raise PipeConfigError(f"unknown flag: {ch} (ignored)")
            attr.flags += arg[6:]
        elif low.startswith("user="):
            user, _, group = arg[5:].partition(":")
            attr.user, attr.group, user_seen = user, group, True
        elif low.startswith("directory="):
            attr.directory = arg[10:]
        elif low.startswith("chroot="):
            continue
        elif low.startswith("eol="):
            attr.eol = unescape(arg[4:])
        elif low.startswith("null_sender="):
            attr.null_sender = arg[12:]
        elif low.startswith("size="):
            if not (arg[5:].isascii() and arg[5:].isdigit()):
                raise PipeConfigError(f"get_service_attr: bad size= value: {arg[5:]}")
            attr.size_limit = int(arg[5:])
        elif low.startswith("argv="):
            attr.command = [arg[5:]] + list(args[n + 1:])
            break
        else:
            raise PipeConfigError(f"unknown attribute name: {arg}")
    if not user_seen:
        raise PipeConfigError("missing user= command-line attribute")
    if not attr.command or not attr.command[0]:
        raise PipeConfigError("missing argv= command-line attribute")
    return attr


def quote_822_local(address: str) -> str:
    """Quote the local part (left of the last @) when RFC 822 needs it."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    needs = (not local or local.startswith(".") or local.endswith(".") or ".." in local
             or any(c in _SPECIALS - {"."} or ord(c) <= 32 or ord(c) == 127 for c in local))
    if needs and local:
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return local + ("@" + domain if at else "")


def morph(address: str, flags: str, quote: bool = True) -> str:
    """The q, h and u flags applied to an address."""
    text = quote_822_local(address) if quote and "q" in flags else address
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower() if "u" in flags else text
    if "u" in flags:
        local = local.lower()
    if "h" in flags:
        domain = domain.lower()
    return f"{local}@{domain}"


def split_local(local: str, delimiter: str, owner_request_special: bool = True) -> tuple[str, str | None]:
    """(user, extension) of a local part, as Postfix's split_addr(); extension None when unsplit."""
    if not delimiter or local.lower() in ("postmaster", "mailer-daemon", "double-bounce"):
        return local, None
    if "-" in delimiter and owner_request_special and (
            local.lower().startswith("owner-") or (len(local) > 8 and local.lower().endswith("-request"))):
        return local, None
    for i, c in enumerate(local):
        if c in delimiter:
            return (local, None) if i == 0 else (local[:i], local[i + 1:])
    return local, None


def macro_names(arg: str) -> list[str]:
    return [m.group(1) or m.group(2) or m.group(3) for m in _MACRO.finditer(arg) if not m.group(4)]


def substitute(arg: str, values: dict[str, str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(4):
            return "$"
        return values.get(m.group(1) or m.group(2) or m.group(3), "")
    return _MACRO.sub(repl, arg)


def expand_argv(attr: PipeAttrs, values: dict[str, str], recipients: list[Any],
                delimiter: str = "") -> list[str]:
    """The command line for these recipients; raises PipeConfigError on an unknown macro."""
    out: list[str] = []
    for arg in attr.command:
        names = macro_names(arg)
        for name in names:
            if name not in PER_RCPT and name not in GLOBAL:
                raise PipeConfigError(f'unknown macro name: "{name}"')
        if not any(name in PER_RCPT for name in names):
            out.append(substitute(arg, values))
            continue
        for rcpt in recipients:
            local_values = dict(values)
            address = rcpt.address
            folded = morph(address, attr.flags, quote=False)
            local, _, domain = folded.rpartition("@")
            if "@" not in folded:
                local, domain = folded, ""
            user, ext = split_local(local, delimiter)
            if "user" in names and not user:
                continue
            local_values.update(
                recipient=morph(address, attr.flags),
                original_recipient=morph(getattr(rcpt, "orig", "") or address, attr.flags),
                user=user, extension=ext or "", mailbox=local, domain=domain)
            out.append(substitute(arg, local_values))
    return out
