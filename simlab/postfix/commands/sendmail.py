"""NAME
    sendmail - Postfix to Sendmail compatibility interface

SUMMARY
    sendmail [--root ROOT] [-Gtiv] [-oi] [-f sender] [-F full_name] [-N dsn] [-R ret] [-V envid]
             [-bm | -bv | -bp | -bi] [-q | -qRsite | -qIid] [recipient ...]

DESCRIPTION
    Local submission: reads a message on standard input and hands it to
    postdrop(1), which leaves it in the maildrop queue for pickup(8). This
    works while the mail system is stopped (the message waits there).

    Input: a line with a lone "." ends the message unless -i or -oi is
    given; CR before LF is removed (sendmail_fix_line_endings = always);
    leading "From " lines are dropped. Command-line recipients may be
    address lists ("Name <addr>, other"); -t adds the To:, Cc: and Bcc:
    addresses (or the Resent- ones when present) from the headers. Without
    recipients: "root(0): Recipient addresses must be specified on the
    command line or via the -t option" (exit 75, EX_TEMPFAIL, as for a bad
    option).

    The sender is -f (or -r), else the submitting user's login name; the
    full name is -F, else the user's GECOS field. -N (never, success,
    delay, failure), -R (full, hdrs) and -V envid are the DSN options.
    -G (gateway submission, as a content filter re-injects mail) puts the
    message in the "remote" address rewriting context: cleanup adds no
    missing headers and leaves header addresses alone unless
    remote_header_rewrite_domain is set.
    -bv sends a probe instead of the message and prints "Mail Delivery
    Status Report will be mailed to <sender>."; -bp lists the queue
    (postqueue -p), -bi rebuilds the aliases (newaliases), -q flushes
    (postqueue -f), -qRsite and -qIid flush one site or message.

PARAMETERS
    line_length_limit, pickup_service_name, queue_directory.

SEE ALSO
    sendmail(1), postdrop(1), pickup(8), postqueue(1)
"""

from __future__ import annotations

import getopt
import sys
from typing import Any

from ..common.queue import QueueFile, Recipient
from .cmdutil import Command, CommandExit

EX_USAGE, EX_NOUSER, EX_SOFTWARE, EX_TEMPFAIL = 64, 67, 70, 75
OPTSPEC = "B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:q:r:tvx"
DEL_REQ_FLAG_USR_VRFY = 1 << 9
DEL_REQ_FLAG_RECORD = 1 << 10
NOTIFY = {"never": "NEVER", "success": "SUCCESS", "delay": "DELAY", "failure": "FAILURE"}
RECIPIENT_HEADERS = ("to", "cc", "bcc")
RESENT_HEADERS = ("resent-to", "resent-cc", "resent-bcc")


def parse_addresses(text: str) -> list[str]:
    """The addresses of an RFC 822 address list, as tok822_internalize leaves them
    (``"odd user"@example.com`` -> ``odd user@example.com``)."""
    from ..maps.tok822 import addresses
    return addresses(text)


def read_message(raw: bytes, dot_ends: bool) -> bytes:
    """Message text from stdin: CRLF -> LF, leading "From " lines dropped, "." may end it."""
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out: list[bytes] = []
    skip_from = True
    for line in lines:
        while line.endswith(b"\r"):
            line = line[:-1]
        if skip_from:
            if line.lstrip(b">").startswith(b"From "):
                continue
            skip_from = False
        if dot_ends and line == b".":
            return b"".join(line + b"\n" for line in out)
        out.append(line)
    text = b"".join(line + b"\n" for line in out)
    # input that ends without a newline keeps its last line open: cleanup stores it as L + empty N
    return text[:-1] if text and not raw.endswith(b"\n") and not raw.endswith(b"\r") else text


