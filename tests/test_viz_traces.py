"""Traces built by hand for the figure tests, and the trace readers (dialog framing, log parsing)."""

from __future__ import annotations

import time

from simlab.sim.trace import Trace
from simlab.viz.dialog import Framer, Line, guess_protocol, turns
from simlab.viz.tracedata import (conn_lines, connection, fmt_time, log_records, parse_log, queue_counts,
                                  queue_ids, queue_moves)

EPOCH = 1795527410.0
IPS = {"pc.example.com": "10.0.0.5", "mail.example.com": "10.0.0.25", "mail.oreilly.com": "10.0.0.26",
       "bobpc.oreilly.com": "10.0.0.6"}


class Script:
    """Writes trace events the way the simulation records them, at a clock that moves by ``step``."""

    def __init__(self, step: float = 0.001) -> None:
        self.trace = Trace()
        self.t = 0.0
        self.step = step
        self.nconn = 0

    def tick(self, dt: float | None = None) -> float:
        self.t = round(self.t + (self.step if dt is None else dt), 6)
        return self.t

    def dialog(self, client: str, server: str, port: int, lines: list[tuple[str, str]], *,
               server_component: str = "smtpd", client_component: str = "mua", closed_by: str = "C") -> str:
        """One connection; a ("C", "a\\nb") entry is one write holding two lines."""
        self.nconn += 1
        cid = f"c{self.nconn}"
        self.trace.record(self.tick(), client, client_component, "connect", conn=cid, client=client, server=server,
                          client_ip=IPS.get(client, "10.0.0.99"), server_ip=IPS.get(server, "10.0.0.98"),
                          port=port, server_component=server_component)
        for side, text in lines:
            host, comp = (client, client_component) if side == "C" else (server, server_component)
            data = text.replace("\n", "\r\n") + "\r\n"
            self.trace.record(self.tick(), host, comp, "send", conn=cid, side=side, data=data, bytes=len(data))
        host, comp = (client, client_component) if closed_by == "C" else (server, server_component)
        self.trace.record(self.tick(), host, comp, "close", conn=cid, side=closed_by)
        return cid

    def log(self, host: str, program: str, pid: int, text: str, dt: float | None = None) -> None:
        t = self.tick(dt)
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(int(EPOCH + t)))
        line = f"{stamp} {host.split('.')[0]} postfix/{program}[{pid}]: {text}"
        self.trace.record(t, host, program, "log", program=f"postfix/{program}", pid=pid, text=text, line=line)

    def queue(self, host: str, qid: str, src: str, dst: str, dt: float | None = None) -> None:
        self.trace.record(self.tick(dt), host, "queue", "queue", qid=qid, src=src, dst=dst)


def submission(s: Script, qid: str, client: str = "pc.example.com", server: str = "mail.example.com",
               port: int = 587, rcpts: tuple[str, ...] = ("bob@oreilly.com",), pipelined: bool = False) -> str:
    rc = [("C", f"RCPT TO:<{r}>") for r in rcpts]
    head = [("S", f"220 {server} ESMTP Postfix"), ("C", "EHLO pc.example.com"),
            ("S", f"250-{server}\n250-PIPELINING\n250-SIZE 10240000\n250 CHUNKING")]
    if pipelined:
        body = [("C", "\n".join(["MAIL FROM:<alice@example.com>"] + [c for _, c in rc] + ["DATA"])),
                ("S", "250 2.1.0 Ok"), *[("S", "250 2.1.5 Ok") for _ in rcpts],
                ("S", "354 End data with <CR><LF>.<CR><LF>")]
    else:
        body = [("C", "MAIL FROM:<alice@example.com>"), ("S", "250 2.1.0 Ok")]
        for r in rc:
            body += [r, ("S", "250 2.1.5 Ok")]
        body += [("C", "DATA"), ("S", "354 End data with <CR><LF>.<CR><LF>")]
    tail = [("C", "From: alice@example.com\nTo: bob@oreilly.com\nSubject: Hi\n\nHello Bob.\n."),
            ("S", f"250 2.0.0 Ok: queued as {qid}"), ("C", "QUIT"), ("S", "221 2.0.0 Bye")]
    return s.dialog(client, server, port, head + body + tail)


