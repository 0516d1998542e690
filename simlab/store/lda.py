"""NAME
    lda - dovecot-lda (deliver), Dovecot's local delivery agent, as a program of a host

SUMMARY
    register_lda(host)                       # /usr/lib/dovecot/deliver and .../dovecot-lda
    # main.cf:  mailbox_command = /usr/lib/dovecot/deliver -f "$SENDER" -a "$RECIPIENT"
    status = lda_main(run, deliverer)        # what the registered program does

DESCRIPTION
    deliver [-ek] [-a address] [-c config_file] [-d username]
            [-f envelope_sender] [-m mailbox] [-o setting=value] [-p path] [-r address]

    Reads a message on standard input (or from -p PATH), drops a leading
    From_ line (whose sender is the envelope sender unless -f gives one;
    else MAILER-DAEMON) and saves it into the user's INBOX, or into -m
    MAILBOX (INBOX when that folder does not exist and
    lda_mailbox_autocreate is off). The user is -d USERNAME, looked up in
    the userdb; without -d it is the one the program runs as (USER, as
    Postfix's local(8) runs mailbox_command), and there is no lookup.

    Exit status, sysexits(3) as Dovecot's: 0 delivered (or rejected with
    a rejection mail sent); 64 EX_USAGE bad arguments; 67 EX_NOUSER -d
    names an unknown user; 75 EX_TEMPFAIL the message could not be saved
    (and, with quota_full_tempfail=yes, a full mailbox); 77 EX_NOPERM
    rejected with -e. Postfix maps these: 67 bounces "user unknown", 75
    defers "temporary failure", 77 bounces.

    A full mailbox (simlab.store.quota) rejects the message: the log says
    "msgid=<...>: rejected: Quota exceeded (mailbox for user is full)";
    with -e the reason goes to standard error and the status is 77,
    otherwise the LDA mails a rejection (a multipart/report DSN, "Rejected:
    SUBJECT", status 5.2.2) to the envelope sender through the host's
    sendmail and exits 0. With -e, temporary failures are written to
    standard error too, so that the MTA can log them.

PARAMETERS
    quota_full_tempfail, lda_mailbox_autocreate, postmaster_address,
    rejection_subject (Rejected: %s), rejection_reason (Your message to
    <%t> was automatically rejected:%n%r), recipient_delimiter.

SEE ALSO
    dovecot-lda(1), Dovecot LDA, sysexits(3), simlab.store.delivery,
    simlab.postfix.commands_registry
"""

from __future__ import annotations

import dataclasses
import getopt
import io
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any, Callable

from ..proto.lmtp_delivery import message_date, session_guid
from .delivery import MailDeliverer, message_id
from .mbox import parse_from_line

EX_OK, EX_USAGE, EX_NOUSER, EX_SOFTWARE, EX_TEMPFAIL, EX_NOPERM = 0, 64, 67, 70, 75, 77
LDA_PATHS = ("/usr/lib/dovecot/deliver", "/usr/lib/dovecot/dovecot-lda")
USAGE = ("Usage: dovecot-lda [-c <config file>] [-a <address>] [-d <username>] [-p <path>]\n"
         "                   [-f <envelope sender>] [-m <mailbox>] [-e] [-k]\n")
REJECTION_SUBJECT = "Rejected: {subject}"
REJECTION_REASON = "Your message to <{rcpt}> was automatically rejected:\n{reason}"


def split_from_line(data: bytes) -> tuple[str | None, bytes]:
    """(sender of a leading From_ line or None, the message without it)."""
    if not data.startswith(b"From "):
        return None, data
    line, _, rest = data.partition(b"\n")
    parsed = parse_from_line(line.rstrip(b"\r"))
    return (parsed[0] if parsed else None), rest


def _sender(text: str) -> str:
    """address_sanitize(): the -f address as Dovecot keeps it ('' for <> and MAILER-DAEMON)."""
    addr = text.strip().strip("<>")
    return "" if "@" not in addr else addr


