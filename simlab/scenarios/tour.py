"""NAME
    tour - the entry point's network: two domains, two mail servers, three mail clients

SUMMARY
    t = tour(seed=1)
    t.alice.send_sync(to="erin@oreilly.com", subject="Hello", body="...")
    t.run(); t.mail_oreilly.mailbox("erin"); t.mail_example.maillog()

DESCRIPTION
    example.com                               oreilly.com
      alice-pc.example.com  10.0.0.11           erin-pc.oreilly.com  10.0.1.11
      bob-pc.example.com    10.0.0.12
      mail.example.com      10.0.0.25           mail.oreilly.com     10.0.1.25
        Postfix + POP3/IMAP, users alice, bob     Postfix + POP3/IMAP, user erin

    DNS holds the A record of every host and one MX record per domain
    (preference 10, pointing at its mail server). Each mail server runs
    Postfix with its out-of-the-box configuration plus the submission
    service (port 587, SMTP AUTH against /etc/dovecot/users), and the
    Dovecot-like POP3/IMAP services that read the mbox files in /var/mail.

    Each user has a mail client on a PC: it submits on port 587 of its own
    mail server with its password (``alice-pw``, ``bob-pw``, ``erin-pw``)
    and reads from the same server. Hosts: ``mail_example``,
    ``mail_oreilly``, ``pc_alice``, ``pc_bob``, ``pc_erin``; clients:
    ``alice``, ``bob``, ``erin``.
"""

from __future__ import annotations

from ..sim.network import Network
from .base import SUBMISSION, Scenario, client_host, mail_host, mua

SUMMARY = ("Two domains, example.com (users alice and bob) and oreilly.com (user erin), "
           "each with a mail server (Postfix + POP3/IMAP) found through its MX record, "
           "and a PC with a mail client for every user.")


def tour(seed: int = 1) -> Scenario:
    """The tour's network, Postfix running on both mail servers, nothing sent yet."""
    net = Network(seed=seed)
    ex = mail_host(net, "mail.example.com", "10.0.0.25", users=["alice", "bob"], services=[SUBMISSION],
                   store=True)
    ora = mail_host(net, "mail.oreilly.com", "10.0.1.25", users=["erin"], services=[SUBMISSION], store=True)
    net.dns.mx("example.com", ex.name, pref=10)
    net.dns.mx("oreilly.com", ora.name, pref=10)
    pcs = {user: client_host(net, f"{user}-pc.{domain}", ip)
           for user, domain, ip in (("alice", "example.com", "10.0.0.11"), ("bob", "example.com", "10.0.0.12"),
                                    ("erin", "oreilly.com", "10.0.1.11"))}
    clients = {
        "alice": mua(net, pcs["alice"], "Alice <alice@example.com>", ex, password="alice-pw"),
        "bob": mua(net, pcs["bob"], "Bob <bob@example.com>", ex, password="bob-pw"),
        "erin": mua(net, pcs["erin"], "Erin <erin@oreilly.com>", ora, password="erin-pw"),
    }
    hosts = {"mail_example": ex, "mail_oreilly": ora,
             "pc_alice": pcs["alice"], "pc_bob": pcs["bob"], "pc_erin": pcs["erin"]}
    return Scenario("tour", seed, net, hosts, clients, SUMMARY)
