"""pipe(8): master.cf attributes, argv macros, mail_copy flags, sysexits verdicts, delivery."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from simlab.postfix.bounce import read_log
from simlab.postfix.commands_registry import CommandResult, CommandRun, register_command, run_command
from simlab.postfix.common.queue import QueueFile, QueueStore, Recipient, new_queue_id
from simlab.postfix.config import MasterService
from simlab.postfix.pipe import PipeConfigError, deliver, expand_argv, judge, mail_copy, parse_attrs
from simlab.postfix.qmgr import DeliveryRequest
from simlab.postfix.system import PostfixSystem
from simlab.sim.network import Network
from simlab.sim.rootfs import init_root

LABPIPE = ["flags=FRq", "user=nobody", "argv=/usr/local/bin/lab-pipe", "${sender}", "${recipient}",
           "${nexthop}", "${user}", "${extension}"]
CONTENT = b"From: <bob@example.com>\nTo: <robot@example.com>\nSubject: pipe\n\n.dot\nFrom here\nbody\n"


def R(address: str, orig: str = "") -> Recipient:
    return Recipient(address, orig or address)


# -- attributes and argv ----------------------------------------------------------------------
def test_pipe_attrs_parse_and_errors() -> None:
    a = parse_attrs(LABPIPE)
    assert (a.flags, a.user, a.command[0]) == ("FRq", "nobody", "/usr/local/bin/lab-pipe")
    a = parse_attrs(["user=nobody:nogroup", "eol=\\r\\n", "size=100", "null_sender=", "argv=/bin/cat"])
    assert (a.group, a.eol, a.size_limit, a.null_sender) == ("nogroup", "\r\n", 100, "")
    for bad, text in [(["argv=/bin/cat"], "missing user= command-line attribute"),
                      (["user=nobody"], "missing argv= command-line attribute"),
                      (["flags=Z", "user=nobody", "argv=/bin/cat"], "unknown flag: Z (ignored)"),
                      (["user=nobody", "bogus=1", "argv=/bin/cat"], "unknown attribute name: bogus=1")]:
        with pytest.raises(PipeConfigError, match=text.replace("(", r"\(").replace(")", r"\)")):
            parse_attrs(bad)


def test_pipe_argv_expands_per_recipient_with_quoting_and_folding() -> None:
    a = parse_attrs(["flags=q", "user=nobody", "argv=/x", "-f", "$sender", "--", "${recipient}"])
    values = {"sender": '"first last"@example.com', "nexthop": "example.com"}
    argv = expand_argv(a, values, [R("a b@Example.COM"), R("c@example.com")], "+")
    assert argv == ["/x", "-f", '"first last"@example.com', "--", '"a b"@Example.COM', "c@example.com"]
    a = parse_attrs(["flags=hu", "user=nobody", "argv=/x", "$(user)/${extension}", "${domain}",
                     "${mailbox}", "${original_recipient}", "$$5", "${nexthop}"])
    argv = expand_argv(a, {"nexthop": "mx.example.com"},
                       [R("Robot+Ext@Example.COM", "Bot@Example.COM"), R("+plus@example.com")], "+")
    assert argv == ["/x", "robot/ext", "+plus/", "example.com", "example.com", "robot+ext", "+plus",
                    "bot@example.com", "+plus@example.com", "$5", "mx.example.com"]
    a = parse_attrs(["user=nobody", "argv=/x", "${user}", "${extension}"])
    assert expand_argv(a, {}, [R("@example.com"), R("owner-list@example.com"), R("postmaster+x@e")],
                       "+-") == ["/x", "owner-list", "postmaster", "", "", "x"]
    with pytest.raises(PipeConfigError, match='unknown macro name: "bogus"'):
        expand_argv(parse_attrs(["user=nobody", "argv=/x", "${bogus}"]), {}, [R("a@b")])


# -- what the command reads, and what its exit status means -----------------------------------
def test_mail_copy_flags() -> None:
    a = parse_attrs(["flags=FRq", "user=nobody", "argv=/x"])
    out = mail_copy(CONTENT, "bob@example.com", "robot@example.com", "robot@example.com", a, 1795527441.0)
    assert out.startswith(b"From bob@example.com  Tue Nov 24 13:37:21 2026\nReturn-Path: <bob@example.com>\n"
                          b"From: <bob@example.com>\n")
    assert b"Delivered-To" not in out and out.endswith(b"\n.dot\nFrom here\nbody\n")
    a = parse_attrs(["flags=DOB.>", "eol=\\r\\n", "user=nobody", "argv=/x"])
    out = mail_copy(CONTENT, "", "Team@Example.com", "Alice@Example.COM", a, 0.0)
    assert out.startswith(b"X-Original-To: Team@Example.com\r\nDelivered-To: alice@example.com\r\n")
    assert out.endswith(b"\r\n..dot\r\n>From here\r\nbody\r\n\r\n")
    a = parse_attrs(["flags=FR", "user=nobody", "argv=/x"])
    empty = mail_copy(b"", "", "", "", a, 0.0)
    assert empty.startswith(b"From MAILER-DAEMON  Thu Jan  1 00:00:00 1970\nReturn-Path: <>\n")  # asctime(3)


@pytest.mark.parametrize("status, output, dsn, verdict, text", [
    (0, b"", "2.0.0", "sent", "delivered via labpipe service"),
    (75, b"", "4.3.0", "deferred", "temporary failure"),
    (67, b"no such user\n", "5.1.1", "bounced", "user unknown. Command output: no such user "),
    (71, b"", "4.3.0", "deferred", "system resource problem"),
    (78, b"", "5.3.5", "bounced", "local configuration error"),
    (1, b"", "5.3.0", "bounced", 'Command died with status 1: "/usr/local/bin/lab-pipe"'),
    (1, b"4.2.2 mailbox full\n", "4.2.2", "deferred", "mailbox full "),
    (2, b"tab\there\x01", "5.3.0", "bounced",
     'Command died with status 2: "/usr/local/bin/lab-pipe". Command output: tab here_'),
    (-9, b"", "4.3.0", "deferred", 'Command died with signal 9: "/usr/local/bin/lab-pipe"'),
])
def test_pipe_judge_sysexits(status: int, output: bytes, dsn: str, verdict: str, text: str) -> None:
    v = judge(CommandResult(status, output), "labpipe", "/usr/local/bin/lab-pipe")
    assert (v.dsn, v.status, v.reason) == (dsn, verdict, text)
    t = judge(CommandResult(-9, b"", timed_out=True), "labpipe", "/x")
    assert (t.status, t.reason) == ("bounced", 'Command time limit exceeded: "/x"')


# -- delivery on a simulated host ----------------------------------------------------------------
class PipeLab:
    def __init__(self) -> None:
        self.net = Network(seed=5)
        self.host = self.net.host("mail.example.com", ip="10.0.0.25")
        init_root(self.host.root, "mail.example.com")
        self.ctx = PostfixSystem.for_host(self.host).ctx
        self.store = QueueStore(self.ctx)
        self.runs: list[CommandRun] = []

    def service(self, args: list[str], name: str = "labpipe") -> MasterService:
        return MasterService(name, "unix", True, False, False, 0, None, "pipe", args)

    def deliver(self, args: list[str], rcpts: list[Recipient], content: bytes = CONTENT,
                sender: str = "bob@example.com") -> tuple[str, list[Any]]:
        qid = new_queue_id(self.ctx)
        self.store.write("active", QueueFile(qid, self.ctx.now(), sender, rcpts, content))
        qf = self.store.read("active", qid)
        req = DeliveryRequest(qid=qid, queue="active", sender=sender, nexthop="example.com",
                              recipients=tuple(qf.recipients), transport="labpipe",
                              arrival=qf.arrival, attrs={})
        return qid, self.net.run_sync(deliver(self.ctx, self.service(args), req))

    def log(self) -> list[str]:
        return [line.split(": ", 1)[1] for line in self.ctx.log.lines]


@pytest.fixture
def plab() -> Any:
    lab = PipeLab()

    @register_command(lab.host, "/usr/local/bin/lab-pipe")
    async def lab_pipe(run: CommandRun) -> int:
        lab.runs.append(run)
        out = run.path("/var/spool/labpipe/msg.1")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(f"argv: {' '.join(run.argv[1:])}\nuid: {run.user}\n----\n".encode() + run.stdin)
        code = run.env.get("EXIT")
        await asyncio.sleep(0.5)
        return int(code) if code else 0

    yield lab
    lab.net.close()


def test_pipe_delivers_to_a_registered_command(plab: PipeLab) -> None:
    qid, (st,) = plab.deliver(LABPIPE, [R("robot+ext@example.com", "robot+ext@example.com")])
    assert (st.status, st.dsn, st.reason) == ("sent", "2.0.0", "delivered via labpipe service")
    line = next(x for x in plab.log() if "to=<robot+ext@example.com>" in x)
    assert line.startswith(f"{qid}: to=<robot+ext@example.com>, relay=labpipe, delay=0.5, ")
    assert line.endswith("dsn=2.0.0, status=sent (delivered via labpipe service)")
    assert plab.ctx.log.lines[-1].split()[4].startswith("postfix/pipe[")
    text = plab.host.path("/var/spool/labpipe/msg.1").read_text()
    assert text.startswith("argv: bob@example.com robot+ext@example.com example.com robot ext\nuid: nobody\n"
                           "----\nFrom bob@example.com  Tue Nov 24 13:36:50 2026\nReturn-Path: <bob@example.com>\n")


def test_pipe_exit_75_defers_and_67_bounces(plab: PipeLab) -> None:
    def tempfail(run: CommandRun) -> int:
        run.print("try later")
        return 75

    register_command(plab.host, "/usr/local/bin/flaky", tempfail)
    qid, (st,) = plab.deliver(["user=nobody", "argv=/usr/local/bin/flaky"], [R("u@example.com")])
    assert (st.status, st.dsn, st.reason) == ("deferred", "4.3.0", "temporary failure. Command output: try later ")
    assert read_log(plab.ctx, "defer", qid)[0].reason == st.reason
    register_command(plab.host, "/usr/local/bin/nouser", lambda run: 67)
    qid, (st,) = plab.deliver(["user=nobody", "argv=/usr/local/bin/nouser"], [R("u@example.com")])
    assert (st.status, st.dsn, st.reason) == ("bounced", "5.1.1", "user unknown")
    assert read_log(plab.ctx, "bounce", qid)[0].status == "5.1.1"


def test_pipe_configuration_and_loop_errors(plab: PipeLab) -> None:
    args = ["flags=D", "user=nobody", "argv=/usr/local/bin/lab-pipe", "${recipient}"]
    qid, sts = plab.deliver(args, [R("a@example.com"), R("b@example.com")])
    assert {(s.status, s.dsn, s.reason) for s in sts} == {("deferred", "4.3.5", "mail system configuration error")}
    assert "warning: pipe flag `D' requires labpipe_destination_recipient_limit = 1" in plab.log()
    looped = b"Delivered-To: a@example.com\n" + CONTENT
    qid, (st,) = plab.deliver(args, [R("a@example.com")], content=looped)
    assert (st.status, st.dsn, st.reason) == ("bounced", "5.4.6", "mail forwarding loop for a@example.com")
    qid, (st,) = plab.deliver(["user=root", "argv=/bin/true"], [R("a@example.com")])
    assert st.status == "deferred" and "fatal: user= command-line attribute specifies root privileges" in plab.log()
    qid, (st,) = plab.deliver(["user=nobody", "size=10", "argv=/bin/true"], [R("a@example.com")])
    assert (st.status, st.dsn, st.reason) == ("bounced", "5.2.3", "message too large")
    qid, (st,) = plab.deliver(["user=nobody", "argv=/usr/local/bin/missing"], [R("a@example.com")])
    assert (st.status, st.dsn) == ("bounced", "5.3.0")
    assert st.reason == ('Command died with status 1: "/usr/local/bin/missing". Command output: pipe: fatal: '
                         "pipe_command: execvp /usr/local/bin/missing: No such file or directory ")
    assert not plab.runs


def test_pipe_time_limit_in_virtual_time(plab: PipeLab) -> None:
    async def slow(run: CommandRun) -> int:
        await asyncio.sleep(5000)
        return 0

    register_command(plab.host, "/usr/local/bin/slow", slow)
    t0 = plab.net.now
    qid, (st,) = plab.deliver(["user=nobody", "argv=/usr/local/bin/slow"], [R("a@example.com")])
    assert st.reason == 'Command time limit exceeded: "/usr/local/bin/slow"' and plab.net.now - t0 == 1000


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell")
def test_run_command_runs_a_real_program_under_serve(tmp_path: Path) -> None:
    ctx = SimpleNamespace(root=tmp_path, now=lambda: 0.0, path=lambda p: tmp_path / p.lstrip("/"))
    result = asyncio.run(run_command(ctx, ["/bin/sh", "-c", "cat; echo oops >&2; exit 75"],
                                     stdin=b"hello\n", real=True, time_limit=30))
    assert result.status == 75 and result.output == b"hello\noops\n"
    assert judge(result, "x", "/bin/sh").status == "deferred"
