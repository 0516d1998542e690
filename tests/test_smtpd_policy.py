"""check_policy_service: the policy delegation protocol, actions, connections, timeouts and failures."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Any, Callable

from postfix_lab import Lab, make_root
from simlab.postfix.common.context import PostfixContext, RealClock
from simlab.postfix.common.netaccess import RealNetAccess
from simlab.postfix.common.queue import QueueStore
from simlab.postfix.config import read_master_cf
from simlab.postfix.smtpd import make_smtpd_protocol

EHLO = "EHLO client.example\r\n"
POLICY = "check_policy_service inet:127.0.0.1:10040"


class PolicyServer:
    """A scripted policy server on the lab host: answer(attrs) -> action, or None to stay silent."""

    def __init__(self, lab: Lab, answer: Callable[[dict[str, str]], str | None], port: int = 10040) -> None:
        self.answer = answer
        self.requests: list[list[tuple[str, str]]] = []
        self.connections = 0
        lab.host.listen_streams(port, self.serve, component="policy", addr="127.0.0.1")

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        attrs: list[tuple[str, str]] = []
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw.decode().rstrip("\n")
            if line:
                name, _, value = line.partition("=")
                attrs.append((name, value))
                continue
            self.requests.append(attrs)
            action = self.answer(dict(attrs))
            attrs = []
            if action is not None:
                writer.write(f"action={action}\n\n".encode())
        writer.close()


def lab_with(tmp_path: Any, restrictions: str, extra: str = "") -> Lab:
    return Lab(tmp_path, f"smtpd_recipient_restrictions = {restrictions}\n{extra}")


def talk(lab: Lab, cmds: list[str], listener: str = "inside") -> list[str]:
    return [ln for ln in lab.run(lab.dialog(listener, cmds)) if not ln.startswith("250-")]


def log(lab: Lab) -> list[str]:
    return [ln.split(": ", 1)[1] for ln in lab.maillog() if "/smtpd[" in ln]


def log_times(lab: Lab, text: str) -> list[float]:
    return [e.time for e in lab.net.trace.events("log", host="mail.example.com") if text in e.details["text"]]


def envelope(*rcpts: str, sender: str = "bob@example.com") -> list[str]:
    return [EHLO, f"MAIL FROM:<{sender}>\r\n"] + [f"RCPT TO:<{r}>\r\n" for r in rcpts]


def test_policy_request_attributes_in_postfix_order(tmp_path):
    lab = lab_with(tmp_path, POLICY)
    server = PolicyServer(lab, lambda attrs: "DUNNO")
    lines = talk(lab, envelope("alice@example.com") + ["QUIT\r\n"])
    assert lines[2:4] == ["250 2.1.0 Ok", "250 2.1.5 Ok"]
    (request,) = server.requests
    assert [name for name, _ in request] == [
        "request", "protocol_state", "protocol_name", "client_address", "client_name", "client_port",
        "reverse_client_name", "server_address", "server_port", "helo_name", "sender", "recipient",
        "recipient_count", "queue_id", "instance", "size", "etrn_domain", "stress", "sasl_method",
        "sasl_username", "sasl_sender", "ccert_subject", "ccert_issuer", "ccert_fingerprint",
        "ccert_pubkey_fingerprint", "encryption_protocol", "encryption_cipher", "encryption_keysize",
        "policy_context"]
    attrs = dict(request)
    assert {k: attrs[k] for k in ("request", "protocol_state", "protocol_name", "client_address", "client_name",
                                  "reverse_client_name", "server_address", "server_port", "helo_name", "sender",
                                  "recipient", "recipient_count", "queue_id", "size")} == {
        "request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
        "client_address": "127.0.0.1", "client_name": "localhost", "reverse_client_name": "localhost",
        "server_address": "127.0.0.1", "server_port": "25", "helo_name": "client.example",
        "sender": "bob@example.com", "recipient": "alice@example.com", "recipient_count": "0",
        "queue_id": "", "size": "0"}
    assert re.fullmatch(r"[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+\.0", attrs["instance"])


def test_policy_one_connection_per_session_and_data_stage(tmp_path):
    lab = lab_with(tmp_path, POLICY, f"smtpd_data_restrictions = {POLICY}\n")
    server = PolicyServer(lab, lambda attrs: "DUNNO")
    lines = talk(lab, envelope("alice@example.com", "erin@example.com") +
                 ["DATA\r\n", "Subject: x\r\n\r\nhi\r\n.\r\n", "MAIL FROM:<bob@example.com>\r\n",
                  "RCPT TO:<alice@example.com>\r\n", "QUIT\r\n"])
    assert lines[5] == "354 End data with <CR><LF>.<CR><LF>" and lines[6].startswith("250 2.0.0 Ok: queued as ")
    assert server.connections == 1 and len(server.requests) == 4
    states = [(dict(r)["protocol_state"], dict(r)["recipient_count"], dict(r)["recipient"]) for r in server.requests]
    assert states == [("RCPT", "0", "alice@example.com"), ("RCPT", "0", "erin@example.com"),
                      ("DATA", "2", ""), ("RCPT", "0", "alice@example.com")]
    qid = lines[6].rsplit(" ", 1)[1]
    assert dict(server.requests[1])["queue_id"] == qid
    assert [dict(r)["instance"][-2:] for r in server.requests] == [".0", ".0", ".0", ".1"]
    lines = talk(lab, envelope("alice@example.com") + ["QUIT\r\n"])
    assert server.connections == 2                      # a new session, a new connection


def test_policy_actions_are_access_table_results(tmp_path):
    actions = {"ok@catchall.example": "OK", "rej@catchall.example": "REJECT go away",
               "code@catchall.example": "521 5.7.2 not here",
               "grey@catchall.example": "DEFER_IF_PERMIT 4.2.0 Greylisted",
               "dir@catchall.example": "DEFER_IF_REJECT 4.7.9 maybe later",
               "warn@catchall.example": "WARN look at this", "hold@catchall.example": "HOLD",
               "list@catchall.example": "permit_mynetworks, reject"}
    lab = lab_with(tmp_path, f"{POLICY}, reject")
    PolicyServer(lab, lambda attrs: actions.get(attrs["recipient"], "DUNNO"))
    lines = talk(lab, envelope(*actions) + ["QUIT\r\n"])
    assert lines[3:11] == [
        "250 2.1.5 Ok",
        "554 5.7.1 <rej@catchall.example>: Recipient address rejected: go away",
        "521 5.7.2 <code@catchall.example>: Recipient address rejected: not here",
        "554 5.7.1 <grey@catchall.example>: Recipient address rejected: Access denied",   # reject beats it
        "450 4.7.9 <dir@catchall.example>: Recipient address rejected: maybe later",
        "554 5.7.1 <warn@catchall.example>: Recipient address rejected: Access denied",
        "554 5.7.1 <hold@catchall.example>: Recipient address rejected: Access denied",
        "250 2.1.5 Ok"]
    text = log(lab)
    assert any("warn: RCPT from localhost[127.0.0.1]: look at this; from=<bob@example.com> "
               "to=<warn@catchall.example>" in ln for ln in text)
    assert any("hold: RCPT from localhost[127.0.0.1]: <hold@catchall.example>: Recipient address triggers HOLD "
               "action;" in ln for ln in text)


def test_policy_defer_if_permit_and_prepend(tmp_path):
    seen: dict[str, int] = {}

    def greylist(attrs: dict[str, str]) -> str:
        seen[attrs["recipient"]] = seen.get(attrs["recipient"], 0) + 1
        if seen[attrs["recipient"]] == 1:
            return "DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.example/"
        return "PREPEND X-Greylist: delayed by test"

    lab = lab_with(tmp_path, f"permit_sasl_authenticated, {POLICY}, permit_mynetworks")
    PolicyServer(lab, greylist)
    lines = talk(lab, envelope("alice@example.com") + ["QUIT\r\n"])
    assert lines[3] == "450 4.2.0 <alice@example.com>: Recipient address rejected: Greylisted, " \
                       "see http://postgrey.example/"
    assert any(ln.startswith("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 450 4.2.0 <alice@example.com>: "
                             "Recipient address rejected: Greylisted") for ln in log(lab))
    lines = talk(lab, envelope("alice@example.com") + ["DATA\r\n", "Subject: again\r\n\r\nhi\r\n.\r\n", "QUIT\r\n"])
    assert lines[3] == "250 2.1.5 Ok"
    qid = lines[5].rsplit(" ", 1)[1]
    content = QueueStore(lab.ctx).read("incoming", qid).content.decode()
    assert content.startswith("X-Greylist: delayed by test\nReceived: from client.example (localhost [127.0.0.1])")


def test_policy_server_down_is_a_configuration_problem(tmp_path):
    lab = lab_with(tmp_path, POLICY)
    lines = talk(lab, envelope("alice@example.com") + ["QUIT\r\n"])
    assert lines[3] == "451 4.3.5 <alice@example.com>: Recipient address rejected: Server configuration problem"
    warnings = [ln for ln in log(lab) if ln.startswith("warning:")]
    assert warnings == ["warning: connect to 127.0.0.1:10040: Connection refused",
                        "warning: problem talking to server 127.0.0.1:10040: Connection refused"] * 2
    first, second = log_times(lab, "warning: connect to 127.0.0.1:10040")
    assert second - first >= 1.0                          # smtpd_policy_service_retry_delay


def test_policy_timeout_and_default_action(tmp_path):
    lab = lab_with(tmp_path, POLICY, "smtpd_policy_service_timeout = 5s\n")
    server = PolicyServer(lab, lambda attrs: None)
    start = lab.net.now
    lines = talk(lab, envelope("alice@example.com") + ["QUIT\r\n"])
    assert lines[3] == "451 4.3.5 <alice@example.com>: Recipient address rejected: Server configuration problem"
    assert [ln for ln in log(lab) if ln.startswith("warning:")] == \
        ["warning: problem talking to server 127.0.0.1:10040: Connection timed out"] * 2
    (reject,) = log_times(lab, "NOQUEUE: reject: RCPT")
    assert reject - start >= 11                          # two tries of 5s and the retry delay
    assert server.connections == 2

    lab2 = lab_with(tmp_path / "2", "check_policy_service { inet:127.0.0.1:10040, timeout=2s, "
                                    "default_action=DUNNO }, reject")
    lines = talk(lab2, envelope("alice@example.com") + ["QUIT\r\n"])
    assert lines[3] == "554 5.7.1 <alice@example.com>: Recipient address rejected: Access denied"


def test_policy_unix_socket_under_serve(tmp_path):
    root = make_root(tmp_path, "smtpd_recipient_restrictions = check_policy_service unix:private/policy\n")
    ctx = PostfixContext.create(root, hostname="mail.example.com", clock=RealClock(), net=RealNetAccess())
    svc = next(s for s in read_master_cf(root / "etc/postfix") if s.name == "smtp")
    sock = root / "var/spool/postfix/private/policy"
    sock.parent.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []

    async def policy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readuntil(b"\n\n")
        requests.append(data.decode())
        writer.write(b"action=REJECT not via unix\n\n")
        await writer.drain()
        writer.close()

    async def main() -> list[str]:
        loop = asyncio.get_running_loop()
        dirfd = os.open(sock.parent, os.O_RDONLY)         # the path may be too long for AF_UNIX
        policy_server = await asyncio.start_unix_server(policy, f"/proc/self/fd/{dirfd}/policy")
        os.close(dirfd)
        server = await loop.create_server(make_smtpd_protocol(ctx, svc), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lines = [(await reader.readline()).decode()]
        for cmd in ["HELO client.example", "MAIL FROM:<bob@example.com>", "RCPT TO:<alice@example.com>", "QUIT"]:
            writer.write(cmd.encode() + b"\r\n")
            lines.append((await asyncio.wait_for(reader.readline(), 10)).decode())
        writer.close()
        for s in (server, policy_server):
            s.close()
            await s.wait_closed()
        return [ln.rstrip("\r\n") for ln in lines]

    lines = asyncio.run(main())
    assert lines[3] == "554 5.7.1 <alice@example.com>: Recipient address rejected: not via unix"
    assert requests and requests[0].startswith("request=smtpd_access_policy\nprotocol_state=RCPT\n"
                                               "protocol_name=SMTP\n")
