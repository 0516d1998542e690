"""NAME
    postcat - show Postfix queue file contents

SUMMARY
    postcat [--root ROOT] [-bdehoqrv] [-c config_dir] [-s offset] [files...]

DESCRIPTION
    Prints the named queue files in human-readable form, record by record,
    as Postfix's postcat does: ``*** ENVELOPE RECORDS deferred/C/C086916052C
    ***``, one ``name: value`` line per envelope record, the message text,
    and the markers of the extracted segment and the end. By default the
    envelope, headers and body are shown (-beh); -e, -h and -b select
    parts. -q takes queue ids and searches the queues (maildrop, incoming,
    active, deferred, hold, saved); -v also shows the record type of every
    text line, -o the offset of each record and -d its decimal type; -r
    does not follow pointer records; -s starts at an offset.

PARAMETERS
    queue_directory, inet_protocols (reported with -v).

SEE ALSO
    postcat(1), postconf(5)
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from ..common import records as R
from ..common.queue import queue_id_ok
from .cmdutil import Command

USAGE = ("usage: postcat [-b (body text)] [-c config_dir] [-d (decimal record type)] "
         "[-e (envelope records)] [-h (header text)] [-q (access queue)] [-v] [file(s)...]")
SEARCH = ("maildrop", "incoming", "active", "deferred", "hold", "saved")

F_ENV, F_HEADER, F_BODY, F_OFFSET, F_DEC, F_RAW = 1, 2, 4, 8, 16, 32
F_TEXT = F_HEADER | F_BODY
F_ALL = F_ENV | F_TEXT

_HEADER = re.compile(rb"^[!-9;-~]+[ \t]*:")


def asctime(epoch: float) -> str:
    """C asctime() of the UTC time, with its newline."""
    t = time.gmtime(int(epoch))
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y\n", t)


class _Printer:
    def __init__(self, out: Any, flags: int, verbose: int) -> None:
        self.out = out
        self.flags = flags
        self.verbose = verbose

    def prefix(self, offset: int, rtype: str) -> str:
        s = ""
        if self.flags & F_OFFSET:
            s += "%9d " % offset
        if self.flags & F_DEC:
            s += "%3d " % ord(rtype)
        return s

    def marker(self, offset: int, rtype: str, text: str, path: str) -> None:
        self.out.write(f"{self.prefix(offset, rtype)}*** {text} {path} ***\n")

    def record(self, offset: int, rtype: str, value: str, in_env: bool = True) -> None:
        self.out.write(f"{self.prefix(offset, rtype)}{R.rec_type_name(rtype, in_env)}: {value}\n")


def postcat(data: bytes, path: str, out: Any, flags: int, verbose: int = 0, start: int = 0,
            warn: Any = None) -> None:
    """Print one queue file (postcat.c's state machine: envelope, header, body)."""
    p = _Printer(out, flags, verbose)
    if start == 0 and data and chr(data[0]) not in R.REC_TYPE_ENVELOPE:
        if warn:
            warn(f"{path}: input is not a valid queue file")
        return
    if start == 0 and flags & F_ENV:
        out.write(f"*** ENVELOPE RECORDS {path} ***\n")
    state = "env"
    do_print = flags & F_ENV
    prev = ""
    data_size = data_offset = -1
    pos = start
    seen: set[int] = set()
    while pos < len(data):
        rec, nxt = R.read_record(data, pos)
        t, text, offset = rec.type, rec.text, rec.offset
        pos = nxt
        is_text = t in (R.REC_TYPE_CONT, R.REC_TYPE_NORM) and state != "env"
        if is_text:
            if (state == "header" and flags & F_TEXT and prev != R.REC_TYPE_CONT
                    and not (_HEADER.match(rec.data) or rec.data[:1] in (b" ", b"\t"))):
                state = "body"
                do_print = flags & F_BODY
                if not do_print and not flags & F_ENV:
                    break
                if not do_print and flags & F_ENV and data_offset > 0 and data_size >= 0:
                    pos = data_offset + data_size
        elif t == R.REC_TYPE_MESG:
            if flags & F_ENV:
                p.marker(offset, t, "MESSAGE CONTENTS", path)
            if not flags & F_TEXT and data_offset > 0 and data_size >= 0:
                pos = data_offset + data_size
            state, do_print = "header", flags & F_HEADER
            continue
        elif t == R.REC_TYPE_XTRA:
            if do_print and prev == R.REC_TYPE_CONT:
                out.write("\n")
            if flags & F_ENV:
                p.marker(offset, t, "HEADER EXTRACTED", path)
            state, do_print = "env", flags & F_ENV
            if not do_print:
                break
            continue
        elif t == R.REC_TYPE_END:
            if flags & F_ENV:
                p.marker(offset, t, "MESSAGE FILE END", path)
            if flags & F_RAW:
                continue
            break
        elif t == R.REC_TYPE_PTR:
            if do_print and verbose:
                p.record(offset, t, text)
            target = int(text.strip() or "0")
            if not flags & F_RAW and target > 0 and target not in seen:
                seen.add(target)
                pos = target
            continue
        elif t == R.REC_TYPE_SIZE:
            if do_print:
                p.record(offset, t, text)
            if path.startswith("maildrop/"):
                continue
            parts = text.split()
            if data_size >= 0 or data_offset >= 0:
                if warn:
                    warn("file contains multiple size records")
            else:
                try:
                    data_size, data_offset = int(parts[0]), int(parts[1])
                except (IndexError, ValueError):
                    data_size = data_offset = 0
                if data_offset <= 0 or data_size <= 0:
                    if warn:
                        warn(f"invalid size record: {text[:100]}")
                if not flags & F_ENV:
                    pos = max(data_offset, 0)
                    state, do_print = "header", flags & F_HEADER
            continue
        if not do_print:
            continue
        if t == R.REC_TYPE_DTXT and not verbose:
            continue
        pre = p.prefix(offset, t)
        if t == R.REC_TYPE_TIME:
            out.write(pre + f"{R.rec_type_name(t)}: " + asctime(int(text.split()[0] or 0)))
        elif t == R.REC_TYPE_WARN:
            out.write(pre + f"{R.rec_type_name(t)}: " + asctime(int(text.strip() or 0)))
        elif t == R.REC_TYPE_CONT:
            if state == "env":
                out.write(pre + f"{R.rec_type_name(t, True)}: ")
            elif verbose:
                out.write(pre + "unterminated_text: ")
            else:
                out.write(pre)
            out.write(text)
            if state == "env" or verbose or flags & F_OFFSET:
                t = ""
                out.write("\n")
        elif t == R.REC_TYPE_NORM:
            out.write(pre + (f"{R.rec_type_name(t)}: " if verbose else "") + text + "\n")
        elif t == R.REC_TYPE_DTXT:
            out.write(pre + f"{R.rec_type_name(t)}: {text}\n")
        elif t == R.REC_TYPE_ATTR:
            try:
                name, value = R.split_attr(text)
            except R.RecordError as e:
                if warn:
                    warn(f"{path}: malformed attribute: {e}")
                continue
            if name == "create_time":
                out.write(pre + "create_time: " + asctime(int(value or 0)))
            else:
                out.write(pre + f"{R.rec_type_name(t)}: {name}={value}\n")
        else:
            out.write(pre + f"{R.rec_type_name(t)}: {text}\n")
        prev = t


def _verbose_startup(cmd: Command) -> None:
    """What mail_conf_read() reports with -v: the protocols and local addresses."""
    protos = (cmd.ctx.config["inet_protocols"] or "all").strip()
    cmd.err(f"name_mask: {protos}")
    words = {w.strip().lower() for w in re.split(r"[\s,]+", protos) if w.strip()}
    ipv4 = bool(words & {"all", "ipv4"})
    ipv6 = bool(words & {"all", "ipv6"})
    net = getattr(cmd.ctx, "net", None)
    host = getattr(net, "host", None)
    if ipv4:
        count = 1 + (1 if host is None or getattr(host, "ip", "127.0.0.1") != "127.0.0.1" else 0)
        cmd.err(f"inet_addr_local: configured {count} IPv4 addresses")
    if ipv6:
        cmd.err("inet_addr_local: configured 1 IPv6 addresses")


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None) -> int:
    cmd = Command("postcat", argv, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr)

    def body() -> int:
        opts, args = cmd.getopt("bc:dehoqrs:v", USAGE)
        flags = 0
        start = 0
        search = False
        for o, v in opts:
            if o == "-b":
                flags |= F_BODY
            elif o == "-d":
                flags |= F_DEC
            elif o == "-e":
                flags |= F_ENV
            elif o == "-h":
                flags |= F_HEADER
            elif o == "-o":
                flags |= F_OFFSET
            elif o == "-q":
                search = True
            elif o == "-r":
                flags |= F_RAW
            elif o == "-s":
                if not (v.isascii() and v.isdigit()):
                    cmd.fatal(f"bad offset: {v}")
                start = int(v)
            elif o == "-v":
                cmd.verbose += 1
        if not flags & F_ALL:
            flags |= F_ALL
        if cmd.verbose:
            _verbose_startup(cmd)
        out = cmd.stdout
        if not args:
            raw = cmd.stdin.buffer.read() if hasattr(cmd.stdin, "buffer") else cmd.stdin.read()
            if isinstance(raw, str):
                raw = raw.encode("utf-8", "surrogateescape")
            _cat(cmd, raw, "stdin", flags, start)
        elif search:
            store = cmd.store
            for qid in args:
                if not queue_id_ok(qid):
                    cmd.fatal(f"bad mail queue ID: {qid}")
                for queue in SEARCH:
                    p = store.locate(queue, qid)
                    if p is not None:
                        _cat(cmd, p.read_bytes(), store.relpath(queue, qid), flags, start)
                        break
                else:
                    cmd.fatal(f"open queue file {qid}: No such file or directory")
        else:
            for name in args:
                # a host's absolute path lives under its root (--root, or the live instance's)
                path = cmd.ctx.path(name) if name.startswith("/") and (cmd.root or cmd._ctx) else name
                try:
                    with open(path, "rb") as f:
                        raw = f.read()
                except OSError as e:
                    cmd.fatal(f"open {name}: {e.strerror}")
                _cat(cmd, raw, name, flags, start)
        out.flush()
        return 0

    return cmd.run(body)


def _cat(cmd: Command, raw: bytes, path: str, flags: int, start: int) -> None:
    try:
        postcat(raw, path, cmd.stdout, flags, cmd.verbose, start, warn=cmd.warn)
    except R.RecordError:
        cmd.stdout.flush()
        cmd.fatal("record read error")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
