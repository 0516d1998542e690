"""NAME
    checks_ch1 - the automatic checks of chapter 1's exercises (email's pieces, Postfix's role)

SUMMARY
    check_postmaster(world, domain="example.org")      # postmaster@ reaches a person
    check_kept_and_flagged(world, subject="Meeting moved")   # IMAP: mail stays, with a flag
    check_mail_client(world, client)                   # submission with AUTH + reading over IMAP
    check_submission_off(world, host="mail.oreilly.com")    # a service switched off in master.cf

    replies(trace, conn) -> [(command, status, text)]   # what each command of a dialog earned
    client_connections(trace, host, since=0.0)           # the connections a host opened

DESCRIPTION
    Every check takes the student's network (the Scenario of the notebook,
    called ``world`` there) and returns the list of what is still wrong:
    an empty list means the exercise is solved. A check never looks at the
    student's code; it reads the outcome the way an administrator would:
    the trace (dialogs, maillog lines, refused connections), the mailbox
    files, the configuration files and the listening ports.

    A message says what is wrong and where it was seen, never what to type.

SEE ALSO
    simlab.course.exercise, simlab.viz.tracedata, notebooks/01-email-and-postfix.ipynb
"""

from __future__ import annotations

import re
from typing import Any

from ..store.mbox import Mbox
from ..viz.sequence import sequence_turns
from ..viz.tracedata import ConnInfo, connection, log_records

_RCPT = re.compile(r"^RCPT\s+TO:\s*<?([^>\s]*)>?", re.I)
_QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")


# -- reading the trace -------------------------------------------------------------------------
def replies(trace: Any, conn: str) -> list[tuple[str, str, str]]:
    """Each reply of connection ``conn``: (the client line it answers, status, full text)."""
    _, turns = sequence_turns(trace, conn)
    return [(t.command, t.status, " ".join(t.lines)) for t in turns if t.kind == "reply"]


def client_connections(trace: Any, host: str, since: float = 0.0) -> list[ConnInfo]:
    """The connections that ``host`` opened at or after virtual time ``since``."""
    return [connection(trace, ev.details["conn"]) for ev in trace.connections()
            if ev.details.get("client") == host and ev.time >= since]


def failed_connects(trace: Any, host: str, since: float = 0.0) -> list[tuple[str, int, str]]:
    """(address, port, "refused" | "timeout") for every connection ``host`` could not open."""
    return [(ev.details.get("dest", "?"), int(ev.details.get("port", 0)), ev.kind)
            for ev in trace if ev.kind in ("refused", "timeout") and ev.host == host and ev.time >= since]


def rcpt_replies(trace: Any, conn: str) -> list[tuple[str, str, str]]:
    """(recipient address, status, reply text) for every RCPT TO of an SMTP connection."""
    out = []
    for command, status, text in replies(trace, conn):
        m = _RCPT.match(command)
        if m:
            out.append((m.group(1).lower(), status, text))
    return out


def queued_ids(trace: Any, conn: str) -> list[str]:
    """The queue ids a server announced on ``conn`` ("250 2.0.0 Ok: queued as ...")."""
    return [m.group(1) for _, status, text in replies(trace, conn)
            if status.startswith("2") and (m := _QUEUED.search(text))]


def _why_refused(kind: str) -> str:
    return "nothing listens there (connection refused)" if kind == "refused" else \
        "the host did not answer (connection timed out)"


