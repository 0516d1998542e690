"""NAME
    demos - the chapters' key demonstrations, printed for a terminal (``simlab demo NAME``)

SUMMARY
    sc = DEMOS["tour"](seed, sys.stdout)     # returns the Scenario it ran (its trace is complete)

DESCRIPTION
    tour              alice's client sends one message to erin@oreilly.com: the SMTP
                      dialogs, both maillogs and erin's mailbox
    telnet            the book's SMTP session typed line by line into mail.example.com
    reject-vs-bounce  the same message refused during the dialog, then accepted and
                      bounced (the delivery status notification, and why backscatter matters)
    address-classes   trivial-rewrite's resolve() for one address of every class of the lab
    queue             the next hop is down: deferral, retries in virtual time, final bounce

    Each demonstration builds its network from a scenario with the seed
    given and prints only what the simulation produced.
"""

from __future__ import annotations

from typing import Callable, TextIO

from .base import Scenario
from .show import heading, print_dialogs, print_maillog, print_message, typed_session

SUBJECT = "Hello from the tour"
BODY = "Hi Erin,\n\nthis message crossed two mail servers.\n\nAlice\n"

BOOK_SESSION = [
    "HELO mail.oreilly.com",
    "MAIL FROM:<service@oreilly.com>",
    "RCPT TO:<bob@example.com>",
    "DATA",
    "Date: Mon, 8 Apr 2003 15:38:21 -0500",
    "From: Customer Service <service@oreilly.com>",
    "To: <bob@example.com>",
    "Reply-To: <service@oreilly.com>",
    "Message-ID: <01a4e2238200842@mail.oreilly.com>",
    "Subject: Have you read RFC 2822?",
    "",
    "This is the start of the body of the message. It could continue for many lines, but it doesn't.",
    ".",
    "quit",
]


def _intro(sc: Scenario, out: TextIO, what: str) -> None:
    out.write(f"simlab demo {what} (scenario {sc.name}, seed {sc.seed})\n\n{sc.summary}\n\n{sc.describe()}\n")


def demo_tour(seed: int, out: TextIO) -> Scenario:
    """One message from alice's client to erin@oreilly.com, followed end to end."""
    from .tour import tour
    sc = tour(seed)
    _intro(sc, out, "tour")
    heading(out, "alice's mail client sends one message to erin@oreilly.com")
    result = sc.alice.send_sync(to="Erin <erin@oreilly.com>", subject=SUBJECT, body=BODY)
    out.write(f"submitted to mail.example.com port 587: "
              + (f"accepted, queued as {result.queue_id}\n" if result.ok else f"failed: {result.error or result.refused}\n"))
    sc.run()
    print_dialogs(sc.net, out)
    print_maillog(sc.mail_example, out)
    print_maillog(sc.mail_oreilly, out)
    heading(out, "erin's mailbox on mail.oreilly.com (/var/mail/erin)")
    for msg in sc.mail_oreilly.mailbox("erin"):
        print_message(msg, out)
    out.write(f"\nvirtual time at the end: {sc.net.now:.3f} s\n")
    return sc


def demo_telnet(seed: int, out: TextIO) -> Scenario:
    """The book's session, typed at mail.oreilly.com into port 25 of mail.example.com."""
    from .tour import tour
    sc = tour(seed)
    _intro(sc, out, "telnet")
    heading(out, "the book's SMTP session, typed on mail.oreilly.com (the reply lines are the server's)")
    sc.net.run_sync(typed_session(sc.mail_oreilly, sc.mail_example.ip, 25, BOOK_SESSION, out,
                                  shown_name="mail.example.com"))
    sc.run()
    print_maillog(sc.mail_example, out)
    heading(out, "bob's mailbox on mail.example.com (/var/mail/bob): the envelope became "
                 "Return-Path and Delivered-To")
    for msg in sc.mail_example.mailbox("bob"):
        print_message(msg, out)
    return sc


def demo_reject_vs_bounce(seed: int, out: TextIO) -> Scenario:
    """Refused at RCPT (no message, the client knows at once) versus accepted, then bounced."""
    from .tour import tour
    sc = tour(seed)
    _intro(sc, out, "reject-vs-bounce")
    heading(out, "1. REJECT: alice writes to nosuch@example.com, a user her own server does not have")
    first = sc.alice.send_sync(to="nosuch@example.com", subject="Are you there?", body="Just checking.\n")
    for addr, (code, text) in first.refused.items():
        out.write(f"refused during the dialog: {addr}: {code} {text}\n")
    out.write("nothing was queued: no message exists, so nothing can bounce. "
              "The mail client tells alice at once.\n")
    print_dialogs(sc.net, out)
    n_conns = len(sc.net.trace.connections())
    heading(out, "2. BOUNCE: alice writes to nosuch@oreilly.com; her server cannot know oreilly.com's users")
    second = sc.alice.send_sync(to="nosuch@oreilly.com", subject="Are you there?", body="Just checking.\n")
    out.write(f"accepted by mail.example.com: queued as {second.queue_id} (alice's client reports success)\n")
    sc.run()
    later = [ev.details["conn"] for ev in sc.net.trace.connections()[n_conns:]]
    print_dialogs(sc.net, out, later)
    print_maillog(sc.mail_example, out, only=second.queue_id)
    heading(out, "the bounce in alice's mailbox: a delivery status notification (DSN) from MAILER-DAEMON")
    for msg in sc.mail_example.mailbox("alice"):
        print_message(msg, out, parts=True)
    heading(out, "why it matters")
    out.write("A reject costs nothing: the client learns of the error during its own dialog.\n"
              "A bounce is a new message to the envelope sender. When that sender was forged\n"
              "(spam usually is), the bounce goes to an innocent third party: backscatter.\n"
              "That is why Postfix refuses unknown recipients at RCPT time whenever it can.\n")
    return sc


