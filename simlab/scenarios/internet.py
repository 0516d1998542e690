"""NAME
    internet - the Internet of chapter 1: mail clients, mail servers, message stores and DNS

SUMMARY
    w = internet(seed=1)
    w.alice.send_sync(to="erin@oreilly.com", subject="Hi", body="...")   # submission, port 587 + AUTH
    w.run()
    w.erin.pop3_fetch_sync(keep=False)      # erin's client takes her mail off the store
    w.alice.imap_list_sync()                # alice's client leaves it on the server, with flags
    w.bob.read_mbox()                       # bob has a shell on the server: he reads the file

DESCRIPTION
    example.com                               oreilly.com
      alice-pc.example.com  10.0.0.11           erin-pc.oreilly.com  10.0.1.11
      mail.example.com      10.0.0.25           mail.oreilly.com     10.0.1.25
        MTA (Postfix) + message store             MTA (Postfix), account erin
        accounts alice, bob                     store.oreilly.com    10.0.1.30
                                                  message store (LMTP, POP3, IMAP), account erin

    Every piece of chapter 1 is a separate program: the mail clients (MUA)
    on the PCs; Postfix (the MTA) on each mail server, with smtpd on port 25
    for other MTAs and on 587 (submission, SMTP AUTH) for the domain's own
    users; the delivery agents (MDA); the Dovecot-like message stores; and
    DNS, where each domain's MX record names its mail server.

    The two domains keep their mail in the two ways the chapter names. On
    mail.example.com local(8) writes /var/mail/USER and the POP3/IMAP
    services of the same machine read those mbox files. mail.oreilly.com
    keeps no mailboxes: its local(8) hands every mailbox delivery to the
    separate store over LMTP (``mailbox_transport =
    lmtp:inet:store.oreilly.com:24``), where Dovecot's LMTP service saves it.

    The clients are configured separately for sending and for reading
    (concept 10): ``alice`` submits to mail.example.com:587 and reads there
    over IMAP; ``erin`` submits to mail.oreilly.com:587 but reads from
    store.oreilly.com over POP3; ``bob`` is a shell user logged in on
    mail.example.com itself who reads /var/mail/bob directly.
    ``postmaster@`` of both domains reaches a person through /etc/aliases
    (postmaster -> root -> alice or erin).

    Hosts: ``mail_example``, ``mail_oreilly``, ``store_oreilly``,
    ``pc_alice``, ``pc_erin``; clients: ``alice``, ``bob``, ``erin``.
"""

from __future__ import annotations

from ..sim.network import Network
from .base import SUBMISSION, Scenario, client_host, mail_host, mua, store_host

SUMMARY = ("Chapter 1's Internet: two domains, each with a mail server running an MTA (Postfix: port 25 "
           "for other servers, 587 for its own users) and a message store -- on the same machine for "
           "example.com (mbox files read by POP3/IMAP), on a separate machine reached by LMTP for "
           "oreilly.com. DNS MX records say which server takes mail for which domain; the mail clients "
           "on the PCs are set up separately for sending and for reading.")


def internet(seed: int = 1) -> Scenario:
    """Chapter 1's Internet, every server started, nothing sent yet."""
    from ..mua import MUA
    net = Network(seed=seed)
    ex = mail_host(net, "mail.example.com", "10.0.0.25", users=["alice", "bob"], services=[SUBMISSION],
                   store=True)
    ora = mail_host(net, "mail.oreilly.com", "10.0.1.25", users=["erin"], services=[SUBMISSION],
                    main_cf=["mailbox_transport = lmtp:inet:store.oreilly.com:24"])
    store = store_host(net, "store.oreilly.com", "10.0.1.30", users=["erin"])
    net.dns.mx("example.com", ex.name, pref=10)
    net.dns.mx("oreilly.com", ora.name, pref=10)
    pc_alice = client_host(net, "alice-pc.example.com", "10.0.0.11")
    pc_erin = client_host(net, "erin-pc.oreilly.com", "10.0.1.11")
    clients = {
        "alice": mua(net, pc_alice, "Alice <alice@example.com>", ex, password="alice-pw"),
        "erin": mua(net, pc_erin, "Erin <erin@oreilly.com>", ora, password="erin-pw", reads_from=store),
        "bob": MUA(net, ex, "Bob <bob@example.com>", smtp=("127.0.0.1", 25)),
    }
    hosts = {"mail_example": ex, "mail_oreilly": ora, "store_oreilly": store,
             "pc_alice": pc_alice, "pc_erin": pc_erin}
    return Scenario("internet", seed, net, hosts, clients, SUMMARY)