def header_recipients(content: bytes) -> list[str]:
    """sendmail -t: the To/Cc/Bcc addresses (only the Resent- ones if any Resent- header exists)."""
    head = content.split(b"\n\n", 1)[0].decode("utf-8", "surrogateescape")
    headers: list[tuple[str, str]] = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    resent = any(name.startswith("resent-") for name, _ in headers)
    wanted = RESENT_HEADERS if resent else RECIPIENT_HEADERS
    out: list[str] = []
    for name, value in headers:
        if name in wanted:
            out += parse_addresses(value)
    return out


def _user(cmd: Command, login: str) -> tuple[int, str]:
    """uid and full name (GECOS up to the first comma, & = capitalized login)."""
    try:
        entry = cmd.ctx.passwd().get(login)
    except Exception:
        entry = None
    if entry is None:
        return (0, login) if login == "root" else (65534, "")
    gecos = entry.gecos.split(",", 1)[0].replace("&", login.capitalize())
    return entry.uid, gecos


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None, user: str = "root") -> int:
    cmd = Command("sendmail", argv, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr, logs=True)

    def body() -> int:
        # a bare -q (flush the queue) has no value; getopt's "q:" would take the next word
        argv = [a for w in cmd.argv for a in ((w, "") if w == "-q" else (w,))]
        try:
            opts, args = getopt.getopt(argv, OPTSPEC)
        except getopt.GetoptError as e:
            # the options are parsed twice (first for -C/-c and -v), and getopt complains both times
            cmd.err(f"invalid option -- '{e.opt}'")
            cmd.err(f"invalid option -- '{e.opt}'")
            cmd.fatal("usage: sendmail [options]", EX_TEMPFAIL)
        mode = "m"
        sender: str | None = None
        fullname: str | None = None
        extract = False
        dot_ends = True
        notify = ""
        ret = ""
        envid = ""
        encoding = ""
        context = "local"
        flush: tuple[str, str] | None = None
        for o, v in opts:
            if o == "-G":
                context = "remote"
            elif o == "-b":
                mode = v[:1] or "m"
            elif o == "-I":
                mode = "i"
            elif o in ("-f", "-r"):
                sender = v
            elif o == "-F":
                fullname = v
            elif o == "-t":
                extract = True
            elif o == "-i":
                dot_ends = False
            elif o == "-o" and v[:1] == "i":
                dot_ends = False
            elif o == "-v":
                cmd.verbose += 1
            elif o == "-N":
                words = [w.strip().lower() for w in v.split(",") if w.strip()]
                bad = next((w for w in words if w not in NOTIFY), None)
                if bad is not None:
                    cmd.warn(f'unknown DSN NOTIFY command value "{bad}" in "{v}"')
                if bad is not None or ("never" in words and len(words) > 1):
                    cmd.warn("bad -N option value -- ignored")
                    continue
                notify = ",".join(NOTIFY[w] for w in words)
            elif o == "-R":
                if v.lower() not in ("full", "hdrs"):
                    cmd.fatal(f"bad -R option value: {v}", EX_USAGE)
                ret = v.upper()
            elif o == "-C":
                cmd.config_dir = v.rpartition("/")[0] if v.endswith("main.cf") else v
            elif o == "-V":
                envid = v
            elif o == "-B":
                encoding = {"8bitmime": "8bit", "7bit": "7bit"}.get(v.lower(), "")
                if not encoding:
                    cmd.fatal("-B option needs 8BITMIME or 7BIT", EX_USAGE)
            elif o == "-q":
                flush = ("s", v[1:]) if v.startswith("R") else ("i", v[1:]) if v.startswith("I") else ("f", "")
                mode = "q"
        if mode == "p":
            return _run("postqueue", cmd, ["-p"])
        if mode == "i":
            return _run("newaliases", cmd, [])
        if mode == "q":
            assert flush is not None
            return _run("postqueue", cmd, ["-" + flush[0]] + ([flush[1]] if flush[1] else []))
        if mode not in ("m", "v"):
            cmd.fatal(f"unsupported: -b{mode}", EX_USAGE)
        return enqueue(cmd, user, sender, fullname, args, extract, dot_ends, notify, ret, envid, encoding,
                       verify=(mode == "v"), context=context)

    return cmd.run(body)


