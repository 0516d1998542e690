"""NAME
    concepts - the 43 concepts the course teaches, as data

SUMMARY
    CONCEPTS[19].title; concepts_of(chapter=2); tag(19) == "concept-19"

DESCRIPTION
    Each concept comes from the user's notes (chapters 1-4 of a Postfix book),
    written here in the course's own words. A notebook marks the markdown
    cell that explains concept N with the cell tag ``concept-N``; the
    coverage test (tests/test_course_coverage.py) checks that every concept
    has its tagged explanation followed by a code cell that drives the
    simulator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    number: int
    chapter: int
    title: str
    summary: str


def tag(number: int) -> str:
    """The notebook cell tag of concept ``number``."""
    return f"concept-{number}"


_RAW = [
    (1, 1, "A short history", "Email dates from the early 1970s; Sendmail (early 1980s) spread everywhere but "
     "was hard to secure and configure; Postfix was designed to replace it: safer, easier to run."),
    (2, 1, "Sendmail conventions", "Postfix keeps Sendmail's /etc/aliases and ~/.forward files."),
    (3, 1, "Many standards, many programs", "Internet email is many standards and many programs working together."),
    (4, 1, "MUA, MTA, MDA", "The mail client (MUA), the transfer agent (MTA, e.g. Postfix) and the delivery "
     "agent (MDA/LDA, e.g. Postfix's local or Dovecot)."),
    (5, 1, "The life of a message", "The MUA hands the message to an MTA, which accepts or refuses it, relays it, "
     "delivers it, or bounces it to the sender; local mail goes to an MDA."),
    (6, 1, "The postmaster", "Every domain must have a postmaster address (RFC 2142)."),
    (7, 1, "The message store", "Where delivered mail is kept: persistent storage, however it is kept."),
    (8, 1, "Separate packages", "SMTP is usually served by one package and POP/IMAP by another."),
    (9, 1, "SMTP, POP and IMAP", "SMTP moves mail (MTA to MTA, and MUA to MTA for submission); POP takes mail "
     "away to the client; IMAP manages it on the server."),
    (10, 1, "Two settings in every mail client", "A MUA is configured separately for sending (SMTP) and "
     "reading (POP/IMAP)."),
    (11, 1, "SMTP authentication", "SMTP had no authentication at first; the SMTP AUTH extension adds it."),
    (12, 1, "Reading the mail file", "A user with a shell account can read the mail file directly."),
    (13, 1, "Postfix is an MTA", "Postfix relays and delivers (its local agent writes the store or hands the "
     "message to an MDA); it does not speak POP or IMAP."),
    (14, 1, "Postfix is modular", "Small processes with least privilege, which can be switched off one by one "
     "and talk to each other very little."),
    (15, 2, "Pseudo-accounts", "System accounts that cannot log in but run programs with specific rights "
     "(the postfix user, the postdrop group)."),
    (16, 2, "Reject or bounce", "A reject refuses the message during the SMTP dialog; a bounce is an error report "
     "mailed to the sender after the message was accepted."),
    (17, 2, "Envelope and headers", "The envelope decides where a message goes; the To: header does not "
     "(Bcc, mailing lists, forwarding)."),
    (18, 2, "The message format", "RFC 822, 2822, 5322: header fields (Date, From, To, Reply-To, Message-ID, "
     "Subject), an empty line, the body."),
    (19, 2, "An SMTP session by hand", "220 banner, HELO, MAIL FROM, RCPT TO, DATA and 354, the lone dot, "
     "250 Ok: queued as ..., QUIT and 221."),
    (20, 3, "Daemons on demand", "master starts first and starts the other daemons when they are needed; they "
     "exit after some requests or some idle time."),
    (21, 3, "main.cf and master.cf", "The two configuration files."),
    (22, 3, "Receive, queue, deliver", "Postfix receives messages, queues them and delivers them; the queues are "
     "maildrop, incoming, active, deferred, hold and corrupt."),
    (23, 3, "Address classes", "local, virtual alias, virtual mailbox and relay decide which destinations are "
     "accepted and how they are delivered; everything else goes out through the SMTP client."),
    (24, 3, "Local delivery", "mydestination; the local delivery agent, for users with shell accounts; writes "
     "the local message store."),
    (25, 3, "Virtual aliases", "virtual_alias_domains and virtual_alias_maps: every address forwards elsewhere; "
     "the message is resubmitted to the real address."),
    (26, 3, "Virtual mailboxes", "virtual_mailbox_domains and virtual_mailbox_maps: the virtual agent delivers to "
     "mailboxes that have no shell account."),
    (27, 3, "Relay domains", "relay_domains: mail accepted for domains hosted on other (often internal) systems, "
     "passed on by the smtp agent."),
    (28, 3, "LMTP", "Like SMTP, for delivery between systems on the same LAN, e.g. into another package's "
     "message store."),
    (29, 3, "Pipe", "The pipe daemon hands messages to external commands (content filters, other media)."),
    (30, 4, "A traditional Unix mail server", "Out of the box every system account gets mail."),
    (31, 4, "Build and test piece by piece", "Build and test each piece separately, then integrate one piece at a "
     "time, testing as you go."),
    (32, 4, "Where things live", "/etc/postfix, /var/spool/postfix, /usr/sbin; the postfix user and the postdrop "
     "group."),
    (33, 4, "myhostname", "myhostname must be the fully qualified host name."),
    (34, 4, "postconf", "postconf shows and edits the configuration (-e, -n, -d)."),
    (35, 4, "newaliases", "newaliases rebuilds the aliases file into its indexed database."),
    (36, 4, "Check the logs", "After every start or reload, read the log for errors."),
    (37, 4, "postfix reload", "After changing the configuration, reload Postfix."),
    (38, 4, "master.cf", "One line per service, in columns, read by master."),
    (39, 4, "main.cf", "The core of the configuration: hundreds of parameters."),
    (40, 4, "Comments", "A comment starts with # at the start of a line; there is no comment after a value."),
    (41, 4, "Lists", "Several values are separated by commas, spaces, tabs or new lines."),
    (42, 4, "Continuation lines", "A line that starts with white space continues the previous one."),
    (43, 4, "$name", "$name refers to another parameter (myorigin = $mydomain)."),
]

CONCEPTS: dict[int, Concept] = {n: Concept(n, ch, title, summary) for n, ch, title, summary in _RAW}


def concepts_of(chapter: int) -> list[Concept]:
    """The concepts a chapter teaches, in order."""
    return [c for c in CONCEPTS.values() if c.chapter == chapter]
