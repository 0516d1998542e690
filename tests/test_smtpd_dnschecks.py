"""smtpd restrictions that ask the DNS (DNSBLs, unknown names, permit_mx_backup) and the deferring ones
(defer_if_permit, defer_if_reject, DEFER_IF_* and PREPEND actions, reject_unauth_pipelining)."""

from __future__ import annotations

from postfix_lab import Lab
from simlab.dns.zone import Record
from simlab.postfix.common.queue import QueueStore

EHLO = "EHLO client.example\r\n"


def talk(lab: Lab, cmds: list[str], listener: str = "inside") -> list[str]:
    return [ln for ln in lab.run(lab.dialog(listener, cmds)) if not ln.startswith("250-")]


def log(lab: Lab) -> list[str]:
    return [ln.split(": ", 1)[1] for ln in lab.maillog() if "/smtpd[" in ln]


def envelope(sender: str, *rcpts: str, helo: str = EHLO) -> list[str]:
    return [helo, f"MAIL FROM:<{sender}>\r\n"] + [f"RCPT TO:<{r}>\r\n" for r in rcpts] + ["QUIT\r\n"]


# -- DNS block lists ------------------------------------------------------------------------------
def test_reject_rbl_client_with_postfix_reply(tmp_path):
    lab = Lab(tmp_path, "smtpd_client_restrictions = reject_rbl_client zen.example\n")
    lab.net.dns.a("1.0.0.127.zen.example", "127.0.0.2", ptr=False)
    lab.net.dns.txt("1.0.0.127.zen.example", "https://zen.example/query/ip/127.0.0.1")
    lines = talk(lab, envelope("bob@example.com", "alice@example.com"))
    assert lines[3] == "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example; " \
                       "https://zen.example/query/ip/127.0.0.1"
    assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 Service unavailable; Client host " \
           "[127.0.0.1] blocked using zen.example; https://zen.example/query/ip/127.0.0.1; " \
           "from=<bob@example.com> to=<alice@example.com> proto=ESMTP helo=<client.example>" in log(lab)
    lab.net.dns.remove("1.0.0.127.zen.example", "TXT")
    assert talk(lab, envelope("bob@example.com", "alice@example.com"))[3] == \
        "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example"


def test_rbl_reply_pattern_templates_and_lookup_errors(tmp_path):
    lab = Lab(tmp_path, "smtpd_client_restrictions = reject_rbl_client zen.example=127.0.0.[4..11],"
                        " reject_rbl_client bl.example\n"
                        "rbl_reply_maps = inline:{ {bl.example = 521 4.7.0 $$client_address is on $$rbl_domain "
                        "($${rbl_reason?$$rbl_reason}) for $$sender_domain} }\n")     # $$: not main.cf's
    lab.net.dns.a("1.0.0.127.zen.example", "127.0.0.2", ptr=False)       # not in the pattern: not listed
    lab.net.dns.a("1.0.0.127.bl.example", "127.0.0.2", ptr=False)
    lab.net.dns.txt("1.0.0.127.bl.example", "spam")
    assert talk(lab, envelope("bob@example.com", "alice@example.com"))[3] == \
        "521 5.7.0 127.0.0.1 is on bl.example (spam) for example.com"
    lab.net.dns.remove("1.0.0.127.bl.example")
    lab.net.dns.a("1.0.0.127.zen.example", "127.0.0.10", ptr=False)
    assert talk(lab, envelope("bob@example.com", "alice@example.com"))[3].startswith(
        "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example")
    lab.net.dns.break_zone("zen.example")
    assert talk(lab, envelope("bob@example.com", "alice@example.com"))[3] == "250 2.1.5 Ok"
    assert "warning: 1.0.0.127.zen.example: RBL lookup error: Host or domain name not found. Name service " \
           "error for name=1.0.0.127.zen.example type=A: Host not found, try again" in log(lab)


def test_rhsbl_sender_helo_and_dnswl(tmp_path):
    lab = Lab(tmp_path, "smtpd_sender_restrictions = reject_rhsbl_sender dbl.example\n"
                        "smtpd_helo_restrictions = permit_dnswl_client wl.example, reject_rhsbl_helo dbl.example\n")
    lab.net.dns.a("spam.example.dbl.example", "127.0.1.2", ptr=False)
    lines = talk(lab, envelope("x@spam.example", "alice@example.com"))
    assert lines[3] == "554 5.7.1 Service unavailable; Sender address [x@spam.example] blocked using dbl.example"
    lines = talk(lab, envelope("bob@example.com", "alice@example.com", helo="EHLO spam.example\r\n"))
    assert lines[3] == "554 5.7.1 Service unavailable; Helo command [spam.example] blocked using dbl.example"
    lab.net.dns.a("1.0.0.127.wl.example", "127.0.0.2", ptr=False)
    lines = talk(lab, envelope("bob@example.com", "alice@example.com", helo="EHLO spam.example\r\n"))
    assert lines[3] == "250 2.1.5 Ok"


