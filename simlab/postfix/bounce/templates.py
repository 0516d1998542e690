"""NAME
    templates - the texts of delivery status notifications (bounce(5))

SUMMARY
    t = load_templates(ctx, warn)["failure"]      # failure, delay, success, verify
    t.subject, t.postmaster_subject, t.sender_from
    expand_text(ctx, t, warn) -> ["This is the mail system at host mail.example.com.", ...]

DESCRIPTION
    Four built-in templates: *failure* (undeliverable mail), *delay* (mail
    still being retried after delay_warning_time), *success* (delivered,
    for NOTIFY=SUCCESS) and *verify* (sendmail -bv / -v reports). Each has
    a From:, a Subject:, a Postmaster-Subject: for the copy that the
    postmaster may get (failure and delay only) and the text that opens the
    notification. bounce_template_file may replace any of them, in
    bounce(5)'s format: ``failure_template = <<EOF`` ... ``EOF``.

    The text is $name-expanded with main.cf parameters. In the delay
    template, $delay_warning_time_UNIT and $maximal_queue_lifetime_UNIT
    give those times in seconds, minutes, hours, days or weeks (integer
    division); a result of 0 from a non-zero time gets bounce's warnings
    "zero result in delay template conversion of parameter ...".

PARAMETERS
    bounce_template_file, myhostname, mail_name, delay_warning_time,
    maximal_queue_lifetime, smtputf8_enable.

SEE ALSO
    bounce(5), bounce(8)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable

Warn = Callable[[str], None]

_BOILERPLATE_TAIL = (
    "For further assistance, please send mail to postmaster.",
    "",
    "If you do so, please include this problem report. You can",
    "delete your own text from the attached returned message.",
    "",
    "                   The mail system",
)


@dataclass(frozen=True)
class Template:
    cls: str
    origin: str
    charset: str
    sender_from: str
    subject: str
    postmaster_subject: str | None
    text: tuple[str, ...]


BUILTIN = {
    "failure": Template(
        "failure", "[built-in]", "us-ascii", "MAILER-DAEMON (Mail Delivery System)",
        "Undelivered Mail Returned to Sender", "Postmaster Copy: Undelivered Mail",
        ("This is the mail system at host $myhostname.", "",
         "I'm sorry to have to inform you that your message could not",
         "be delivered to one or more recipients. It's attached below.", "") + _BOILERPLATE_TAIL),
    "delay": Template(
        "delay", "[built-in]", "us-ascii", "MAILER-DAEMON (Mail Delivery System)",
        "Delayed Mail (still being retried)", "Postmaster Warning: Delayed Mail",
        ("This is the mail system at host $myhostname.", "",
         "####################################################################",
         "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
         "####################################################################", "",
         "Your message could not be delivered for more than $delay_warning_time_hours hour(s).",
         "It will be retried until it is $maximal_queue_lifetime_days day(s) old.", "")
        + _BOILERPLATE_TAIL),
    "success": Template(
        "success", "[built-in]", "us-ascii", "MAILER-DAEMON (Mail Delivery System)",
        "Successful Mail Delivery Report", None,
        ("This is the mail system at host $myhostname.", "",
         "Your message was successfully delivered to the destination(s)",
         "listed below. If the message was delivered to mailbox you will",
         "receive no further notifications. Otherwise you may still receive",
         "notifications of mail delivery errors from other systems.", "",
         "                   The mail system")),
    "verify": Template(
        "verify", "[built-in]", "us-ascii", "MAILER-DAEMON (Mail Delivery System)",
        "Mail Delivery Status Report", None,
        ("This is the mail system at host $myhostname.", "",
         "Enclosed is the mail delivery report that you requested.", "",
         "                   The mail system")),
}

TIME_PARAMS = ("delay_warning_time", "maximal_queue_lifetime")
DIVISORS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


def _parse_template(base: Template, origin: str, value: str, warn: Warn) -> Template:
    lines = value.split("\n")
    headers: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = re.match(r"^([!-9;-~]+):\s*(.*)$", lines[i])
        if not m:
            break
        name, val = m.group(1).lower(), m.group(2).strip()
        if not val:
            warn(f'{origin}: empty "{m.group(1)}" header value in {base.cls} template '
                 "-- ignoring this template")
            return base
        if name not in ("charset", "from", "subject", "postmaster-subject") or \
                (name == "postmaster-subject" and base.postmaster_subject is None):
            what = "inapplicable" if name == "postmaster-subject" else "unknown"
            warn(f'{origin}: {what} "{m.group(1)}" header label in {base.cls} template '
                 "-- ignoring this template")
            return base
        headers[name] = val
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines):
        warn(f"{origin}: missing message text in {base.cls} template -- ignoring this template")
        return base
    return replace(base, origin=origin, charset=headers.get("charset", base.charset),
                   sender_from=headers.get("from", base.sender_from),
                   subject=headers.get("subject", base.subject),
                   postmaster_subject=headers.get("postmaster-subject", base.postmaster_subject),
                   text=tuple(lines[i:]))


def load_templates(ctx: Any, warn: Warn) -> dict[str, Template]:
    """The four templates, with bounce_template_file's replacements."""
    out = dict(BUILTIN)
    name = ctx.config["bounce_template_file"].strip()
    if not name:
        return out
    try:
        text = ctx.path(name).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        warn(f"open {name}: {exc.strerror}")
        return out
    lines = text.split("\n")
    k = 0
    while k < len(lines):
        line = lines[k]
        k += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        member, sep, value = line.partition("=")
        member, value = member.strip(), value.strip()
        if not sep:
            warn(f'{name}, line {k}: missing \'=\' after attribute name: "{line}"')
            continue
        if value.startswith("<<"):
            marker = value[2:].strip()
            body: list[str] = []
            while k < len(lines) and lines[k] != marker:
                body.append(lines[k])
                k += 1
            k += 1
            value = "\n".join(body)
        cls = member[:-len("_template")] if member.endswith("_template") else ""
        if cls in out:
            out[cls] = _parse_template(out[cls], name, value, warn)
        else:
            warn(f"{name}, line {k}: unknown template name: {member} -- ignoring this template")
    return out


