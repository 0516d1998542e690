"""NAME
    checks_ch2 - the automatic checks of chapter 2's exercises, and the envelope-versus-headers view

SUMMARY
    check_bounce_not_reject(world, since)   # alice gets a bounce, and nothing was refused in her dialog
    check_envelope_only(world, since)       # To: says bob, the envelope says alice: only alice gets it
    check_handwritten(world, since)         # a hand-written RFC 5322 message, delivered intact to bob
    check_book_dialog(world)                # the telnet session: 250 for bob, 550 for mallory, queued

    delivered(world, address, since)  -> [(host, queue id, EmailMessage)]
    envelope_hops(world, host, qid)   -> [Hop(...)]: envelope and headers at every hop of a message
    hops_html(hops)                   -> an HTML table of those hops, side by side

DESCRIPTION
    The checks follow checks_ch1: they take the notebook's Scenario (``world``)
    and return what is still wrong, read from the trace, the maillog and the
    mailbox files. ``since`` is the virtual time at which the exercise began
    (``world.net.now`` in its set-up cell), so earlier demonstrations do not
    count.

    ``envelope_hops`` follows one message the way a postmaster does: the
    SMTP dialog that brought it in (MAIL FROM, RCPT TO and the headers sent
    after DATA), every delivery of its queue file (to=, orig_to=), into the
    next queue file on the next server ("queued as ...") or on the same one
    ("forwarded as ..."), down to the copy in each mailbox. At every hop it
    puts the envelope beside the From/To/Cc headers, which do not change.

SEE ALSO
    simlab.course.checks_ch1, simlab.viz.route, notebooks/02-prerequisites.ipynb
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses
from typing import Any

from ..store.mbox import Mbox
from ..viz.tracedata import conn_lines, log_records
from .checks_ch1 import client_connections, queued_ids, rcpt_replies, replies

_FORWARDED = re.compile(r"(?:forwarded|queued) as ([0-9A-Za-z]+)")
_RECEIVED_ID = re.compile(r"\bid ([0-9A-Za-z]+)")


# -- reading mailboxes -------------------------------------------------------------------------------
def delivered(world: Any, address: str, since: float = 0.0) -> list[tuple[Any, str, EmailMessage]]:
    """Every copy delivered into ``address``'s mailbox since ``since``: (store host, queue id, message).

    A copy counts when a delivery agent logged it as delivered -- local(8) into
    /var/mail/USER of its own host, or lmtp(8) into a message store -- and the
    copy in that mailbox carries the queue id in a Received: header.
    """
    address = address.lower()
    user = address.partition("@")[0]
    found: list[tuple[Any, str]] = []
    for r in log_records(world.trace):
        if r.time < since or r.status != "sent" or r.fields.get("to", "").lower() != address:
            continue
        if r.program == "local" and r.reason.startswith("delivered to mailbox"):
            found.append((world.net.hosts[r.host], r.qid))
        elif r.program == "lmtp":
            store = world.net.hosts.get(r.fields.get("relay", "").split("[", 1)[0])
            if store is not None:
                found.append((store, r.qid))
    out = []
    boxes: dict[str, list[Any]] = {}
    for host, qid in found:
        if host.name not in boxes:
            box = Mbox(host.path(f"/var/mail/{user}"))
            boxes[host.name] = [message_from_bytes(m.visible(), policy=default)
                                for m in box.read().messages] if box.exists() else []
        msg = next((m for m in boxes[host.name] if qid in _received_ids(m)), None)
        if msg is not None:
            out.append((host, qid, msg))
    return out


def _received_ids(msg: Any) -> set[str]:
    return {m.group(1) for v in msg.get_all("Received", []) for m in _RECEIVED_ID.finditer(str(v))}


def _origin(msg: Any) -> str:
    """The queue id of the first server a copy went through (the bottom Received: line)."""
    received = msg.get_all("Received", [])
    m = _RECEIVED_ID.search(str(received[-1])) if received else None
    return m.group(1) if m else ""


def _addresses(msg: Any, *names: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([str(v) for n in names for v in msg.get_all(n, [])]) if a]


def _is_bounce(world: Any, host: str, qid: str) -> bool:
    return any(r.program == "qmgr" and r.fields.get("from", None) == "" and "from=<>" in r.text
               for r in log_records(world.trace, host=host, qid=qid))


# -- exercise 1: a bounce, not a reject ------------------------------------------------------------------
def check_bounce_not_reject(world: Any, since: float = 0.0, user: str = "alice") -> list[str]:
    """``user`` sent a message after ``since`` that was accepted without any refusal and came back as a bounce."""
    client = world.muas[user]
    smtp = [c for c in client_connections(world.trace, client.host.name, since) if c.protocol == "smtp"]
    if not smtp:
        return [f"{user}'s client has not sent anything since the exercise began"]
    bounces = [(h, q) for h, q, m in delivered(world, client.address, since) if _is_bounce(world, h.name, q)]
    clean = [c for c in smtp if queued_ids(world.trace, c.conn)
             and not any(s[:1] in "45" for _, s, _ in rcpt_replies(world.trace, c.conn))]
    if bounces and clean:
        return []
    last = smtp[-1]
    refused = [(rcpt, text) for rcpt, status, text in rcpt_replies(world.trace, last.conn) if status[:1] in "45"]
    if refused:
        rcpt, text = refused[-1]
        return [f"{user}'s last message, to {rcpt}, was refused during the dialog ('{text}' at RCPT TO): that is "
                "a reject. The sender learns it at once; no message was accepted, so nothing can bounce"]
    qids = queued_ids(world.trace, last.conn)
    if not qids:
        return [f"{user}'s last message was not accepted by {last.server} (no 'queued as' in the dialog)"]
    qid = qids[-1]
    fate = [r for r in log_records(world.trace, host=last.server, qid=qid) if r.status]
    if not fate:
        return [f"{last.server} accepted {user}'s last message (queued as {qid}) but has not tried to deliver "
                "it yet: let the network run"]
    if all(r.status == "sent" for r in fate):
        where = fate[-1].fields.get("to", "?")
        return [f"{user}'s last message (queued as {qid}) was accepted and passed on for {where} without any "
                f"error ({fate[-1].reason}): nothing went wrong, so nothing bounced"]
    return [f"{user}'s last message (queued as {qid}) was not delivered ({fate[-1].status}: {fate[-1].reason}), "
            f"but no bounce has reached {user}'s mailbox yet: let the network run"]


# -- exercise 2: the envelope decides, the To: header does not -----------------------------------------------
def check_envelope_only(world: Any, since: float = 0.0, reader: str = "alice@example.com",
                        named: str = "bob@example.com") -> list[str]:
    """A message whose To: names ``named`` (not ``reader``) reached ``reader`` and not ``named``."""
    got = delivered(world, reader, since)
    other = delivered(world, named, since)
    other_ids = {_origin(m) for _, _, m in other} - {""}
    good = [m for _, _, m in got if named in _addresses(m, "To") and reader not in _addresses(m, "To", "Cc")]
    if not got:
        if other:
            return [f"{named.partition('@')[0]} received your message and {reader.partition('@')[0]} did not: "
                    "the mail servers delivered it to the recipient they were given"]
        return [f"nothing has been delivered to {reader} since the exercise began"]
    if not good:
        m = got[-1][2]
        return [f"{reader.partition('@')[0]}'s copy has 'To: {m.get('To', '(none)')}'"
                + (f", 'Cc: {m['Cc']}'" if m.get("Cc") else "")
                + f"; the task wants a To: header that names {named} and not {reader}"]
    if any(_origin(m) in other_ids for m in good):
        return [f"{named.partition('@')[0]} received a copy too (from the same submission): "
                "the servers were still asked to deliver to him"]
    return []


# -- exercise 3: a message written by hand ------------------------------------------------------------------
NEEDED = ("Date", "From", "To", "Message-ID", "Subject")


def check_handwritten(world: Any, since: float = 0.0, rcpt: str = "bob@example.com") -> list[str]:
    """The last message submitted on the server with sendmail reached ``rcpt`` with the sender's own headers."""
    copies = [(h, q, m) for h, q, m in delivered(world, rcpt, since)
              if any("from userid" in str(v) for v in m.get_all("Received", []))]
    if not copies:
        return [f"no message submitted on the mail server with sendmail has reached {rcpt} "
                "since the exercise began"]
    host, qid, msg = copies[-1]
    problems = []
    missing = [n for n in NEEDED if msg.get(n) is None]
    if "Subject" in missing:
        problems.append(f"{rcpt.partition('@')[0]}'s copy has no Subject: header; in what you wrote, the header "
                        "section ended before the Subject line (an empty line, or a line that is not "
                        "'Name: value', ends it)")
    if "To" in missing:
        problems.append(f"{rcpt.partition('@')[0]}'s copy has no To: header (Postfix never adds one)")
    raw = {k.lower(): v for k, v in msg.raw_items()}
    added = []
    if qid in raw.get("message-id", ""):
        added.append("Message-ID")
    if raw.get("date", "").strip().endswith("(UTC)"):
        added.append("Date")
    if added:
        what = " and ".join(f"a {n}:" for n in added)
        problems.append(f"{host.name} had to add {what} header itself: the header section you wrote "
                        f"had no {' and no '.join(added)}")
    body = msg.get_body(preferencelist=("plain",))
    if body is None or not body.get_content().strip():
        problems.append("the body is empty: after the header section there must be some text")
    return problems