class Lda:
    """One run of deliver (see the module documentation)."""

    def __init__(self, run: Any, deliverer: MailDeliverer) -> None:
        self.run = run
        self.deliverer = deliverer
        self.settings = deliverer.settings
        self.stderr_rejection = False

    def err(self, text: str) -> None:
        self.run.stdout += (text + "\n").encode("utf-8", "surrogateescape")

    def main(self) -> int:
        try:
            opts, args = getopt.getopt(self.run.argv[1:], "a:c:d:ef:km:o:p:r:")
        except getopt.GetoptError:
            self.err(USAGE.rstrip("\n"))
            return EX_USAGE
        if args:
            self.err(USAGE.rstrip("\n"))
            self.err(f"Fatal: Unknown argument: {args[0]}")
            return EX_USAGE
        user = self.run.env.get("USER") or self.run.user
        lookup, sender, mailbox, path, address = False, None, "INBOX", None, ""
        for o, v in opts:
            if o == "-d":
                user, lookup = v, True
            elif o == "-e":
                self.stderr_rejection = True
            elif o == "-f":
                sender = _sender(v)
            elif o == "-m" and v:
                mailbox = v
            elif o == "-p":
                path = v
            elif o == "-a":
                address = v
            elif o == "-o":
                self._override(v)
        if not lookup and (self.run.uid == 0 or not user):
            self.err("Fatal: destination user parameter (-d user) not given")
            return EX_USAGE
        account = self.deliverer.lookup(user) if lookup else user
        if account is None:
            return EX_NOUSER
        try:
            data = self.run.path(path).read_bytes() if path else bytes(self.run.stdin)
        except OSError as exc:
            self.err(f"Fatal: open({path}) failed: {exc.strerror}")
            return EX_TEMPFAIL
        from_sender, message = split_from_line(data.replace(b"\r\n", b"\n"))
        if sender is None:
            sender = _sender(from_sender or "")
        rcpt = address or (user if "@" in user else f"{user}@{self.settings.hostname}")
        return self.deliver(account, mailbox, message, sender, rcpt)

    def _override(self, setting: str) -> None:
        key, _, value = setting.partition("=")
        if key in ("quota_full_tempfail", "lda_mailbox_autocreate"):
            flag = value.strip().lower() in ("yes", "y", "1", "true")
            self.settings = dataclasses.replace(self.settings, **{key: flag})

    def deliver(self, account: str, mailbox: str, message: bytes, sender: str, rcpt: str) -> int:
        d = self.deliverer
        pid = d.store.new_pid()
        session = session_guid(self.run.now, 0, "127.0.0.1", pid)
        saved_settings = d.settings
        d.settings = self.settings
        try:
            result = d.save(account, mailbox, message, sender, session, pid, service="lda")
        finally:
            d.settings = saved_settings
        if result.status == "saved":
            return EX_OK
        if self.stderr_rejection:
            self.err(result.error)
        if result.status != "quota" or self.settings.quota_full_tempfail:
            return EX_TEMPFAIL
        prefix = f"lda({account})<{pid}><{session}>"
        d.log(prefix, f"Info: msgid={message_id(message)}: rejected: {result.error}")
        if self.stderr_rejection:
            return EX_NOPERM
        return send_rejection(self.run, d, prefix, message, sender, rcpt, result.error, account)


def rejection_mail(hostname: str, pid: int, now: float, sender: str, rcpt: str, reason: str,
                   message: bytes, msgid: str, postmaster: str) -> bytes:
    """mail_send_rejection()'s message: a delivery-status report for a full mailbox."""
    head, _, _ = message.partition(b"\n\n")
    headers = BytesHeaderParser(policy=default_policy).parsebytes(head + b"\n\n")
    subject = str(headers.get("Subject", ""))
    original_rcpt = headers.get("Original-Recipient")
    boundary = f"{pid}/{hostname}"
    lines = [
        f"Message-ID: {msgid}", f"Date: {message_date(now)}",
        f"From: Mail Delivery Subsystem <{postmaster}>", f"To: <{sender}>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{boundary}"',
        "Subject: " + REJECTION_SUBJECT.format(subject=subject),
        "Auto-Submitted: auto-replied (rejected)", "Precedence: bulk", "",
        "This is a MIME-encapsulated message", "", f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8", "Content-Disposition: inline",
        "Content-Transfer-Encoding: 8bit", "",
        REJECTION_REASON.format(rcpt=rcpt, reason=reason), f"--{boundary}",
        "Content-Type: message/delivery-status", "", f"Reporting-MTA: dns; {hostname}"]
    if original_rcpt:
        lines.append(f"Original-Recipient: rfc822; {original_rcpt}")
    lines += [f"Final-Recipient: rfc822; {rcpt}", "Action: failed", "Status: 5.2.2", "",
              f"--{boundary}", "Content-Type: message/rfc822-headers", ""]
    text = "\n".join(lines) + "\n"
    return text.encode("utf-8", "surrogateescape") + head + f"\n\n--{boundary}--\n".encode()