def demo_address_classes(seed: int, out: TextIO) -> Scenario:
    """resolve() on one address of each class of the reference lab."""
    from ..postfix.cleanup.rewrite import AddressMapper
    from ..postfix.trivial_rewrite import resolve
    from ..viz.address_classes import CLASS_MEANING, address_table
    from .lab import lab
    sc = lab(seed)
    _intro(sc, out, "address-classes")
    heading(out, "the parameters that decide (postconf on mail.example.com)")
    names = ["mydestination", "virtual_alias_domains", "virtual_mailbox_domains", "relay_domains",
             "transport_maps", "local_transport", "virtual_transport", "relay_transport", "default_transport"]
    out.write(sc.mail.postfix.command("postconf", *names).stdout)
    heading(out, "trivial-rewrite's answer for each address (resolve)")
    addrs = ["alice@example.com", "team@example.com", "robot@example.com", "info@alias.example",
             "anyone@catchall.example", "carol@vmail.example", "dave@vmail.example", "x@relay.example",
             "y@lmtp.example", "z@discard.example", "w@deferred.example", "user@other.example"]
    ctx = sc.mail.postfix.ctx
    rows = [resolve(ctx, a) for a in addrs]
    out.write(address_table(rows) + "\n")
    heading(out, "virtual aliases are expanded first, by cleanup(8), before the queue file exists")
    mapper = AddressMapper(ctx, ctx.config, lambda text: out.write(f"cleanup: warning: {text}\n"))
    for a in addrs:
        targets = mapper.virtual(a)
        if targets != [a]:
            done = ", ".join(f"{t} ({resolve(ctx, t).cls} -> {resolve(ctx, t).transport})" for t in targets)
            out.write(f"{a} -> {done}\n")
    heading(out, "what the classes mean")
    for cls in ("local", "virtual_alias", "virtual_mailbox", "relay", "default"):
        out.write(f"- {CLASS_MEANING[cls]}\n")
    return sc


def demo_queue(seed: int, out: TextIO) -> Scenario:
    """mail.oreilly.com is down: deferral, retries with back-off, bounce after the queue lifetime."""
    from ..viz.tracedata import log_records
    from .tour import tour
    sc = tour(seed)
    _intro(sc, out, "queue")
    heading(out, "the timing parameters of mail.example.com (postconf)")
    out.write(sc.mail_example.postfix.command(
        "postconf", "queue_run_delay", "minimal_backoff_time", "maximal_backoff_time",
        "maximal_queue_lifetime").stdout)
    heading(out, "mail.oreilly.com goes down; alice sends to erin@oreilly.com")
    sc.mail_oreilly.crash()
    sent = sc.alice.send_sync(to="erin@oreilly.com", subject=SUBJECT, body=BODY)
    qid = sent.queue_id
    out.write(f"accepted by mail.example.com: queued as {qid}\n")
    sc.run()
    heading(out, f"mailq on mail.example.com at t={sc.net.now:.0f} s")
    out.write(sc.mail_example.postfix.command("mailq").stdout)
    sc.run(until=6 * 86400.0)
    heading(out, f"every delivery attempt of {qid}, in virtual time")
    out.write(f"{'attempt':>7}  {'virtual time':>14}  {'waited':>9}  result\n")
    attempts = [r for r in log_records(sc.trace, host=sc.mail_example.name, qid=qid) if r.program == "smtp"]
    rows, last = [], 0.0
    for n, r in enumerate(attempts, 1):
        rows.append((n, r.time, round(r.time - last, 3), f"{r.status}: {r.reason}"))
        last = r.time
    for n, when, waited, what in _condensed(rows):
        out.write(f"{n:>7}  {when:>14}  {waited:>9}  {what}\n")
    final = [r for r in log_records(sc.trace, host=sc.mail_example.name, qid=qid) if r.program in ("qmgr", "bounce")]
    for r in final[-3:]:
        out.write(f"{'':>7}  {_clock(r.time):>14}  {'':>9}  {r.program}: {r.text}\n")
    heading(out, "the bounce in alice's mailbox")
    for msg in sc.mail_example.mailbox("alice"):
        print_message(msg, out, parts=True)
    gave_up = final[-1].time if final else sc.net.now
    out.write(f"\n{len(attempts)} attempts; the message was returned after {_clock(gave_up)} in the queue "
              "(maximal_queue_lifetime), all in virtual time.\n")
    return sc


def _condensed(rows: list[tuple[int, float, float, str]]) -> list[tuple[str, str, str, str]]:
    """Attempt rows for printing; a long run of equal waits shows its first and last row only."""
    out: list[tuple[str, str, str, str]] = []
    i = 0
    while i < len(rows):
        j = i
        while j + 1 < len(rows) and rows[j + 1][2] == rows[i][2] and rows[j + 1][3] == rows[i][3]:
            j += 1
        keep = [rows[i], rows[j]] if j - i >= 3 else rows[i:j + 1]
        for k, (n, when, waited, what) in enumerate(keep):
            if k == 1 and j - i >= 3:
                out.append(("...", "", "", f"{j - i - 1} more attempts, each {rows[i][2]:.0f}s after the one before"))
            out.append((str(n), _clock(when), f"{waited:.0f}s", what))
        i = j + 1
    return out


def _clock(t: float) -> str:
    days, rest = divmod(int(t), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


DEMOS: dict[str, Callable[[int, TextIO], Scenario]] = {
    "tour": demo_tour,
    "telnet": demo_telnet,
    "reject-vs-bounce": demo_reject_vs_bounce,
    "address-classes": demo_address_classes,
    "queue": demo_queue,
}
