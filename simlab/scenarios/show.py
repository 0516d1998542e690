"""NAME
    show - text views of a run for a terminal: dialogs, maillogs, mailboxes, a typed session

SUMMARY
    heading(out, "maillog of mail.example.com")
    print_dialogs(net, out)                      # every connection as a C:/S: transcript
    print_maillog(host, out)
    print_message(msg, out, parts=False)
    conn = net.run_sync(typed_session(client, "10.0.0.25", 25, lines, out))

DESCRIPTION
    What ``simlab demo`` prints, built only from the trace, the host's files
    and the messages themselves. ``typed_session`` plays a person at a
    telnet prompt: it prints telnet's own lines ("Trying ...", "Connected
    to ...") and then, line by line, what the person types and what the
    server answers, waiting for each reply (and for none inside DATA) as
    someone reading the screen would.
"""

from __future__ import annotations

import asyncio
from email.message import Message
from typing import Any, Iterable, TextIO

PORT_NAMES = {25: "smtp", 587: "submission", 24: "lmtp", 110: "pop3", 143: "imap"}


def heading(out: TextIO, text: str) -> None:
    out.write(f"\n== {text} ==\n")


def print_dialogs(net: Any, out: TextIO, conns: Iterable[str] | None = None) -> list[str]:
    """Each connection's dialog as a transcript (C: the client, S: the server); returns the ids."""
    wanted = None if conns is None else set(conns)
    shown = []
    for ev in net.trace.connections():
        d = ev.details
        if wanted is not None and d["conn"] not in wanted:
            continue
        port = d["port"]
        name = PORT_NAMES.get(port, d.get("server_component", ""))
        heading(out, f"dialog {d['conn']} at t={ev.time:.3f} s: {d['client']} -> {d['server']} "
                     f"port {port} ({name})")
        out.write(f"C: is the client {d['client']} [{d['client_ip']}], "
                  f"S: is the server {d['server']} [{d['server_ip']}]\n")
        out.write(net.trace.transcript(d["conn"]) + "\n")
        shown.append(d["conn"])
    return shown


def print_maillog(host: Any, out: TextIO, only: str | None = None) -> None:
    """The host's maillog lines (those about queue id ``only``, when given)."""
    heading(out, f"maillog of {host.name}" + (f", lines about {only}" if only else ""))
    for line in host.maillog():
        if only is None or f" {only}: " in line:
            out.write(line + "\n")


def print_message(msg: Message, out: TextIO, *, parts: bool = False) -> None:
    """A delivered message as stored; with ``parts`` a delivery report's text parts only."""
    if not parts or not msg.is_multipart():
        out.write(msg.as_string().rstrip("\n") + "\n")
        return
    for name in ("Return-Path", "Delivered-To", "From", "To", "Subject", "Date"):
        if msg.get(name) is not None:
            out.write(f"{name}: {msg[name]}\n")
    for part in msg.get_payload():
        ctype = part.get_content_type()
        label = part.get("Content-Description", ctype)
        if ctype == "message/delivery-status":
            text = "\n\n".join(block.as_string().strip("\n") for block in part.get_payload())
        elif ctype == "text/plain":
            text = part.get_payload(decode=True).decode("utf-8", "replace")
        else:
            out.write(f"\n--- part: {label} ({ctype}): the original message, returned ---\n")
            continue
        out.write(f"\n--- part: {label} ({ctype}) ---\n{text.rstrip()}\n")


async def _reply(reader: asyncio.StreamReader, out: TextIO) -> str:
    """Read one (possibly multi-line) SMTP reply, printing it; returns its last line."""
    while True:
        raw = await reader.readline()
        if not raw:
            return ""
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        out.write(line + "\n")
        if len(line) < 4 or line[3] != "-":
            return line


async def typed_session(client: Any, server: str, port: int, lines: Iterable[str], out: TextIO,
                        *, shown_name: str | None = None) -> str:
    """Type ``lines`` into a telnet-like connection from ``client``; returns the connection id."""
    target = client.net.host_by_ip(server) or client.net.hosts.get(server)
    ip = target.ip if target is not None else server
    out.write(f"$ telnet {shown_name or server} {port}\nTrying {ip}...\n")
    reader, writer = await client.open_connection(ip, port, component="telnet")
    conn = client.net.trace.connections()[-1].details["conn"]
    out.write(f"Connected to {shown_name or server}.\nEscape character is '^]'.\n")
    await _reply(reader, out)
    in_data = False
    for line in lines:
        out.write(line + "\n")
        writer.write((line + "\r\n").encode("utf-8"))
        if in_data and line != ".":
            continue
        in_data = False
        last = await _reply(reader, out)
        if last.startswith("354"):
            in_data = True
    if not await reader.read():
        out.write("Connection closed by foreign host.\n")
    writer.close()
    return conn