def send_rejection(run: Any, d: MailDeliverer, prefix: str, message: bytes, sender: str,
                   rcpt: str, reason: str, user: str) -> int:
    """Mail the rejection through the host's sendmail; EX_TEMPFAIL when that is not possible.

    The From: is postmaster_address, Dovecot's default postmaster@%d: the
    domain of the user name, or the host name when the name has none.
    """
    from ..postfix.commands import sendmail
    from ..postfix.master.registry import find_master
    msgid = message_id(message)
    headers = message.split(b"\n\n", 1)[0].lower()
    if b"\nauto-submitted:" in b"\n" + headers and b"auto-submitted: no" not in headers:
        d.log(prefix, f"Info: msgid={msgid}: Auto-submitted message discarded: {reason}")
        return EX_OK
    if not sender:
        d.log(prefix, f"Info: msgid={msgid}: Return-Path missing, rejection reply not sent")
        return EX_OK
    master = find_master(root=run.root)
    if master is None:
        d.log(prefix, "Error: Failed to send rejection: sendmail is not running on this host")
        return EX_TEMPFAIL
    pid = d.store.new_pid()
    new_id = f"<dovecot-{session_guid(run.now, 0, '127.0.0.1', pid)}@{d.settings.hostname}>"
    postmaster = f"postmaster@{user.rpartition('@')[2] if '@' in user else d.settings.hostname}"
    mail = rejection_mail(d.settings.hostname, pid, run.now, sender, rcpt, reason, message, new_id,
                          postmaster)
    err = io.StringIO()
    status = sendmail.main(["-i", "-f", "", "--", sender], ctx=master.ctx, stdin=io.BytesIO(mail),
                           stdout=io.StringIO(), stderr=err, user=run.user)
    if status != 0:
        d.log(prefix, f"Error: Sending rejection failed: {err.getvalue().strip()}")
        return EX_TEMPFAIL
    return EX_OK


def lda_program(deliverer: MailDeliverer | Callable[[Any], MailDeliverer]) -> Callable[[Any], int]:
    """The callable to register as /usr/lib/dovecot/deliver (a deliverer, or a factory taking the run)."""

    def program(run: Any) -> int:
        d = deliverer if isinstance(deliverer, MailDeliverer) else deliverer(run)
        return Lda(run, d).main()

    return program


def standalone_deliverer(run: Any) -> MailDeliverer:
    """A deliverer for a host root without a store node (the lab's defaults, the run's clock)."""
    from .delivery import DeliverSettings
    from .mailstore import MailStore
    from .servers import DovecotLog
    hostname = (run.root / "etc" / "hostname").read_text().strip() \
        if (run.root / "etc" / "hostname").exists() else "localhost"
    store = MailStore(run.root, run.root / "etc/dovecot/users", hostname, clock=lambda: run.now)
    return MailDeliverer(store, DeliverSettings(hostname=hostname), DovecotLog(run.root, lambda: run.now))


def register_lda(where: Any, deliverer: MailDeliverer | None = None,
                 paths: tuple[str, ...] = LDA_PATHS) -> None:
    """Install deliver on a host (a Host, a PostfixContext or a root folder)."""
    from ..postfix.commands_registry import register_command
    program = lda_program(deliverer if deliverer is not None else standalone_deliverer)
    for path in paths:
        register_command(where, path, program)