def enqueue(cmd: Command, user: str, sender: str | None, fullname: str | None, args: list[str],
            extract: bool, dot_ends: bool, notify: str, ret: str, envid: str, encoding: str,
            verify: bool, context: str = "local") -> int:
    from ..postdrop import postdrop
    uid, gecos = _user(cmd, user)
    if sender is not None:
        found = parse_addresses(sender)
        saved_sender = found[0] if found else ""
        if len(found) > 1:
            cmd.warn(f"-f option specified malformed sender: {sender}")
    else:
        saved_sender = user
    rcpts: list[Recipient] = []
    for arg in args:
        addrs = [a for a in parse_addresses(arg) if a] or [""]
        rcpts += [Recipient(a, notify=notify) for a in addrs]
    if verify:
        if extract:
            cmd.fatal("-t option cannot be used with -bv", EX_TEMPFAIL)
        lines = ([f"From: {saved_sender}"] if saved_sender else []) + ["Subject: probe"]
        content = ("\n".join(lines) + "\n").encode()
        if args:
            content += b"To:" + b"\n".join(f"\t{a}{',' if i + 1 < len(args) else ''}".encode()
                                           for i, a in enumerate(args)) + b"\n"
    else:
        raw = cmd.stdin.buffer.read() if hasattr(cmd.stdin, "buffer") else cmd.stdin.read()
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        content = read_message(raw, dot_ends)
        if extract:
            rcpts += [Recipient(a, notify=notify, extracted=True) for a in header_recipients(content)]
    if not rcpts:
        cmd.fatal(f"{saved_sender}({uid}): No recipient addresses found in message header" if extract else
                  f"{saved_sender}({uid}): Recipient addresses must be specified on the command line or via "
                  "the -t option", EX_TEMPFAIL)
    attrs: dict[str, str] = {}          # in the order postcat shows them
    if envid:
        attrs["envelope_id"] = envid
    if ret:
        attrs["ret_flags"] = "1" if ret == "FULL" else "2"
    attrs["rewrite_context"] = context
    if encoding:
        attrs["encoding"] = encoding
    trace_flags = (DEL_REQ_FLAG_USR_VRFY if verify else 0) | (DEL_REQ_FLAG_RECORD if cmd.verbose else 0)
    if trace_flags:
        attrs["trace_flags"] = str(trace_flags)
    qf = QueueFile("", 0.0, saved_sender, rcpts, content, attrs, fullname=fullname if fullname is not None else gecos)

    def warn(text: str) -> None:
        cmd.stderr.write(f"postdrop: warning: {text}\n")
        try:
            cmd.ctx.log.line("postdrop", cmd.pid, "warning: " + text)
        except Exception:
            pass
    try:
        postdrop(cmd.ctx, qf, uid=uid, warn=warn)
    except OSError as e:
        cmd.fatal(f"{saved_sender}({uid}): error writing queue file: {e.strerror}", EX_TEMPFAIL)
    if trace_flags:
        cmd.out(f"Mail Delivery Status Report will be mailed to <{saved_sender}>.\n")
    return 0


def _run(name: str, cmd: Command, argv: list[str]) -> int:
    """sendmail -bp/-bi/-q run postqueue or newaliases, as Postfix's sendmail execs them."""
    import importlib
    import inspect
    module = importlib.import_module(f"simlab.postfix.commands.{name}")
    args = (["--root", cmd.root] if cmd.root else []) + (["-c", cmd.config_dir] if cmd.config_dir else []) + argv
    try:
        if "ctx" in inspect.signature(module.main).parameters:
            return int(module.main(args, ctx=cmd._ctx, stdin=cmd.stdin, stdout=cmd.stdout,
                                   stderr=cmd.stderr) or 0)
        if cmd.root is None and cmd._ctx is not None:
            args = ["--root", str(cmd._ctx.root)] + args
        return int(module.main(args) or 0)
    except CommandExit as e:
        return e.code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