# -- exercise 4: the book's telnet session -----------------------------------------------------------------
def check_book_dialog(world: Any, server: str = "mail.example.com", ok: str = "bob@example.com",
                      bad: str = "mallory@example.com") -> list[str]:
    """One console session to ``server`` port 25: RCPT ``ok`` earned 250, ``bad`` 550, message queued."""
    sessions = [ev.details["conn"] for ev in world.trace.connections()
                if ev.component == "console" and ev.details.get("server") == server and ev.details.get("port") == 25]
    if not sessions:
        return [f"there is no session typed in the console to {server} port 25 yet"]
    scored = []
    for conn in sessions:
        rcpts = rcpt_replies(world.trace, conn)
        problems = []
        if not any(r == ok and s.startswith("250") for r, s, _ in rcpts):
            tried = [f"'{t}'" for r, s, t in rcpts if r == ok]
            problems.append(f"no RCPT TO:<{ok}> earned 250" + (f" (it got {tried[-1]})" if tried else ""))
        if not any(r == bad and s == "550" for r, s, _ in rcpts):
            tried = [f"'{t}'" for r, s, t in rcpts if r == bad]
            problems.append(f"no RCPT TO:<{bad}> earned 550" + (f" (it got {tried[-1]})" if tried else ""))
        if not queued_ids(world.trace, conn):
            data = [s for c, s, _ in replies(world.trace, conn) if c.upper().strip() == "DATA"]
            problems.append("no message was queued on that connection" +
                            (": DATA got its 354, but the message was never ended" if "354" in data
                             else ": the session never got as far as a 354 reply to DATA"))
        scored.append(problems)
    best = min(scored, key=len)
    if not best:
        return []
    return [f"in the best of the {len(sessions)} session(s) typed to {server} so far: {p}" for p in best]


