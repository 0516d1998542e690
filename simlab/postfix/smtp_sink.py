"""NAME
    smtp_sink - a test SMTP/LMTP server that takes mail and throws it away

SUMMARY
    sink = smtp_sink(host, "-h sink.example -d /var/spool/labsink/smtp-%Y%m%d%H%M%S. 127.0.0.1:2526 256")
    sink = smtp_sink(host, "-L 127.0.0.1:2524 256")          # LMTP
    sink = smtp_sink(host, "-f RCPT 127.0.0.1:2528 256")     # every RCPT gets 500
    sink.messages[-1].rcpt_args, sink.messages[-1].dump()

DESCRIPTION
    Behaves like Postfix's smtp-sink(1): the banner "220 HOST ESMTP", an EHLO
    list of PIPELINING, 8BITMIME, AUTH PLAIN LOGIN, XCLIENT, XFORWARD,
    ENHANCEDSTATUSCODES and DSN, "250 2.1.0 Ok" to MAIL, "250 2.1.5 Ok" to
    RCPT, "250 2.0.0 Ok" after the final dot -- or, with -L, one
    "250 2.2.0 Ok" per recipient. Options:

        -L          LMTP instead of SMTP (only LHLO is accepted)
        -h NAME     host name in the banner and the HELO/EHLO replies (default smtp-sink)
        -f CMDS     reply "500 5.3.0 Error: command failed" to these commands
                    (comma separated: connect, helo, ehlo, lhlo, mail, rcpt, data, ., rset,
                    noop, vrfy, quit); implies -p
        -r CMDS     the same with "450 4.3.0 Error: command failed"; implies -p
        -q CMDS     disconnect without a reply after these commands
        -d TEMPLATE dump each message to a file named strftime(TEMPLATE) plus
                    eight random hex digits; under a host root for a simulated host
        -p -8 -a -C -F -E -e   do not announce PIPELINING, 8BITMIME, AUTH, XCLIENT,
                    XFORWARD, ENHANCEDSTATUSCODES, ESMTP

    A dump holds X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args,
    one X-Rcpt-Args per RCPT, a three-line Received: header, then the
    message with LF line ends, dot-unstuffed, and one empty line.

    ``SinkCore`` is the sans-IO server; ``SmtpSink`` listens with it on a
    simulated host (``listen``) or a real socket (``serve``).

SEE ALSO
    smtp-sink(1), smtp-source(1)
"""

from __future__ import annotations

import asyncio
import random
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..sim.network import Host, Listener

SOFT_ERROR = "450 4.3.0 Error: command failed"
HARD_ERROR = "500 5.3.0 Error: command failed"
COMMANDS = ("connect", "helo", "ehlo", "lhlo", "xclient", "xforward", "auth", "mail", "rcpt",
            "data", ".", "rset", "noop", "vrfy", "quit")


@dataclass
class SinkOptions:
    hostname: str = "smtp-sink"
    lmtp: bool = False
    esmtp: bool = True
    pipelining: bool = True
    eightbitmime: bool = True
    auth: bool = True
    xclient: bool = True
    xforward: bool = True
    enhanced: bool = True
    dsn: bool = True
    hard: frozenset[str] = frozenset()
    soft: frozenset[str] = frozenset()
    disconnect: frozenset[str] = frozenset()
    dump: str | None = None
    max_line: int = 2048


@dataclass
class SinkMessage:
    """One mail transaction the sink completed."""

    client_addr: str
    proto: str
    helo: str | None
    mail_args: str
    rcpt_args: list[str]
    content: bytes            # LF line ends, dot-unstuffed, plus the final empty line
    id: int
    start_time: float
    path: Path | None = None

    def dump(self, hostname: str = "smtp-sink") -> bytes:
        """The dump file text, as smtp-sink -d writes it."""
        head = [f"X-Client-Addr: {self.client_addr}", f"X-Client-Proto: {self.proto}"]
        if self.helo is not None:
            head.append(f"X-Helo-Args: {self.helo}")
        head.append(f"X-Mail-Args: {self.mail_args}")
        head += [f"X-Rcpt-Args: {a}" for a in self.rcpt_args]
        frm = self.helo if self.helo is not None else f"[{self.client_addr}]"
        head.append(f"Received: from {frm} ([{self.client_addr}])")
        head.append(f"\tby {hostname} (smtp-sink) with {self.proto} id {self.id:08x};")
        head.append(f"\t{mail_date(self.start_time)}")
        return ("\n".join(head) + "\n").encode("utf-8", "surrogateescape") + self.content