def journey() -> Script:
    """alice@pc -> mail.example.com (587) -> mail.oreilly.com (25) -> bob's mailbox -> POP3 on bobpc."""
    s = Script()
    a, b = "mail.example.com", "mail.oreilly.com"
    submission(s, "AAA1110001")
    s.log(a, "smtpd", 30259, "AAA1110001: client=pc.example.com[10.0.0.5]")
    s.log(a, "cleanup", 30264, "AAA1110001: message-id=<1@pc.example.com>")
    s.queue(a, "AAA1110001", "", "incoming")
    s.queue(a, "AAA1110001", "incoming", "active")
    s.log(a, "qmgr", 30206, "AAA1110001: from=<alice@example.com>, size=410, nrcpt=1 (queue active)")
    s.dialog(a, b, 25, [("S", f"220 {b} ESMTP Postfix"), ("C", f"EHLO {a}"), ("S", f"250-{b}\n250 PIPELINING"),
                        ("C", "MAIL FROM:<alice@example.com>"), ("S", "250 2.1.0 Ok"),
                        ("C", "RCPT TO:<bob@oreilly.com>"), ("S", "250 2.1.5 Ok"), ("C", "DATA"),
                        ("S", "354 End data with <CR><LF>.<CR><LF>"), ("C", "Subject: Hi\n\nHello Bob.\n."),
                        ("S", "250 2.0.0 Ok: queued as BBB2220002"), ("C", "QUIT"), ("S", "221 2.0.0 Bye")],
             client_component="smtp")
    s.log(b, "smtpd", 31000, "BBB2220002: client=mail.example.com[10.0.0.25]")
    s.queue(b, "BBB2220002", "", "incoming")
    s.log(a, "smtp", 30276, "AAA1110001: to=<bob@oreilly.com>, relay=mail.oreilly.com[10.0.0.26]:25, delay=0.02, "
          "delays=0/0/0.01/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as BBB2220002)")
    s.log(a, "qmgr", 30206, "AAA1110001: removed")
    s.queue(a, "AAA1110001", "active", "")
    s.queue(b, "BBB2220002", "incoming", "active")
    s.log(b, "qmgr", 31001, "BBB2220002: from=<alice@example.com>, size=600, nrcpt=1 (queue active)")
    s.log(b, "local", 31002, "BBB2220002: to=<bob@oreilly.com>, relay=local, delay=0.01, delays=0/0/0/0.01, "
          "dsn=2.0.0, status=sent (delivered to mailbox)")
    s.log(b, "qmgr", 31001, "BBB2220002: removed")
    s.queue(b, "BBB2220002", "active", "")
    s.tick(60)
    s.dialog("bobpc.oreilly.com", b, 110, [
        ("S", "+OK Dovecot ready."), ("C", "USER bob"), ("S", "+OK"), ("C", "PASS bob-pw"), ("S", "+OK Logged in."),
        ("C", "LIST"), ("S", "+OK 1 messages:\n1 600\n."), ("C", "RETR 1"),
        ("S", "+OK 600 octets\nSubject: Hi\n\nHello Bob.\n."), ("C", "QUIT"), ("S", "+OK Logging out.")],
        server_component="pop3d")
    return s