# -- envelope and headers at every hop ---------------------------------------------------------------------------
@dataclass
class Hop:
    """One step of a message: who handed it to whom, the envelope there, and the headers."""

    where: str
    how: str
    sender: str
    recipients: list[str]
    headers: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _header_block(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    text = "\n".join(lines)
    msg = message_from_bytes(text.split("\n\n", 1)[0].encode() + b"\n\n", policy=default)
    for name in ("From", "To", "Cc", "Bcc"):
        if msg.get(name) is not None:
            out[name] = str(msg[name])
    return out


def _incoming(world: Any, host: str, qid: str) -> Hop | None:
    for ev in world.trace.connections():
        conn = ev.details["conn"]
        if ev.details.get("server") != host or qid not in queued_ids(world.trace, conn):
            continue
        sender = next((c.split(":", 1)[1].strip().split()[0].strip("<>") for c, s, _ in replies(world.trace, conn)
                       if c.upper().startswith("MAIL FROM") and s.startswith("2")), "")
        rcpts = [r for r, s, _ in rcpt_replies(world.trace, conn) if s.startswith("2")]
        content, inside = [], False
        for ln in conn_lines(world.trace, conn):
            if ln.side != "C":
                continue
            if inside:
                if ln.text == ".":
                    break
                content.append(ln.text)
            elif ln.text.upper().strip() == "DATA":
                inside = True
        return Hop(f"{ev.details['client']} → {host}", f"SMTP port {ev.details['port']}", sender, rcpts,
                   _header_block(content), f"queued as {qid}")
    return None


def envelope_hops(world: Any, host: str, qid: str, *, _seen: set[tuple[str, str]] | None = None) -> list[Hop]:
    """The hops of the message queued as ``qid`` on ``host``, and of every copy made from it."""
    top = _seen is None
    seen = set() if _seen is None else _seen
    if (host, qid) in seen:
        return []
    seen.add((host, qid))
    hops: list[Hop] = []
    if top and (first := _incoming(world, host, qid)) is not None:
        hops.append(first)
    sender = _qmgr_from(world, host, qid)
    for r in log_records(world.trace, host=host, qid=qid):
        if not r.status:
            continue
        to, orig = r.fields.get("to", ""), r.fields.get("orig_to", "")
        via = f" (was {orig})" if orig and orig != to else ""
        nxt = _FORWARDED.search(r.reason)
        if r.program == "local" and r.reason.startswith("delivered to mailbox"):
            copy = next((m for h, q, m in delivered(world, to) if h.name == host and q == qid), None)
            heads = {n: str(copy[n]) for n in ("From", "To", "Cc") if copy is not None and copy.get(n) is not None}
            note = f"Delivered-To: {copy.get('Delivered-To', '')}" if copy is not None else ""
            hops.append(Hop(f"{host} → {to.partition('@')[0]}'s mailbox", "local delivery", sender,
                            [to + via], heads, note))
        elif r.program == "lmtp" and r.status == "sent":
            store = r.fields.get("relay", "").split("[", 1)[0]
            copy = next((m for h, q, m in delivered(world, to) if h.name == store and q == qid), None)
            heads = {n: str(copy[n]) for n in ("From", "To", "Cc") if copy is not None and copy.get(n) is not None}
            note = f"Delivered-To: {copy.get('Delivered-To', '')}" if copy is not None else ""
            hops.append(Hop(f"{host} → {store}, {to.partition('@')[0]}'s mailbox", "LMTP delivery", sender,
                            [to + via], heads, note))
        elif nxt and r.program == "smtp":
            nhost = r.fields.get("relay", "").split("[", 1)[0]
            inc = _incoming(world, nhost, nxt.group(1))
            if inc is not None:
                inc.recipients = [x + via if x == to else x for x in inc.recipients]
                hops.append(inc)
            hops += envelope_hops(world, nhost, nxt.group(1), _seen=seen)
        elif nxt:
            more = envelope_hops(world, host, nxt.group(1), _seen=seen)
            heads = next((h.headers for h in more if h.headers), {})
            hops.append(Hop(f"{host} → {host}", f"{r.program}: a new queue file, {nxt.group(1)}",
                            _qmgr_from(world, host, nxt.group(1)), _new_recipients(world, host, nxt.group(1)),
                            heads, f"made for {to}{via}"))
            hops += more
        else:
            hops.append(Hop(host, r.program, sender, [to + via], {}, f"{r.status}: {r.reason}"))
    return hops


def _qmgr_from(world: Any, host: str, qid: str) -> str:
    return next((r.fields.get("from", "") for r in log_records(world.trace, host=host, qid=qid)
                 if r.program == "qmgr" and "from" in r.fields), "")


def _new_recipients(world: Any, host: str, qid: str) -> list[str]:
    ev = next((e for e in world.trace.events("cleanup", host=host) if e.details.get("qid") == qid), None)
    return list(ev.details.get("recipients", [])) if ev is not None else []


def hops_html(hops: list[Hop], title: str = "") -> str:
    """The hops as an HTML table: the envelope on the left, the headers on the right."""
    esc = html.escape
    rows = []
    for n, h in enumerate(hops, 1):
        env = f"MAIL FROM:&lt;{esc(h.sender)}&gt;<br>" + "<br>".join(f"RCPT TO:&lt;{esc(r)}&gt;" for r in h.recipients)
        heads = "<br>".join(f"{esc(k)}: {esc(v)}" for k, v in h.headers.items()) or "<i>(not shown at this hop)</i>"
        rows.append(f"<tr><td>{n}</td><td>{esc(h.where)}<br><small>{esc(h.how)}</small></td>"
                    f"<td style='font-family:monospace;background:#eef5ff'>{env}</td>"
                    f"<td style='font-family:monospace;background:#fff6e5'>{heads}</td>"
                    f"<td><small>{esc(h.note)}</small></td></tr>")
    cap = f"<caption style='font-weight:bold;text-align:left'>{esc(title)}</caption>" if title else ""
    return ("<table style='border-collapse:collapse;font-size:12px' border='1' cellpadding='4'>" + cap +
            "<tr><th>#</th><th>hop</th><th style='background:#eef5ff'>envelope (decides delivery)</th>"
            "<th style='background:#fff6e5'>headers (what the reader sees)</th><th>note</th></tr>"
            + "".join(rows) + "</table>")