def mail_date(epoch: float) -> str:
    """RFC 2822 date as Postfix writes it (every simulated host runs in UTC): the day of the
    month padded with a space ("Fri,  4 Dec 2026"), as measured on the real smtp-sink."""
    t = time.gmtime(int(epoch))
    return time.strftime("%a, ", t) + f"{t.tm_mday:2d}" + time.strftime(" %b %Y %H:%M:%S +0000 (UTC)", t)


class SinkCore:
    """The server side of one connection: bytes in, reply bytes out."""

    def __init__(self, options: SinkOptions, client_addr: str = "127.0.0.1",
                 now: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.opt = options
        self.client_addr = client_addr
        self.now = now
        self.rng = rng or random.Random(0)
        self.closing = False
        self.messages: list[SinkMessage] = []
        self.proto = "LMTP" if options.lmtp else "SMTP"
        self.helo: str | None = None
        self._out = bytearray()
        self._buf = b""
        self._in_data = False
        self._data = bytearray()
        self._dstate = 0
        self._in_mail = False
        self._rcpts = 0
        self._mail_args = ""
        self._rcpt_args: list[str] = []
        self._start = 0.0
        self._id = 0
        self._command("connect", "")

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        self._buf += data
        while self._buf and not self.closing:
            if self._in_data:
                self._read_data()
                continue
            nl = self._buf.find(b"\r\n")
            if nl < 0:
                if len(self._buf) >= self.opt.max_line:
                    self.closing = True      # smtp-sink: "command line too long"
                return
            line, self._buf = self._buf[:nl], self._buf[nl + 2:]
            text = line.decode("utf-8", "replace")
            words = text.split(None, 1)
            if not words:
                self._reply("500 5.5.2 Error: unknown command")
                continue
            self._command(words[0].lower(), words[1] if len(words) > 1 else "")

    # -- commands --------------------------------------------------------------------
    def _enabled(self, cmd: str) -> bool:
        if cmd in ("helo", "ehlo", "lhlo"):
            if self.opt.lmtp:
                return cmd == "lhlo"
            return cmd == "helo" or (cmd == "ehlo" and self.opt.esmtp)
        if cmd == "xclient":
            return self.opt.xclient
        if cmd == "xforward":
            return self.opt.xforward
        return cmd in COMMANDS and cmd != "connect"

    def _command(self, cmd: str, args: str) -> None:
        if cmd != "connect" and cmd != "." and not self._enabled(cmd):
            self._reply("500 5.5.1 Error: unknown command")
            return
        if cmd in self.opt.disconnect:
            self.closing = True
            return
        if cmd in self.opt.hard or cmd in self.opt.soft:
            text = HARD_ERROR if cmd in self.opt.hard else SOFT_ERROR
            count = self._rcpts if cmd == "." and self.opt.lmtp else 1
            for _ in range(count):
                self._reply(text)
            return
        getattr(self, "_do_" + {".": "dot"}.get(cmd, cmd))(args)

    def _do_connect(self, args: str) -> None:
        self._reply(f"220 {self.opt.hostname} ESMTP" if self.opt.esmtp else f"220 {self.opt.hostname}")

    def _do_ehlo(self, args: str) -> None:
        self._reset()
        if not self.opt.lmtp:
            self.proto = "ESMTP"
        lines = [f"250-{self.opt.hostname}"]
        for on, kw in ((self.opt.pipelining, "PIPELINING"), (self.opt.eightbitmime, "8BITMIME"),
                       (self.opt.auth, "AUTH PLAIN LOGIN"), (self.opt.xclient, "XCLIENT NAME HELO"),
                       (self.opt.xforward, "XFORWARD NAME ADDR PROTO HELO"),
                       (self.opt.enhanced, "ENHANCEDSTATUSCODES"), (self.opt.dsn, "DSN")):
            if on:
                lines.append("250-" + kw)
        lines.append("250 ")
        self._reply("\r\n".join(lines))
        self.helo = args.strip()

    _do_lhlo = _do_ehlo

    def _do_helo(self, args: str) -> None:
        self._reset()
        self.proto = "SMTP"
        self._reply(f"250 {self.opt.hostname}")
        self.helo = args.strip()

    def _do_ok(self, args: str) -> None:
        self._reply("250 2.0.0 Ok")

    _do_xclient = _do_xforward = _do_auth = _do_noop = _do_vrfy = _do_ok

    def _do_rset(self, args: str) -> None:
        self._reset()
        self._reply("250 2.1.0 Ok")

    def _do_mail(self, args: str) -> None:
        if self._in_mail:
            self._reply("503 5.5.1 Error: nested MAIL command")
            return
        self._in_mail = True
        self._rcpts = 0
        self._rcpt_args = []
        self._start = self.now()
        self._id = self.rng.randrange(2 ** 31)
        self._mail_args = _after_colon(args)
        self._reply("250 2.1.0 Ok")

    def _do_rcpt(self, args: str) -> None:
        if not self._in_mail:
            self._reply("503 5.5.1 Error: need MAIL command")
            return
        self._rcpts += 1
        self._rcpt_args.append(_after_colon(args))
        self._reply("250 2.1.5 Ok")

    def _do_data(self, args: str) -> None:
        if not self._in_mail or self._rcpts == 0:
            self._reply("503 5.5.1 Error: need RCPT command")
            return
        self._reply("354 End data with <CR><LF>.<CR><LF>")
        self._in_data = True
        self._dstate = 2          # as after CR LF: a first-line "." is seen
        self._data = bytearray()

    def _do_dot(self, args: str) -> None:
        if self.opt.lmtp:
            for _ in range(self._rcpts):
                self._reply("250 2.2.0 Ok")
        else:
            self._reply("250 2.0.0 Ok")

    def _do_quit(self, args: str) -> None:
        self._reply("221 Bye")
        self.closing = True

    # -- data ------------------------------------------------------------------------
    def _read_data(self) -> None:
        # smtp-sink's byte machine: ANY -CR-> CR -LF-> CRLF -.-> DOT -CR-> DOTCR -LF-> end
        want = {0: 13, 1: 10, 2: 46, 3: 13, 4: 10}
        buf = self._buf
        for i, ch in enumerate(buf):
            if ch == want[self._dstate]:
                self._dstate += 1
            elif ch == 13:
                self._dstate = 1
            else:
                self._dstate = 0
            if ch != 13 and self._dstate != 3:
                self._data.append(ch)
            if self._dstate == 5:
                self._buf = buf[i + 1:]
                self._in_data = False
                self._dstate = 0
                self.messages.append(SinkMessage(self.client_addr, self.proto, self.helo,
                                                 self._mail_args, list(self._rcpt_args),
                                                 bytes(self._data), self._id, self._start))
                self._in_mail = False
                self._command(".", "")
                return
        self._buf = b""

    def _reset(self) -> None:
        self._in_mail = False

    def _reply(self, text: str) -> None:
        self._out += text.encode("utf-8") + b"\r\n"


def _after_colon(args: str) -> str:
    _, colon, rest = args.partition(":")
    return rest.lstrip(":").lstrip() if colon else ""


class _SinkProtocol(asyncio.Protocol):
    def __init__(self, sink: "SmtpSink") -> None:
        self.sink = sink
        self.core: SinkCore | None = None
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername") or ("127.0.0.1", 0)
        addr = peer[0]
        self.core = SinkCore(self.sink.options, ("ipv6:" + addr) if ":" in addr else addr,
                             self.sink.now, self.sink.rng)
        self._flush()

    def data_received(self, data: bytes) -> None:
        assert self.core is not None
        self.core.receive_data(data)
        self._flush()

    def _flush(self) -> None:
        core = self.core
        assert core is not None
        out = core.data_to_send()
        if out:
            self.transport.write(out)
        for msg in core.messages:
            self.sink.completed(msg)
        core.messages.clear()
        if core.closing:
            self.transport.close()


class SmtpSink:
    """An smtp-sink instance: options, where dumps go, and what it received."""

    def __init__(self, options: SinkOptions, *, root: Path | None = None,
                 now: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.options = options
        self.root = root
        self.now = now
        self.rng = rng or random.Random(0)
        self.messages: list[SinkMessage] = []
        self.listener: "Listener | None" = None

    def protocol_factory(self) -> asyncio.Protocol:
        return _SinkProtocol(self)

    def completed(self, msg: SinkMessage) -> None:
        if self.options.dump:
            name = time.strftime(self.options.dump, time.gmtime(int(msg.start_time)))
            name += f"{msg.id:08x}"
            path = self.root / name.lstrip("/") if self.root is not None else Path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(msg.dump(self.options.hostname))
            msg.path = path
        self.messages.append(msg)

    def listen(self, host: "Host", port: int, addr: str = "*") -> "Listener":
        """Accept connections on a simulated host."""
        self.listener = host.listen(port, self.protocol_factory, component="smtp-sink", addr=addr)
        return self.listener

    async def serve(self, addr: str = "127.0.0.1", port: int = 0) -> asyncio.AbstractServer:
        """Accept connections on a real socket (``unix:PATH`` for a UNIX-domain socket)."""
        loop = asyncio.get_running_loop()
        if addr.startswith("unix:"):
            return await loop.create_unix_server(self.protocol_factory, addr[5:])
        return await loop.create_server(self.protocol_factory, addr, port)


def parse_args(argv: str | list[str]) -> tuple[SinkOptions, str, int]:
    """smtp-sink's command line -> (options, listen address "[host]:port", backlog)."""
    args = shlex.split(argv) if isinstance(argv, str) else list(argv)
    opt = SinkOptions()
    flags = {"-8": "eightbitmime", "-a": "auth", "-C": "xclient", "-F": "xforward",
             "-E": "enhanced", "-e": "esmtp", "-p": "pipelining"}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in flags:
            setattr(opt, flags[a], False)
        elif a == "-L":
            opt.lmtp = True
        elif a in ("-h", "-d", "-f", "-r", "-q") and i + 1 < len(args):
            i += 1
            val = args[i]
            if a == "-h":
                opt.hostname = val
            elif a == "-d":
                opt.dump = val
            else:
                cmds = frozenset(c.lower() for c in val.replace(",", " ").split())
                unknown = cmds - set(COMMANDS)
                if unknown:
                    raise ValueError(f"smtp-sink: fatal: unknown command: {sorted(unknown)[0]}")
                if a == "-q":
                    opt.disconnect |= cmds
                else:
                    opt.pipelining = False
                    if a == "-f":
                        opt.hard |= cmds
                    else:
                        opt.soft |= cmds
        elif a.startswith("-"):
            raise ValueError(f"smtp-sink: fatal: usage: smtp-sink [options] [host]:port backlog ({a})")
        else:
            rest.append(a)
        i += 1
    if len(rest) != 2 or not (rest[1].isascii() and rest[1].isdigit()):
        raise ValueError("smtp-sink: fatal: usage: smtp-sink [options] [host]:port backlog")
    return opt, rest[0], int(rest[1])


def smtp_sink(host: "Host", argv: str | list[str]) -> SmtpSink:
    """Start smtp-sink on a simulated host, as the command line would."""
    from .common.context import VirtualClock
    opt, where, _ = parse_args(argv)
    where = where.removeprefix("inet:")
    addr, _, port = where.rpartition(":")
    addr = addr.strip("[]") or "*"
    clock = VirtualClock(host.net.loop)
    sink = SmtpSink(opt, root=host.root, now=clock.now,
                    rng=random.Random(f"{host.net.seed}/{host.name}/{port}"))
    sink.listen(host, int(port), addr)
    return sink
