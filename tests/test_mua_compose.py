"""compose() stores plain headers and 7bit bodies as text: the message must equal the email package's own."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

import pytest

from simlab.mua import compose
from simlab.mua.compose import to_bytes

LONG = "x" * 70 + "@example.com"
CASES: list[dict[str, Any]] = [
    {"to": "bob@example.net", "subject": "bench 1", "body": "x" * 76 + "\nline\n"},
    {"to": ["Bob <bob@example.net>", "carol@example.org"], "cc": '"Smith, J." <j@x.example>',
     "reply_to": "list@example.com", "subject": "Re: (no subject) \"quoted\" a=?b", "body": "From here\n.\n"},
    {"to": "bob@example.net", "subject": "", "body": ""},
    {"to": "bob@example.net", "subject": "two  spaces", "body": "a\r\nb\rc"},
    {"to": "bob@example.net", "subject": " leading", "body": "y" * 79},
    {"to": LONG + ", " + LONG, "subject": "s" * 90, "body": "tab\there\n"},
    {"to": "Émile <e@example.fr>", "subject": "Grüße", "body": "héllo wörld\n"},
    {"to": "bob@example.net", "subject": "=?utf-8?q?caf=C3=A9?=", "body": "\x0bvertical\x0cfeed\n"},
    {"to": "bob@example.net", "subject": "x", "body": "b", "message_id": "no-brackets@example.com"},
    {"to": "bob@example.net", "subject": "x", "body": "b", "message_id": "<a..b@[10.0.0.1]>"},
    {"to": "bob@example.net", "subject": "x", "body": "b", "when": -60000000000.0},
    {"to": "undisclosed-recipients:;", "subject": "x", "body": "b"},
]


def reference(sender: str, *, to: Any = None, cc: Any = None, reply_to: str | None = None, subject: str = "",
              body: str = "", when: float | None = 1795527410.0,
              message_id: str | None = "<20261124133650.1.a6285230@example.com>") -> EmailMessage:
    """The message built the plain way: every header through the policy, set_content()."""
    msg = EmailMessage(policy=default)
    name, addr = parseaddr(sender)
    msg["From"] = formataddr((name, addr)) if name else addr
    for key, values in (("To", to), ("Cc", cc)):
        if values:
            msg[key] = values if isinstance(values, str) else ", ".join(values)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    if when is not None:
        msg["Date"] = format_datetime(datetime.fromtimestamp(int(when), tz=timezone.utc))
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body if body.endswith("\n") or not body else body + "\n")
    return msg


def render(msg: EmailMessage) -> list[Any]:
    out: list[Any] = [bytes(msg), to_bytes(msg), msg.as_string(), msg.as_bytes(policy=SMTP), msg.get_content()]
    out += [(k, str(v), type(v).__mro__[1].__name__) for k, v in msg.items()]
    return out


@pytest.mark.parametrize("case", CASES)
def test_compose_equals_the_email_package(case: dict[str, Any]) -> None:
    kw = {"when": 1795527410.0, "message_id": "<20261124133650.1.a6285230@example.com>", **case}
    msg, _ = compose("Alice <alice@example.com>", **kw)
    ref = reference("Alice <alice@example.com>", **kw)
    assert render(msg) == render(ref)
    assert render(copy.deepcopy(msg)) == render(ref)
    for m in (msg, ref):            # a changed message is written anew
        m.replace_header("Subject", "changed")
        del m["To"]
        m.set_param("format", "flowed")
    assert render(msg) == render(ref)
