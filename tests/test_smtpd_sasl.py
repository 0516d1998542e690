"""AUTH PLAIN/LOGIN with smtpd_sasl_auth_enable = yes, against /etc/dovecot/users."""

from __future__ import annotations

import base64
import re

from postfix_lab import Lab

EHLO = "EHLO client.example\r\n"
SASL = "smtpd_sasl_auth_enable = yes\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_smtpd_sasl_plain_then_relay(tmp_path):
    lab = Lab(tmp_path, SASL)
    lines = lab.run(lab.dialog("outside", [
        EHLO, "MAIL FROM:<alice@example.com>\r\n", "RCPT TO:<x@somewhere.example>\r\n", "RSET\r\n",
        f"AUTH PLAIN {b64(chr(0) + 'alice' + chr(0) + 'alice-pw')}\r\n", "AUTH PLAIN\r\n",
        "MAIL FROM:<alice@example.com>\r\n", "RCPT TO:<x@relay.example>\r\n", "RCPT TO:<x@other.example>\r\n",
        "DATA\r\n", "Subject: hi\r\n\r\nx\r\n.\r\n", "QUIT\r\n"]))
    assert "250-AUTH PLAIN LOGIN" in lines
    tail = [ln for ln in lines if not ln.startswith("250-")][2:]
    assert tail[:8] == ["250 2.1.0 Ok", "454 4.7.1 <x@somewhere.example>: Relay access denied", "250 2.0.0 Ok",
                        "235 2.7.0 Authentication successful", "503 5.5.1 Error: already authenticated",
                        "250 2.1.0 Ok", "250 2.1.5 Ok",
                        "550 5.1.1 <x@other.example>: Recipient address rejected: no outbound in this lab"]
    log = "\n".join(lab.maillog())
    assert re.search(r"outside/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, "
                     r"sasl_username=alice$", log, re.M)
    from simlab.postfix.common.queue import QueueStore
    qs = QueueStore(lab.ctx)
    [qid] = qs.list("incoming")
    assert f"with ESMTPA id {qid}" in qs.read("incoming", qid).content.decode()


def test_smtpd_sasl_login_wrong_password_and_abort(tmp_path):
    lab = Lab(tmp_path, SASL)
    lines = lab.run(lab.dialog("inside", [
        EHLO, "AUTH LOGIN\r\n", None, b64("bob") + "\r\n", b64("wrong") + "\r\n",
        "AUTH LOGIN\r\n", "*\r\n", "AUTH CRAM-MD5\r\n", "AUTH LOGIN " + b64("bob") + "\r\n",
        b64("bob-pw") + "\r\n", "QUIT\r\n"]))
    tail = [ln for ln in lines if not ln.startswith("250-")][2:]
    assert tail == ["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6",
                    "535 5.7.8 Error: authentication failed: authentication failure",
                    "334 VXNlcm5hbWU6", "501 5.7.0 Authentication aborted",
                    "535 5.7.8 Error: authentication failed: Invalid authentication mechanism",
                    "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful", "221 2.0.0 Bye"]
    assert any("warning: localhost[127.0.0.1]: SASL LOGIN authentication failed" in ln for ln in lab.maillog())


def test_smtpd_auth_not_enabled_by_default(tmp_path):
    lab = Lab(tmp_path)
    lines = lab.run(lab.dialog("inside", [EHLO, "AUTH PLAIN AGFsaWNlAGFsaWNlLXB3\r\n", "QUIT\r\n"]))
    assert not any(ln.startswith("250-AUTH") for ln in lines)
    assert "503 5.5.1 Error: authentication not enabled" in lines