# -- exercise 1: postmaster@ reaches a person ------------------------------------------------------
def check_postmaster(world: Any, domain: str = "example.org", person: str = "carol") -> list[str]:
    """Mail for postmaster@DOMAIN must end in the mailbox of a person who logs in (``person``)."""
    address = f"postmaster@{domain}"
    server = next((h for h in world.net.hosts.values() if h.name == f"mail.{domain}"), None)
    if server is None:
        return [f"there is no host mail.{domain} in this network: run the cell that builds it first"]
    deliveries = [r for r in log_records(world.trace, host=server.name)
                  if r.status and address in (r.fields.get("to", "").lower(), r.fields.get("orig_to", "").lower())]
    if not deliveries:
        return [f"{server.name} has not tried to deliver any message for {address} yet: "
                "send one test message to that address, then run the network"]
    last = deliveries[-1]
    to = last.fields.get("to", "").lower()
    if last.status == "sent" and last.reason == "discarded":
        problem = (f"your last message to {address} was thrown away: {server.name} logged "
                   f"'status=sent (discarded)' after 'warning: required alias not found: postmaster'")
        aliases = server.path("/etc/aliases")
        if aliases.exists() and re.search(r"(?im)^\s*postmaster\s*:", aliases.read_text()):
            problem += (". /etc/aliases does mention postmaster, yet the delivery agent did not find it: "
                        "it reads another file than the one you edited")
        return [problem]
    if last.status != "sent":
        return [f"your last message to {address} was not delivered: status={last.status} ({last.reason})"]
    if to != f"{person}@{domain}":
        who = to.partition("@")[0]
        return [f"your last message to {address} was delivered, but into the mailbox of {who!r} "
                f"({last.reason}); the task wants it to reach {person}, the person who runs {domain}"]
    if not server.mailbox(person):
        return [f"the log says the message was delivered to {person}, but /var/mail/{person} is empty"]
    return []


# -- exercise 2: IMAP keeps the mail on the server, with flags ---------------------------------------
def check_kept_and_flagged(world: Any, subject: str = "Meeting moved", user: str = "erin") -> list[str]:
    """``user``'s messages are still in her store and the one called ``subject`` is \\Flagged."""
    client = world.muas[user]
    server = world.net.host_by_ip(client.imap[0]) or world.net.hosts[client.imap[0]]
    host = server.name
    box = Mbox(server.path(f"/var/mail/{user}"))
    messages = box.read().messages if box.exists() else []
    if not messages:
        return [f"{user}'s mailbox on {host} is empty: her messages have left the server "
                "(that is what a client that takes the mail away does)"]
    wanted = [m for m in messages if _subject(m.visible()) == subject.lower()]
    if not wanted:
        return [f"{user}'s mailbox on {host} has {len(messages)} message(s), but none with the subject "
                f"{subject!r}: it has left the server"]
    if not any("\\Flagged" in m.flags for m in wanted):
        flags = ", ".join(sorted(wanted[-1].flags)) or "no flags at all"
        return [f"the message {subject!r} is still on the server, but its flags are: {flags}; "
                "it must carry \\Flagged"]
    imap = [c for c in world.trace.connections() if c.details.get("server") == host
            and c.details.get("port") == 143]
    if not imap:
        return ["the flag was not set through the IMAP server: no IMAP session with "
                f"{host} appears in the trace"]
    return []


def _subject(raw: bytes) -> str:
    m = re.search(rb"(?im)^subject:[ \t]*(.*)$", raw.split(b"\n\n", 1)[0])
    return m.group(1).decode("utf-8", "replace").strip().lower() if m else ""


# -- exercise 3: a mail client set up for sending and for reading ------------------------------------
def check_mail_client(world: Any, client: Any, to: str = "erin@oreilly.com",
                      home: str = "mail.example.com") -> list[str]:
    """``client`` submitted a message for ``to`` to its own server with AUTH, and read over IMAP."""
    if client is None:
        return ["there is no mail client yet: the cell must create one and keep it in a variable"]
    pc = client.host.name
    who = client.user
    conns = client_connections(world.trace, pc)
    smtp = [c for c in conns if c.protocol == "smtp"]
    failed = failed_connects(world.trace, pc)
    problems = _sending(world.trace, smtp, failed, who, to, home)
    problems += _reading(world.trace, conns, failed, who)
    return problems


