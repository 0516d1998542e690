"""After-queue content filtering (FILTER_README) on the virtual network.

The receiving service's content_filter (main.cf, or master.cf -o for smtpd and pickup), a
header_checks/body_checks FILTER action and an access(5) FILTER result put a content_filter
record into the queue file; qmgr sends every recipient of that message to the filter's
transport and nexthop, once; the filter re-injects the message, which then has no filter
and is delivered. Both styles of FILTER_README: a pipe(8) script that re-injects with the
host's sendmail, and an SMTP filter that re-injects through a second smtpd on port 10026.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from _queue_lab import install_lab
from postfix_lab import smtp_session, submit_queued
from simlab import Network
from simlab.postfix.commands_registry import CommandRun, register_command
from simlab.postfix.system import PostfixSystem

SLOW_RETRY = {"minimal_backoff_time": "1000s", "maximal_backoff_time": "4000s", "queue_run_delay": "1000s"}
SMTPD_LINE = "smtp      inet  n       -       n       -       -       smtpd\n"
PICKUP_LINE = "pickup    unix  n       -       n       60      1       pickup\n"
FILTER_UID = 1500

PIPE_FILTER = """\
filter    unix  -       n       n       -       10      pipe
  flags=Rq user=filter null_sender=
  argv=/usr/local/bin/filter.sh -f ${sender} -- ${recipient}
"""

SMTP_FILTER = """\
scan      unix  -       -       n       -       10      smtp
  -o smtp_generic_maps=