# -- names that do not exist -----------------------------------------------------------------------
def test_reject_unknown_helo_and_domains(tmp_path):
    lab = Lab(tmp_path, "smtpd_helo_restrictions = reject_unknown_helo_hostname\n"
                        "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                        "smtpd_recipient_restrictions = reject_unknown_recipient_domain\n"
                        "unknown_address_reject_code = 550\n")
    lab.net.dns.a("known.example", "192.0.2.1")
    lab.net.dns.mx("nomail.example", ".", pref=0)
    lines = talk(lab, envelope("bob@example.com", "alice@example.com", helo="EHLO nosuch.example\r\n"))
    assert lines[3] == "450 4.7.1 <nosuch.example>: Helo command rejected: Host not found"
    helo = "EHLO known.example\r\n"
    assert talk(lab, envelope("x@nosuch.example", "alice@example.com", helo=helo))[3] == \
        "550 5.1.8 <x@nosuch.example>: Sender address rejected: Domain not found"
    assert talk(lab, envelope("x@nomail.example", "alice@example.com", helo=helo))[3] == \
        "550 5.7.27 <x@nomail.example>: Sender address rejected: Domain nomail.example does not accept " \
        "mail (nullMX)"
    assert talk(lab, envelope("x@known.example", "y@nosuch.example", helo=helo))[3] == \
        "550 5.1.2 <y@nosuch.example>: Recipient address rejected: Domain not found"
    assert talk(lab, envelope("x@known.example", "alice@example.com", helo=helo))[3] == "250 2.1.5 Ok"