def deferral() -> Script:
    """One message deferred twice, then delivered; another bounced with a DSN."""
    s = Script()
    h = "mail.example.com"
    s.trace.record(0.0, h, "master", "process", program="qmgr", pid=30206, action="start")
    s.log(h, "smtpd", 30259, "D0D0D0D001: client=pc.example.com[10.0.0.5]")
    s.log(h, "cleanup", 30264, "D0D0D0D001: message-id=<d@pc.example.com>")
    s.queue(h, "D0D0D0D001", "", "incoming")
    s.queue(h, "D0D0D0D001", "incoming", "active")
    s.log(h, "qmgr", 30206, "D0D0D0D001: from=<alice@example.com>, size=410, nrcpt=1 (queue active)")
    for k, wait in enumerate((300.0, 600.0)):
        s.log(h, "smtp", 30276, "D0D0D0D001: to=<carol@deferred.example>, relay=none, delay=1, delays=0/0/1/0, "
              "dsn=4.4.1, status=deferred (connect to mx.deferred.example[10.0.0.9]:25: Connection refused)")
        s.queue(h, "D0D0D0D001", "active", "deferred")
        s.queue(h, "D0D0D0D001", "deferred", "active", dt=wait)
    s.log(h, "smtp", 30277, "D0D0D0D001: to=<carol@deferred.example>, relay=mx.deferred.example[10.0.0.9]:25, "
          "delay=901, delays=900/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as E1E1E1E1E1)")
    s.log(h, "qmgr", 30206, "D0D0D0D001: removed")
    s.queue(h, "D0D0D0D001", "active", "")
    s.log(h, "smtpd", 30259, "B0B0B0B002: client=pc.example.com[10.0.0.5]")
    s.queue(h, "B0B0B0B002", "", "incoming")
    s.queue(h, "B0B0B0B002", "incoming", "active")
    s.log(h, "qmgr", 30206, "B0B0B0B002: from=<alice@example.com>, size=410, nrcpt=1 (queue active)")
    s.log(h, "smtp", 30278, "B0B0B0B002: to=<user@bounce.example>, relay=127.0.0.1[127.0.0.1]:2528, delay=0.02, "
          "delays=0/0/0/0.01, dsn=5.3.0, status=bounced (host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: "
          "command failed (in reply to RCPT TO command))")
    s.log(h, "cleanup", 30264, "C0C0C0C003: message-id=<20261124133721.C0C0C0C003@mail.example.com>")
    s.queue(h, "C0C0C0C003", "", "incoming")
    s.queue(h, "C0C0C0C003", "incoming", "active")
    s.log(h, "qmgr", 30206, "C0C0C0C003: from=<>, size=2377, nrcpt=1 (queue active)")
    s.log(h, "bounce", 30284, "B0B0B0B002: sender non-delivery notification: C0C0C0C003")
    s.log(h, "qmgr", 30206, "B0B0B0B002: removed")
    s.queue(h, "B0B0B0B002", "active", "")
    s.log(h, "local", 30265, "C0C0C0C003: to=<alice@example.com>, relay=local, delay=0.01, delays=0.01/0/0/0, "
          "dsn=2.0.0, status=sent (delivered to mailbox)")
    s.log(h, "qmgr", 30206, "C0C0C0C003: removed")
    s.queue(h, "C0C0C0C003", "active", "")
    s.queue(h, "F0F0F0F004", "", "hold")
    return s


# -- tests of the readers -------------------------------------------------------------------
def _lines(pairs: list[tuple[str, str]]) -> list[Line]:
    return [Line((i, 0), i * 0.001, side, text) for i, (side, text) in enumerate(pairs)]


def test_smtp_turns_group_multiline_replies_and_message_content() -> None:
    s = Script()
    cid = submission(s, "Q1")
    ts = turns(conn_lines(s.trace, cid), "smtp")
    kinds = [(t.side, t.kind) for t in ts]
    assert kinds[:3] == [("S", "reply"), ("C", "command"), ("S", "reply")]
    assert ts[2].lines == ["250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250 CHUNKING"]
    content = [t for t in ts if t.kind == "content"]
    assert len(content) == 1 and content[0].lines[-1] == "." and content[0].lines[0] == "From: alice@example.com"
    queued = [t for t in ts if t.status == "250" and "queued" in t.lines[0]]
    assert queued[0].command == "."
    assert [t.status for t in ts if t.side == "S"] == ["220", "250", "250", "250", "354", "250", "221"]


def test_pipelined_commands_come_before_their_replies() -> None:
    s = Script()
    cid = submission(s, "Q2", rcpts=("a@x.example", "b@x.example"), pipelined=True)
    ts = turns(conn_lines(s.trace, cid), "smtp")
    order = [t.lines[0].split()[0] for t in ts]
    i = order.index("MAIL")
    assert order[i:i + 8] == ["MAIL", "RCPT", "RCPT", "DATA", "250", "250", "250", "354"]
    replies = {t.command: t.status for t in ts if t.side == "S"}
    assert replies["DATA"] == "354" and replies["RCPT TO:<b@x.example>"] == "250"


def test_lmtp_expects_one_reply_per_accepted_recipient() -> None:
    fr = Framer("lmtp")
    assert fr.server("220 store LMTP") is not None
    for cmd, rep in (("LHLO me", "250 store"), ("MAIL FROM:<a@x>", "250 Ok"), ("RCPT TO:<b@y>", "250 Ok"),
                     ("RCPT TO:<c@y>", "250 Ok"), ("RCPT TO:<d@y>", "550 no such user")):
        fr.client(cmd)
        assert fr.server(rep) is not None
    fr.client("DATA")
    assert fr.blocked()
    fr.server("354 go ahead")
    assert fr.client("hello") == "content" and fr.client(".") == "content-end"
    assert len(fr.pending) == 2