127.0.0.1:10026 inet n  -       n       -       10      smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks
  -o smtpd_helo_restrictions=
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_relay_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
"""


# -- the lab -----------------------------------------------------------------------------
def start(tmp_path: Path, master_cf: str = "", smtpd_opts: str = "", pickup_opts: str = "",
          **main_cf: str) -> tuple[Network, Any]:
    """The lab host with a "filter" account; ``*_opts`` are -o lines for the port 25 smtpd, pickup."""
    net = Network(seed=1, workdir=tmp_path)
    host = net.host("mail.example.com", ip="10.0.0.25")
    root = install_lab(host.root, **{**SLOW_RETRY, **main_cf})
    with open(root / "etc/passwd", "a") as f:
        f.write(f"filter:x:{FILTER_UID}:{FILTER_UID}:Content filter:/var/spool/filter:/usr/sbin/nologin\n")
    master = (root / "etc/postfix/master.cf").read_text()
    assert SMTPD_LINE in master and PICKUP_LINE in master
    master = master.replace(SMTPD_LINE, SMTPD_LINE + smtpd_opts).replace(PICKUP_LINE, PICKUP_LINE + pickup_opts)
    master += master_cf
    (root / "etc/postfix/master.cf").write_text(master)
    pf = PostfixSystem.for_host(host)
    net.run_sync(pf.start())
    return net, pf


def submit(net: Network, rcpts: list[str], body: bytes = b"Subject: filtered\n\nhello\n",
           port: int = 25) -> str:
    return submit_queued(net, rcpts, body, port)


def log_of(pf: Any, qid: str) -> list[str]:
    """The maillog lines about ``qid``, as ``program: text`` (no stamp, no pid)."""
    out = []
    for line in pf.ctx.log.lines:
        m = re.match(r"^\w{3} [ \d]\d [\d:]{8} \S+ (\S+)\[\d+\]: (.*)$", line)
        if m and m.group(2).startswith(f"{qid}: "):
            out.append(f"{m.group(1)}: {m.group(2)[len(qid) + 2:]}")
    return out


def new_qid(pf: Any, program: str, after: str) -> str:
    """The queue id of the message that ``program`` received after ``after`` was handed on."""
    lines = pf.ctx.log.lines
    start = next(i for i, ln in enumerate(lines) if f" {after}: from=<" in ln and "(queue active)" in ln)
    for line in lines[start:]:
        m = re.search(rf" postfix/{program}\[\d+\]: ([0-9A-F]+): (?:uid=|client=)", line)
        if m:
            return m.group(1)
    raise AssertionError(f"no {program} message after {after}")


# -- a pipe(8) filter that re-injects with sendmail ----------------------------------------
class FilterScript:
    """/usr/local/bin/filter.sh: adds X-Filtered: yes, refuses "viagra" with EX_UNAVAILABLE."""

    def __init__(self, host: Any) -> None:
        self.runs: list[CommandRun] = []
        register_command(host, "/usr/local/bin/filter.sh", self)

    async def __call__(self, run: CommandRun) -> int:
        self.runs.append(run)
        assert run.argv[1] == "-f" and run.argv[3] == "--"
        sender, rcpts = run.argv[2], run.argv[4:]
        head, _, body = run.stdin.partition(b"\n\n")
        if b"viagra" in body.lower():
            run.print("Message content rejected")
            return 69
        message = head + b"\nX-Filtered: yes\n\n" + body
        done = await run.call(["/usr/sbin/sendmail", "-G", "-i", "-f", sender, "--", *rcpts], message)
        run.stdout += done.output
        return 0 if done.status == 0 else 75


@pytest.fixture
def piped(tmp_path: Path) -> Iterator[tuple[Network, Any, FilterScript]]:
    net, pf = start(tmp_path, PIPE_FILTER, "  -o content_filter=filter:dummy\n")
    script = FilterScript(net["mail.example.com"])
    yield net, pf, script
    net.run_sync(pf.stop())


def test_pipe_filter_gets_every_recipient_once_and_the_reinjected_copy_is_delivered(piped: Any) -> None:
    net, pf, script = piped
    qid = submit(net, ["alice@example.com", "erin@example.com"])
    net.run(until=net.now + 5)
    (run,) = script.runs                                          # one delivery, both recipients
    assert run.argv == ["/usr/local/bin/filter.sh", "-f", "bob@example.com", "--",
                        "alice@example.com", "erin@example.com"]
    assert run.user == "filter" and run.stdin.startswith(b"Return-Path: <bob@example.com>\n")
    first = log_of(pf, qid)
    assert first[2].startswith("postfix/qmgr: from=<bob@example.com>, size=") and first[2].endswith(
        ", nrcpt=2 (queue active)")
    sent = [ln for ln in first if ": to=<" in ln]
    assert len(sent) == 2 and all(ln.startswith("postfix/pipe: to=<") and ", relay=filter, delay=" in ln
                                  and ln.endswith("dsn=2.0.0, status=sent (delivered via filter service)")
                                  for ln in sent)
    assert first[-1] == "postfix/qmgr: removed"

    again = new_qid(pf, "pickup", qid)
    second = log_of(pf, again)
    assert second[0] == f"postfix/pickup: uid={FILTER_UID} from=<bob@example.com>"
    delivered = [ln for ln in second if ": to=<" in ln]
    assert [ln.split(",")[0] for ln in delivered] == ["postfix/local: to=<alice@example.com>",
                                                      "postfix/local: to=<erin@example.com>"]
    assert all(", relay=local, " in ln and ln.endswith("status=sent (delivered to mailbox)") for ln in delivered)
    host = net["mail.example.com"]
    for user in ("alice", "erin"):
        (got,) = host.mailbox(user)
        assert got["X-Filtered"] == "yes" and got["Subject"] == "filtered"
        received = got.get_all("Received")
        assert len(received) == 2
        assert received[0].startswith(f"by mail.example.com (Postfix, from userid {FILTER_UID})")
        assert received[1].startswith("from client.example (localhost [127.0.0.1])")
    assert len(script.runs) == 1                                  # the re-injected copy is not filtered


def test_pipe_filter_refusal_bounces_to_the_sender(piped: Any) -> None:
    net, pf, script = piped
    qid = submit(net, ["alice@example.com"], b"Subject: offer\n\ncheap VIAGRA here\n")
    net.run(until=net.now + 5)
    (line,) = [ln for ln in log_of(pf, qid) if ": to=<alice@example.com>" in ln]
    assert line.startswith("postfix/pipe: to=<alice@example.com>, relay=filter, ")
    assert line.endswith("dsn=5.3.0, status=bounced (service unavailable. "
                         "Command output: Message content rejected )")
    assert net["mail.example.com"].mailbox("alice") == []
    (notice,) = net["mail.example.com"].mailbox("bob")
    assert notice["From"] == "Mail Delivery System <MAILER-DAEMON@example.com>"


def test_the_filter_record_is_in_the_queue_file_and_an_undefined_filter_defers(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_opts="  -o content_filter=nosuchfilter:[127.0.0.1]:10025\n")
    try:
        qid = submit(net, ["alice@example.com"])
        net.run(until=net.now + 5)
        assert pf.store.find(qid) == "deferred"
        out = pf.command("postcat", "-q", qid).stdout
        extracted = out.split("*** HEADER EXTRACTED", 1)[1]
        assert "\ncontent_filter: nosuchfilter:[127.0.0.1]:10025\n" in extracted
        assert "content_filter:" not in out.split("*** MESSAGE CONTENTS", 1)[0]
        assert pf.store.read("deferred", qid).filter == "nosuchfilter:[127.0.0.1]:10025"
        assert any("warning: connect to transport private/nosuchfilter: No such file or directory" in ln
                   for ln in pf.ctx.log.lines)
        (line,) = [ln for ln in log_of(pf, qid) if ": to=<" in ln]
        assert line.startswith("postfix/qmgr: to=<alice@example.com>, relay=none, ")
        assert line.endswith("status=deferred (mail transport unavailable)")
        assert net["mail.example.com"].mailbox("alice") == []
    finally:
        net.run_sync(pf.stop())


# -- an SMTP filter on port 10025 that re-injects through port 10026 -------------------------
class SmtpFilter:
    """A tiny SMTP content filter: adds X-Filtered: yes and hands the message to 127.0.0.1:10026."""

    def __init__(self, host: Any, port: int = 10025) -> None:
        self.host = host
        self.sessions: list[list[str]] = []
        host.listen_streams(port, self.session, component="filter", addr="127.0.0.1")

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        said: list[str] = []
        self.sessions.append(said)
        sender, rcpts = "", []
        writer.write(b"220 filter.example ESMTP scan\r\n")
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            said.append(line)
            verb = line[:4].upper()
            if not line or verb == "QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                break
            if verb in ("EHLO", "HELO"):
                writer.write(b"250-filter.example\r\n250 8BITMIME\r\n")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].split()[0].strip("<>")
                writer.write(b"250 2.1.0 Ok\r\n")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].split()[0].strip("<>"))
                writer.write(b"250 2.1.5 Ok\r\n")
            elif verb == "DATA":
                writer.write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                data = bytearray()
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                head, _, body = bytes(data).partition(b"\r\n\r\n")
                reply = await self.reinject(sender, rcpts, head + b"\r\nX-Filtered: yes\r\n\r\n" + body)
                writer.write(reply.encode() + b"\r\n")
            else:
                writer.write(b"250 2.0.0 Ok\r\n")
        writer.close()

    async def reinject(self, sender: str, rcpts: list[str], message: bytes) -> str:
        reader, writer = await self.host.open_connection("127.0.0.1", 10026, component="filter")

        async def reply() -> str:
            while (line := (await reader.readline()).decode().rstrip("\r\n"))[3:4] == "-":
                pass
            return line
        await reply()
        for command in ["EHLO filter.example", f"MAIL FROM:<{sender}>", *[f"RCPT TO:<{r}>" for r in rcpts]]:
            writer.write((command + "\r\n").encode())
            await reply()
        writer.write(b"DATA\r\n")
        await reply()
        writer.write(message.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        final = await reply()
        writer.write(b"QUIT\r\n")
        await reader.read()
        return final


def test_smtp_filter_relays_through_the_filter_and_the_second_smtpd(tmp_path: Path) -> None:
    net, pf = start(tmp_path, SMTP_FILTER, content_filter="scan:[127.0.0.1]:10025")
    try:
        scanner = SmtpFilter(net["mail.example.com"])
        qid = submit(net, ["alice@example.com"])
        net.run(until=net.now + 5)
        assert len(scanner.sessions) == 1
        first = log_of(pf, qid)
        (line,) = [ln for ln in first if ": to=<" in ln]
        again = new_qid(pf, "smtpd", qid)
        assert line.startswith("postfix/smtp: to=<alice@example.com>, relay=127.0.0.1[127.0.0.1]:10025, ")
        assert line.endswith(f"dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {again})")
        assert first[-1] == "postfix/qmgr: removed"
        second = log_of(pf, again)
        assert second[0] == "postfix/smtpd: client=localhost[127.0.0.1]"
        (local,) = [ln for ln in second if ": to=<" in ln]
        assert local.startswith("postfix/local: to=<alice@example.com>, relay=local, ")
        assert local.endswith("status=sent (delivered to mailbox)")
        assert pf.store.find(again) is None
        (got,) = net["mail.example.com"].mailbox("alice")
        assert got["X-Filtered"] == "yes"
        received = got.get_all("Received")
        assert len(received) == 2
        assert received[0].startswith("from filter.example (localhost [127.0.0.1])")
        assert received[1].startswith("from client.example (localhost [127.0.0.1])")
        assert len(scanner.sessions) == 1                          # filtered once
    finally:
        net.run_sync(pf.stop())


def test_pickup_content_filter_filters_local_submissions(tmp_path: Path) -> None:
    net, pf = start(tmp_path, SMTP_FILTER, content_filter="scan:[127.0.0.1]:10025")
    try:
        scanner = SmtpFilter(net["mail.example.com"])
        assert pf.command("sendmail", "-f", "bob@example.com", "alice@example.com",
                          stdin="Subject: local\n\nhi\n").rc == 0
        assert pf.command("postqueue", "-f").rc == 0
        net.run(until=net.now + 5)
        assert len(scanner.sessions) == 1
        (got,) = net["mail.example.com"].mailbox("alice")
        assert got["X-Filtered"] == "yes" and got["Subject"] == "local"
    finally:
        net.run_sync(pf.stop())


# -- FILTER actions ------------------------------------------------------------------------
def test_header_checks_and_access_filter_actions_choose_the_filter(tmp_path: Path) -> None:
    # the re-injected copy comes back through pickup: no header_checks there, or it loops
    net, pf = start(tmp_path, PIPE_FILTER, pickup_opts="  -o receive_override_options=no_header_body_checks\n",
                    header_checks="regexp:/etc/postfix/filter_checks",
                    smtpd_sender_restrictions="check_sender_access hash:/etc/postfix/filter_access")
    root = pf.ctx.root
    (root / "etc/postfix/filter_checks").write_text(
        "/^Subject: scan me/ FILTER filter:dummy\n/^Subject: no colon/ FILTER filter\n")
    (root / "etc/postfix/filter_access").write_text("erin@example.com FILTER filter:dummy\n")
    assert pf.command("postmap", "/etc/postfix/filter_access").rc == 0
    script = FilterScript(net["mail.example.com"])
    try:
        plain = submit(net, ["alice@example.com"], b"Subject: plain\n\nhi\n")
        scanned = submit(net, ["alice@example.com"], b"Subject: scan me\n\nhi\n")
        bad = submit(net, ["alice@example.com"], b"Subject: no colon\n\nhi\n")
        net.run(until=net.now + 5)
        replies = net.run_sync(smtp_session(net["mail.example.com"], ["EHLO client.example", "MAIL FROM:<erin@example.com>",
                                                              "RCPT TO:<alice@example.com>", "DATA"],
                                    b"Subject: from erin\n\nhi\n"))
        by_access = replies[-1].rsplit(" ", 1)[1]
        net.run(until=net.now + 5)
        assert len(script.runs) == 2
        assert not any("relay=filter" in ln for ln in log_of(pf, plain) + log_of(pf, bad))
        assert any(ln.startswith("postfix/cleanup: filter: header Subject: scan me from "
                                 "localhost[127.0.0.1]; from=<bob@example.com> to=<alice@example.com> "
                                 "proto=ESMTP helo=<client.example>: filter:dummy") for ln in log_of(pf, scanned))
        assert any("relay=filter" in ln for ln in log_of(pf, scanned))
        assert any("warning: bad FILTER command filter in header_checks -- need transport:destination" in ln
                   for ln in pf.ctx.log.lines)
        assert any("relay=filter" in ln for ln in log_of(pf, by_access))
        assert any(ln.endswith("]: NOQUEUE: filter: RCPT from localhost[127.0.0.1]: <erin@example.com>: "
                               "Sender address triggers FILTER filter:dummy; from=<erin@example.com> "
                               "to=<alice@example.com> proto=ESMTP helo=<client.example>")
                   for ln in pf.ctx.log.lines)
        assert len(net["mail.example.com"].mailbox("alice")) == 4
    finally:
        net.run_sync(pf.stop())


def test_invalid_content_filter_is_ignored_with_a_warning(tmp_path: Path) -> None:
    net, pf = start(tmp_path, smtpd_opts="  -o content_filter=nocolon\n")
    try:
        qid = submit(net, ["alice@example.com"])
        net.run(until=net.now + 5)
        assert any(re.search(rf" postfix/cleanup\[\d+\]: warning: {qid}: ignoring invalid content filter: "
                             "nocolon$", ln) for ln in pf.ctx.log.lines)
        assert pf.store.find(qid) is None and not any("relay=nocolon" in ln for ln in log_of(pf, qid))
        assert len(net["mail.example.com"].mailbox("alice")) == 1
    finally:
        net.run_sync(pf.stop())


def test_filter_nexthop_defaults() -> None:
    from types import SimpleNamespace

    from simlab.postfix.qmgr.active import MessageJob
    settings = {"default_filter_nexthop": "", "myhostname": "mail.example.com"}
    job = MessageJob.__new__(MessageJob)
    job.ctx = SimpleNamespace(config=settings)
    assert job._filter_route("scan:[127.0.0.1]:10025", "a@b.example") == ("scan", "[127.0.0.1]:10025")
    assert job._filter_route("filter:", "a@b.example") == ("filter", "b.example")
    assert job._filter_route("filter", "user") == ("filter", "mail.example.com")
    settings["default_filter_nexthop"] = "[10.0.0.9]"
    assert job._filter_route("filter:", "a@b.example") == ("filter", "[10.0.0.9]")


def test_the_filter_record_opens_the_extracted_segment() -> None:
    from simlab.postfix.common import records as R
    from simlab.postfix.common.queue import QueueFile, Recipient, decode_queue_file, encode_queue_file
    qf = QueueFile("C086916052C", 1795527410.0, "bob@example.com",
                   [Recipient("alice@example.com", "alice@example.com"),
                    Recipient("erin@example.com", "erin@example.com", extracted=True)],
                   b"Subject: x\n\nbody\n", filter="scan:[127.0.0.1]:10025")
    data = encode_queue_file(qf)
    kinds = [t for t, _, _ in R.iter_raw(data)]
    tail = kinds[kinds.index(R.REC_TYPE_XTRA):]
    assert tail == [R.REC_TYPE_XTRA, R.REC_TYPE_FILT, R.REC_TYPE_ORCP, R.REC_TYPE_RCPT, R.REC_TYPE_END]
    back = decode_queue_file(data)
    assert back.filter == "scan:[127.0.0.1]:10025" and back.content == b"Subject: x\n\nbody\n"
    assert [(r.address, r.extracted) for r in back.recipients] == [("alice@example.com", False),
                                                                   ("erin@example.com", True)]
    assert R.REC_TYPE_FILT not in [t for t, _, _ in R.iter_raw(encode_queue_file(qf, maildrop=True))]
