"""smtpd access restrictions: access tables, FQDN checks, soft_bounce, warn_if_reject, delay_reject."""

from __future__ import annotations

from postfix_lab import Lab

EHLO = "EHLO client.example\r\n"


def talk(lab: Lab, listener: str, cmds: list[str]) -> list[str]:
    return [ln for ln in lab.run(lab.dialog(listener, cmds)) if not ln.startswith("250-")]


def log(lab: Lab) -> list[str]:
    return [ln.split(": ", 1)[1] for ln in lab.maillog() if "/smtpd[" in ln]


def envelope(sender: str, *rcpts: str) -> list[str]:
    return [EHLO, f"MAIL FROM:<{sender}>\r\n"] + [f"RCPT TO:<{r}>\r\n" for r in rcpts] + ["QUIT\r\n"]


def test_smtpd_sender_access_rejects_at_rcpt_time(tmp_path):
    lab = Lab(tmp_path, "smtpd_sender_restrictions = check_sender_access inline:{ spam@bad.example=REJECT,"
                        " { worse.example=550 5.7.0 go away } }\n")
    lines = talk(lab, "inside", envelope("spam@bad.example", "alice@example.com"))
    assert lines[2:4] == ["250 2.1.0 Ok", "554 5.7.1 <spam@bad.example>: Sender address rejected: Access denied"]
    assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <spam@bad.example>: Sender address " \
           "rejected: Access denied; from=<spam@bad.example> to=<alice@example.com> proto=ESMTP " \
           "helo=<client.example>" in log(lab)
    lines = talk(lab, "inside", envelope("x@worse.example", "alice@example.com"))
    assert lines[3] == "550 5.7.0 <x@worse.example>: Sender address rejected: go away"


def test_smtpd_no_delay_reject_refuses_at_mail(tmp_path):
    lab = Lab(tmp_path, "smtpd_delay_reject = no\n"
                        "smtpd_sender_restrictions = check_sender_access inline:{ spam@bad.example=REJECT }\n")
    lines = talk(lab, "inside", envelope("spam@bad.example", "alice@example.com"))
    assert lines[2] == "554 5.7.1 <spam@bad.example>: Sender address rejected: Access denied"
    assert lines[3] == "503 5.5.1 Error: need MAIL command"


def test_smtpd_helo_and_fqdn_restrictions(tmp_path):
    lab = Lab(tmp_path, "smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname\n"
                        "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n")
    lines = talk(lab, "inside", ["EHLO bad_helo!\r\n", "MAIL FROM:<bob@example.com>\r\n",
                                 "RCPT TO:<alice@example.com>\r\n", "EHLO client\r\n",
                                 "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                                 "EHLO client.example\r\n", "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice>\r\n",
                                 "QUIT\r\n"])
    assert "501 5.5.2 <bad_helo!>: Helo command rejected: Invalid name" in lines
    assert "504 5.5.2 <client>: Helo command rejected: need fully-qualified hostname" in lines
    assert "504 5.5.2 <alice>: Recipient address rejected: need fully-qualified address" in lines


def test_smtpd_soft_bounce_turns_5xx_into_4xx(tmp_path):
    lab = Lab(tmp_path, "soft_bounce = yes\n")
    lines = talk(lab, "inside", envelope("bob@example.com", "nosuch@example.com"))
    assert lines[3] == "450 4.1.1 <nosuch@example.com>: Recipient address rejected: User unknown in local " \
                       "recipient table"


def test_smtpd_warn_if_reject_only_logs(tmp_path):
    lab = Lab(tmp_path, "smtpd_recipient_restrictions = warn_if_reject reject_non_fqdn_recipient\n")
    lines = talk(lab, "inside", envelope("bob@example.com", "alice"))
    assert lines[3] == "250 2.1.5 Ok"
    assert any(x.endswith("reject_warning: RCPT from localhost[127.0.0.1]: 504 5.5.2 <alice>: Recipient address "
                          "rejected: need fully-qualified address; from=<bob@example.com> to=<alice> proto=ESMTP "
                          "helo=<client.example>") for x in log(lab))


def test_smtpd_unknown_restriction_is_a_configuration_error(tmp_path):
    lab = Lab(tmp_path, "smtpd_recipient_restrictions = reject_everything_please\n")
    lines = talk(lab, "inside", envelope("bob@example.com", "alice@example.com"))
    assert lines[3] == "451 4.3.5 Server configuration error"
    assert 'warning: unknown smtpd restriction: "reject_everything_please"' in log(lab)


def test_smtpd_restriction_class_and_permit(tmp_path):
    lab = Lab(tmp_path, "smtpd_restriction_classes = strict_rcpt\nstrict_rcpt = reject\n"
                        "smtpd_recipient_restrictions = check_recipient_access inline:{ bob@example.com=strict_rcpt }"
                        " permit\n")
    lines = talk(lab, "inside", envelope("x@example.com", "bob@example.com", "alice@example.com"))
    assert lines[3:5] == ["554 5.7.1 <bob@example.com>: Recipient address rejected: Access denied",
                          "250 2.1.5 Ok"]


def test_smtpd_mynetworks_decides_relay(tmp_path):
    lab = Lab(tmp_path, "mynetworks = 10.9.9.0/24\n")
    lines = talk(lab, "inside", envelope("bob@example.com", "x@relay.example", "x@other.example"))
    assert lines[3:5] == ["250 2.1.5 Ok", "454 4.7.1 <x@other.example>: Relay access denied"]