def test_pop3_multiline_depends_on_the_command() -> None:
    ts = turns(_lines([("S", "+OK ready"), ("C", "LIST"), ("S", "+OK 2 messages:"), ("S", "1 10"), ("S", "2 20"),
                       ("S", "."), ("C", "LIST 1"), ("S", "+OK 1 10"), ("C", "RETR 9"), ("S", "-ERR no such"),
                       ("C", "QUIT"), ("S", "+OK bye")]), "pop3")
    replies = [t for t in ts if t.side == "S"]
    assert [len(t.lines) for t in replies] == [1, 4, 1, 1, 1]
    assert [t.klass for t in replies] == ["2", "2", "2", "5", "2"]


def test_imap_untagged_lines_literals_and_continuations() -> None:
    pairs = [("S", "* OK [CAPABILITY IMAP4rev1] ready"), ("C", "a1 LOGIN erin pw"), ("S", "a1 OK Logged in"),
             ("C", "a2 FETCH 1 (BODY[])"), ("S", "* 1 FETCH (BODY[] {12}"), ("S", "a2 OK fake"), ("S", ")"),
             ("S", "a2 OK Fetch completed"), ("C", "c1 AUTHENTICATE PLAIN"), ("S", "+ "), ("C", "AGVyaW4A"),
             ("S", "c1 OK Logged in")]
    ts = turns(_lines(pairs), "imap")
    replies = [t for t in ts if t.side == "S"]
    assert replies[2].lines == ["* 1 FETCH (BODY[] {12}", "a2 OK fake", ")", "a2 OK Fetch completed"]
    assert [t.status for t in replies] == ["OK", "OK", "OK", "+", "OK"]
    assert [t.kind for t in ts if t.side == "C"] == ["command", "command", "command", "content"]


def test_guess_protocol() -> None:
    assert guess_protocol(2110, "x", "") == "pop3"
    assert guess_protocol(25, "lmtp", "220 x") == "lmtp"
    assert guess_protocol(9999, "", "* OK hi") == "imap"
    assert guess_protocol(25, "smtpd", "220 x") == "smtp"


def test_log_records_parse_postfix_fields() -> None:
    s = deferral()
    recs = log_records(s.trace, qid="B0B0B0B002")
    sent = [r for r in recs if r.status]
    assert sent[0].fields["to"] == "user@bounce.example" and sent[0].fields["dsn"] == "5.3.0"
    assert sent[0].status == "bounced" and sent[0].reason.startswith("host 127.0.0.1")
    q = [r for r in recs if r.program == "qmgr"][0]
    assert q.fields == {"from": "alice@example.com", "size": "410", "nrcpt": "1"}
    ev = s.trace.events("log")[0]
    assert parse_log(ev).qid == "D0D0D0D001"
    assert queue_ids(s.trace)[:3] == ["D0D0D0D001", "B0B0B0B002", "C0C0C0C003"]


def test_noqueue_and_warnings_have_no_queue_id() -> None:
    s = Script()
    s.log("h", "smtpd", 1, "NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1 <a@b>: Relay access denied")
    s.log("h", "smtpd", 1, "warning: hostname x does not resolve")
    s.log("h", "smtpd", 1, "4jYkSt3ryBzBrr3: client=localhost[127.0.0.1]")
    assert [r.qid for r in log_records(s.trace)] == ["", "", "4jYkSt3ryBzBrr3"]


def test_queue_counts_and_connection_facts() -> None:
    s = deferral()
    assert queue_counts(s.trace) == {"maildrop": 0, "incoming": 0, "active": 0, "deferred": 0, "hold": 1,
                                     "corrupt": 0}
    t_def = [m.time for m in queue_moves(s.trace) if m.dst == "deferred"][0]
    assert queue_counts(s.trace, at=t_def)["deferred"] == 1
    j = journey()
    info = connection(j.trace, "c3")
    assert (info.protocol, info.client, info.server, info.port, info.closed_by) == \
        ("pop3", "bobpc.oreilly.com", "mail.oreilly.com", 110, "C")
    assert fmt_time(0.0042) == "0.004 s" and fmt_time(330) == "5 min 30 s"
