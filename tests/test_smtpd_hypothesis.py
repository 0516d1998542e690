"""Arbitrary command lines never crash smtpd, and every line gets a reply (or a clean hang-up)."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postfix_lab import Lab

VERBS = ["HELO", "EHLO", "MAIL FROM:", "RCPT TO:", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "ETRN", "QUIT",
         "AUTH", "STARTTLS", "XCLIENT", "HELP", "GET", "Subject:", "mail from:<", "RCPT TO:<", ""]
ARG = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=40)
LINE = st.one_of(st.builds(lambda v, a: f"{v} {a}".rstrip(" ") if a else v, st.sampled_from(VERBS), ARG),
                 st.binary(max_size=60).map(lambda b: b.replace(b"\n", b"").decode("latin-1")))
_REPLY = re.compile(r"^\d{3}([ -]|$)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    return Lab(tmp_path_factory.mktemp("hyp"), "smtpd_sasl_auth_enable = yes\n")


async def _session(lab: Lab, lines: list[str]) -> list[list[str]]:
    reader, writer = await lab.connect("inside")
    replies: list[list[str]] = []

    async def one_reply() -> list[str]:
        got: list[str] = []
        while True:
            raw = await asyncio.wait_for(reader.readline(), 1000)
            if not raw:
                return got + ["<EOF>"]
            text = raw.decode("utf-8", "surrogateescape").rstrip("\r\n")
            got.append(text)
            if not _REPLY.match(text) or text[3:4] != "-":
                return got

    assert (await one_reply())[0].startswith("220 ")
    for line in lines:
        writer.write(line.encode("utf-8", "surrogateescape") + b"\r\n")
        reply = await one_reply()
        replies.append(reply)
        if reply[-1] == "<EOF>":
            break
    writer.close()
    await asyncio.sleep(1)
    return replies


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(LINE, min_size=1, max_size=6))
def test_smtpd_hypothesis_every_line_gets_a_reply(lab, lines):
    before = len(lab.net.loop.exceptions)
    replies = lab.run(_session(lab, lines))
    assert len(lab.net.loop.exceptions) == before
    for reply in replies:
        assert reply, "no reply at all"
        for text in reply:
            assert text == "<EOF>" or _REPLY.match(text), text
    assert lab.maillog()[-1].split(": ", 1)[1].startswith("disconnect from localhost[127.0.0.1] ")


async def _transaction(lab: Lab, chunks: list[bytes]) -> bytes:
    reader, writer = await lab.connect("limits")
    writer.write(b"EHLO c.example\r\nMAIL FROM:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\n")
    for chunk in chunks:
        writer.write(chunk)
        await asyncio.sleep(0.01)
    writer.write(b"\r\n.\r\nQUIT\r\n")
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 1000)
    writer.close()
    return data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from([b"DATA\r\n", b"BDAT 5\r\n", b"BDAT 0 LAST\r\n", b".\r\n", b"\n.\n",
                                           b"RSET\r\n", b"RCPT TO:<bob@example.com>\r\n", b"\r\n"]),
                          st.binary(max_size=80)), max_size=8))
def test_smtpd_hypothesis_content_never_crashes(lab, chunks):
    before = len(lab.net.loop.exceptions)
    logged = len(lab.maillog())
    data = lab.run(_transaction(lab, chunks))
    assert len(lab.net.loop.exceptions) == before
    assert data.startswith(b"220 mail.example.com ESMTP Postfix\r\n")
    assert all(_REPLY.match(line) for line in data.decode("utf-8", "replace").split("\r\n") if line)
    assert sum(": disconnect from localhost[127.0.0.1] " in ln for ln in lab.maillog()[logged:]) == 1