def _time_value(ctx: Any, t: Template, key: str, warn: Warn) -> str | None:
    for param in TIME_PARAMS:
        if key.startswith(param + "_"):
            suffix = key[len(param) + 1:]
            if suffix not in DIVISORS:
                return None
            seconds = int(ctx.config.get_time(param))
            result = seconds // DIVISORS[suffix]
            if result > 999 and DIVISORS[suffix] < 86400:
                warn(f'{t.origin}: excessive result "{result}" in {t.cls} template '
                     f'conversion of parameter "{key}"')
                warn(f'please increase time unit "{suffix}" of "{key}" in {t.cls} template')
                warn("for instructions see the bounce(5) manual")
            elif result == 0 and seconds and DIVISORS[suffix] > 1:
                warn(f'{t.origin}: zero result in {t.cls} template conversion of parameter "{key}"')
                warn(f'please reduce time unit "{suffix}" of "{key}" in {t.cls} template')
                warn("for instructions see the bounce(5) manual")
            return str(result)
    return None


def expand_text(ctx: Any, t: Template, warn: Warn) -> list[str]:
    """The template's text with $name, ${name} and $(name) replaced."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        key = m.group(1) or m.group(2) or m.group(3)
        got = _time_value(ctx, t, key, warn)
        if got is not None:
            return got
        try:
            return ctx.config[key]
        except KeyError:
            warn(f"{t.origin}: undefined $name in {t.cls} template: {key}")
            return ""

    pattern = re.compile(r"\$\$|\$\{(\w+)\}|\$\((\w+)\)|\$(\w+)")
    return [pattern.sub(sub, line) for line in t.text]


def charset_and_encoding(ctx: Any, t: Template) -> tuple[str, str]:
    """The Notification part's charset and transfer encoding."""
    text = "\n".join(t.text)
    if t.charset.lower() == "us-ascii" and ctx.config.get_bool("smtputf8_enable"):
        return "utf-8", "8bit"
    return t.charset, ("8bit" if not text.isascii() or t.charset.lower() != "us-ascii" else "7bit")