def test_unknown_domain_lookup_failure_defers_only_a_permit(tmp_path):
    lab = Lab(tmp_path, "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                        "smtpd_recipient_restrictions = check_recipient_access inline:{ nobody@example.com=REJECT }\n")
    lab.net.dns.a("flaky.example", "192.0.2.7")
    lab.net.dns.break_zone("flaky.example")
    lines = talk(lab, envelope("x@flaky.example", "alice@example.com", "nobody@example.com"))
    assert lines[3] == "450 4.1.8 <x@flaky.example>: Sender address rejected: Domain not found"
    assert lines[4] == "554 5.7.1 <nobody@example.com>: Recipient address rejected: Access denied"
    lab = Lab(tmp_path / "2", "smtpd_sender_restrictions = reject_unknown_sender_domain\n"
                              "unknown_address_tempfail_action = defer\n"
                              "smtpd_recipient_restrictions = "
                              "check_recipient_access inline:{ nobody@example.com=REJECT }\n")
    lab.net.dns.a("flaky.example", "192.0.2.7")
    lab.net.dns.break_zone("flaky.example")
    lines = talk(lab, envelope("x@flaky.example", "nobody@example.com"))
    assert lines[3] == "450 4.1.8 <x@flaky.example>: Sender address rejected: Domain not found"


def test_reject_unknown_client_hostnames(tmp_path):
    lab = Lab(tmp_path, "smtpd_client_restrictions = reject_unknown_reverse_client_hostname, "
                        "reject_unknown_client_hostname\nunknown_client_reject_code = 550\n")
    lab.ctx.path("/etc/hosts").write_text("10.0.0.25 mail.example.com mail\n")
    lines = talk(lab, envelope("bob@example.com", "alice@example.com"))
    assert lines[3] == "550 5.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.1]"
    lab.net.dns.a("forged.example", "192.0.2.9", ptr=False)
    lab.net.dns.add(Record("1.0.0.127.in-addr.arpa", "PTR", "forged.example"))
    lines = talk(lab, envelope("bob@example.com", "alice@example.com"))
    assert lines[3] == "550 5.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]"
    assert "warning: hostname forged.example does not resolve to address 127.0.0.1" in log(lab)
    assert any(ln.startswith("connect from unknown[127.0.0.1]") for ln in log(lab))


# -- permit_mx_backup -----------------------------------------------------------------------------
def test_permit_mx_backup(tmp_path):
    lab = Lab(tmp_path, "smtpd_relay_restrictions = permit_mx_backup, reject_unauth_destination\n"
                        "default_transport = smtp\n")
    dns = lab.net.dns
    dns.a("primary.example", "192.0.2.10")
    for domain, best in (("backed.example", "primary.example"), ("primarily.example", "mail.example.com")):
        dns.mx(domain, best, pref=10)
        dns.mx(domain, "mail.example.com" if best != "mail.example.com" else "primary.example", pref=20)
    lines = talk(lab, envelope("bob@example.com", "x@backed.example", "x@primarily.example", "x@other.example"),
                 listener="outside")
    assert lines[3:6] == ["250 2.1.5 Ok",
                          "554 5.7.1 <x@primarily.example>: Relay access denied",
                          "554 5.7.1 <x@other.example>: Relay access denied"]
    lab = Lab(tmp_path / "2", "smtpd_relay_restrictions = permit_mx_backup, reject_unauth_destination\n"
                              "default_transport = smtp\npermit_mx_backup_networks = 10.0.0.0/24\n")
    lab.net.dns.a("primary.example", "192.0.2.10")
    lab.net.dns.mx("backed.example", "primary.example", pref=10)
    lab.net.dns.mx("backed.example", "mail.example.com", pref=20)
    assert talk(lab, envelope("bob@example.com", "x@backed.example"), listener="outside")[3] == \
        "554 5.7.1 <x@backed.example>: Relay access denied"


# -- deferring restrictions and actions ---------------------------------------------------------
def test_defer_if_permit_and_defer_if_reject(tmp_path):
    lab = Lab(tmp_path, "smtpd_client_restrictions = check_client_access inline:{ {127.0.0.1=DEFER_IF_PERMIT "
                        "4.7.0 slow down} }\n"
                        "smtpd_recipient_restrictions = check_recipient_access inline:{ no@example.com=REJECT }\n")
    lines = talk(lab, envelope("bob@example.com", "alice@example.com", "no@example.com"))
    assert lines[3:5] == ["450 4.7.0 <localhost[127.0.0.1]>: Client host rejected: slow down",
                          "554 5.7.1 <no@example.com>: Recipient address rejected: Access denied"]
    lab = Lab(tmp_path / "2", "smtpd_recipient_restrictions = defer_if_reject, check_recipient_access "
                              "inline:{ no@example.com=REJECT, {later@example.com=450 4.2.0 full} }, permit\n")
    lines = talk(lab, envelope("bob@example.com", "alice@example.com", "no@example.com", "later@example.com"))
    assert lines[3:6] == ["250 2.1.5 Ok",
                          "450 4.7.0 <no@example.com>: Recipient address rejected: defer_if_reject requested",
                          "450 4.2.0 <later@example.com>: Recipient address rejected: full"]
    lab = Lab(tmp_path / "3", "smtpd_recipient_restrictions = defer_if_permit, permit_mynetworks\n")
    assert talk(lab, envelope("bob@example.com", "alice@example.com"))[3] == \
        "450 4.7.0 <alice@example.com>: Recipient address rejected: defer_if_permit requested"


def test_access_prepend_and_dsn_fix(tmp_path):
    lab = Lab(tmp_path, "smtpd_sender_restrictions = check_sender_access inline:{ {bob@example.com=PREPEND "
                        "X-Checked: sender ok}, {bad@example.com=REJECT 5.1.1 unknown here} }\n")
    lines = talk(lab, envelope("bad@example.com", "alice@example.com"))
    assert lines[3] == "554 5.1.0 <bad@example.com>: Sender address rejected: unknown here"
    lines = talk(lab, ["EHLO client.example\r\n", "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                       "DATA\r\n", "Subject: hi\r\n\r\nbody\r\n.\r\n", "QUIT\r\n"])
    qid = lines[5].rsplit(" ", 1)[1]
    content = QueueStore(lab.ctx).read("incoming", qid).content.decode()
    assert content.startswith("X-Checked: sender ok\nReceived: from client.example")


def test_reject_unauth_pipelining(tmp_path):
    lab = Lab(tmp_path, "smtpd_data_restrictions = reject_unauth_pipelining\n")
    lines = talk(lab, ["EHLO client.example\r\nMAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                       "DATA\r\n", "QUIT\r\n"])
    assert lines[4] == "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"
    lines = talk(lab, ["EHLO client.example\r\n", "MAIL FROM:<bob@example.com>\r\n", "RCPT TO:<alice@example.com>\r\n",
                       "DATA\r\n", ".\r\n", "QUIT\r\n"])
    assert lines[4] == "354 End data with <CR><LF>.<CR><LF>"