def _sending(trace: Any, smtp: list[ConnInfo], failed: list[tuple[str, int, str]], who: str, to: str,
             home: str) -> list[str]:
    if not smtp:
        refused = [f for f in failed if f[1] not in (110, 143)]
        if refused:
            addr, port, kind = refused[-1]
            return [f"{who}'s client tried to send through {addr} port {port}: {_why_refused(kind)}"]
        return [f"{who}'s client has not sent anything yet (no SMTP connection from it in the trace)"]
    best: list[str] = []
    for c in reversed(smtp):
        rcpts = [r for r in rcpt_replies(trace, c.conn) if r[0] == to]
        auth = [(s, t) for cmd, s, t in replies(trace, c.conn) if cmd.upper().startswith("AUTH")]
        if rcpts and rcpts[-1][1].startswith("2") and queued_ids(trace, c.conn):
            if c.server != home:
                return [f"the message went straight to {c.server} port {c.port}; a mail client hands its "
                        f"mail to its own domain's server, {home}, which passes it on"]
            if not any(s == "235" for s, _ in auth):
                return [f"{home} took the message without a login: the task asks for the port where "
                        f"{who} proves who he is"]
            return []
        if auth and not any(s == "235" for s, _ in auth):
            s, t = auth[-1]
            best = best or [f"{c.server} port {c.port} refused {who}'s login: {t}"]
        elif rcpts:
            _, status, text = rcpts[-1]
            why = ("this server passes mail on to other domains only for clients it knows"
                   if "Relay access denied" in text else
                   "this port serves only clients that have logged in" if "Client host rejected" in text else
                   "the server refused that recipient")
            best = best or [f"{c.server} port {c.port} refused the recipient {to} with '{text}': {why}"]
    return best or [f"no message for {to} was accepted from {who}'s client "
                    f"({len(smtp)} SMTP connection(s) in the trace)"]


def _reading(trace: Any, conns: list[ConnInfo], failed: list[tuple[str, int, str]], who: str) -> list[str]:
    imap = [c for c in conns if c.protocol == "imap"]
    for c in reversed(imap):
        logins = [(s, t) for cmd, s, t in replies(trace, c.conn) if " LOGIN " in f" {cmd.upper()} "]
        if any(s == "OK" for s, _ in logins):
            return []
        if logins:
            return [f"the IMAP server on {c.server} refused {who}'s login: {logins[-1][1]}"]
    refused = [f for f in failed if f[1] in (110, 143)]
    if refused:
        addr, port, kind = refused[-1]
        return [f"{who}'s client tried to read from {addr} port {port}: {_why_refused(kind)}"]
    if any(c.protocol == "pop3" for c in conns):
        return [f"{who}'s client read his mail over POP3; the task asks for IMAP (mail stays on the server)"]
    return [f"{who}'s client has not read his mailbox yet (no IMAP session from it in the trace)"]


# -- exercise 4: a service switched off in master.cf -------------------------------------------------
def check_submission_off(world: Any, host: str = "mail.oreilly.com") -> list[str]:
    """submission (587) switched off on ``host`` and really refusing; smtp (25) still on."""
    h = world.net.hosts[host]
    pf = h.postfix
    if not pf.running:
        return [f"Postfix is not running on {host} any more: the task is to switch off one service, "
                "not the whole mail system"]
    entries = _inet_services(pf.command("postconf", "-M").stdout)
    ports = {lst.port for lst in h.listening()}
    problems = []
    if "submission" in entries and 587 in ports:
        problems.append(f"{host}'s master.cf still has an active submission service, and port 587 still "
                        "accepts connections")
    elif "submission" not in entries and 587 in ports:
        problems.append(f"master.cf no longer has the submission service, but the running master on {host} "
                        "still accepts connections on port 587: it has not read master.cf again since you "
                        "changed it")
    elif "submission" in entries and 587 not in ports:
        problems.append(f"port 587 is closed, but {host}'s master.cf still has the submission service: "
                        "the master would open it again the next time it reads its configuration")
    if "smtp" not in entries or 25 not in ports:
        problems.append(f"port 25 no longer accepts connections on {host}: other mail servers could not "
                        f"deliver mail for its domain any more")
    return problems


def _inet_services(postconf_m: str) -> set[str]:
    """Service names of the active inet entries in ``postconf -M`` output."""
    out = set()
    for line in postconf_m.splitlines():
        cols = line.split()
        if len(cols) >= 2 and cols[1] == "inet" and not line.startswith("#"):
            out.add(cols[0].rpartition(":")[2])
    return out
