"""NAME
    postgrey - a greylisting policy server for a simulated host's Postfix

SUMMARY
    grey = Postgrey(host, delay=300).start()     # listens on 127.0.0.1:10023 of the host
    # main.cf:  smtpd_recipient_restrictions = ..., check_policy_service inet:127.0.0.1:10023
    grey.decide({"client_address": "10.0.0.25", "sender": "a@x", "recipient": "b@y"})
    grey.stop()

DESCRIPTION
    Postgrey speaks Postfix's policy delegation protocol (SMTPD_POLICY_README):
    smtpd sends one request of name=value lines ending with an empty line
    (request=smtpd_access_policy, client_address, client_name, sender,
    recipient, ...), the server answers "action=..." and an empty line, and
    the connection may carry more requests.

    The greylisting decision is postgrey's: the key is the triplet
    client network (the address with its last byte set to 0, unless the
    client's name contains its last two address bytes), sender (without
    +extension, numbers replaced by #) and recipient. The first time a
    triplet is seen, and on every retry before ``delay`` seconds have
    passed, the answer is

        action=DEFER_IF_PERMIT 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/oreilly.com.html

    (Postfix then replies "450 4.2.0 <rcpt>: Recipient address rejected:
    Greylisted, see ..."). The first retry after the delay passes and gets
    an X-Greylist header prepended; later mail of the same triplet passes
    with DUNNO. A first retry later than ``retry_window`` starts over. After
    ``auto_whitelist`` successful triplets a client passes at once.

    Each decision is logged like postgrey's syslog lines:

        postgrey[1402]: action=greylist, reason=new, client_name=mail.example.com,
            client_address=10.0.0.25, sender=alice@example.com, recipient=bob@oreilly.com

PARAMETERS
    --delay (300), --retry-window (2 days), --auto-whitelist-clients (5),
    --greylist-action (DEFER_IF_PERMIT), --greylist-text, --inet (10023).

SEE ALSO
    postgrey(8), Postfix SMTPD_POLICY_README, simlab.sim.faults
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Callable

GREYLIST_TEXT = "Greylisted, see http://postgrey.schweikert.ch/help/%r.html"
VERSION = "1.37"
PORT = 10023


def sender_key(addr: str) -> str:
    user, at, domain = addr.partition("@")
    if not at:
        return addr
    user = re.sub(r"\b\d+\b", "#", user.split("+", 1)[0])
    return f"{user}@{domain}"


def client_key(ip: str, name: str) -> str:
    parts = ip.split(".")
    if len(parts) != 4:
        return ip
    if parts[2] in name and parts[3] in name:
        return ip
    return ".".join(parts[:3] + ["0"])


class Postgrey:
    """A greylisting policy server on one simulated host (see the module documentation)."""

    def __init__(self, host: Any, *, delay: float = 300, retry_window: float = 2 * 86400,
                 auto_whitelist: int = 5, port: int = PORT, addr: str = "127.0.0.1",
                 action: str = "DEFER_IF_PERMIT", text: str = GREYLIST_TEXT,
                 clock: Callable[[], float] | None = None) -> None:
        self.host = host
        self.delay = delay
        self.retry_window = retry_window
        self.auto_whitelist = auto_whitelist
        self.port = port
        self.addr = addr
        self.action = action
        self.text = text
        self.clock = clock or self._host_clock
        self.db: dict[str, tuple[float, float]] = {}
        self.clients: dict[str, tuple[int, float]] = {}
        self.decisions: list[tuple[float, str]] = []
        self.pid = 0
        self.running = False

    def _host_clock(self) -> float:
        pf = self.host.services.get("postfix")
        if pf is not None:
            return float(pf.ctx.now())
        from ..postfix.common.context import LAB_EPOCH
        return LAB_EPOCH + self.host.net.now

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> "Postgrey":
        if not self.running:
            self.host.listen_streams(self.port, self._serve, component="postgrey", addr=self.addr)
            pf = self.host.services.get("postfix")
            self.pid = pf.ctx.pids.next() if pf is not None else 1402
            self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.host.unlisten(self.port, addr=self.addr)
            self.running = False

    # -- the decision ---------------------------------------------------------------------
    def log(self, attrs: dict[str, str], action: str, reason: str, extra: str = "") -> None:
        info = [f"action={action}", f"reason={reason}"] + ([extra] if extra else [])
        info += [f"{k}={attrs[k]}" for k in ("client_name", "client_address", "sender", "recipient")
                 if attrs.get(k)]
        text = (f"{attrs['queue_id']}: " if attrs.get("queue_id") else "") + ", ".join(info)
        self.decisions.append((self.host.net.now, text))
        pf = self.host.services.get("postfix")
        if pf is None:
            return
        ctx = pf.ctx
        line = f"{time.strftime('%b %d %H:%M:%S', time.gmtime(int(ctx.now())))} " \
               f"{ctx.log.host_label()} postgrey[{self.pid}]: {text}"
        ctx.trace.record("postgrey", "log", program="postgrey", pid=self.pid, text=text, line=line)
        try:
            target = ctx.config["maillog_file"]
        except KeyError:
            target = ""
        if target:
            with open(ctx.path(target), "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def decide(self, attrs: dict[str, str]) -> str:
        """smtpd_access_policy(): the action for one request."""
        now = self.clock()
        client = attrs.get("client_address", "")
        seen = self.clients.get(client)
        if self.auto_whitelist and seen is not None and seen[0] >= self.auto_whitelist:
            self.log(attrs, "pass", "client AWL")
            return "DUNNO"
        key = "/".join((client_key(client, attrs.get("client_name", "")),
                        sender_key(attrs.get("sender", "")), attrs.get("recipient", ""))).lower()
        first, last_ok = now, False
        if key in self.db:
            first, last = self.db[key]
            if last - first >= self.delay:
                last_ok = True
            elif now - first > self.retry_window:
                first = now
        self.db[key] = (first, now)
        wait = self.delay - (now - first)
        if wait > 0:
            msg = self.text
            if "etrn_domain" in attrs and not msg[:1].isdigit():
                msg = "4.2.0 " + msg
            domain = attrs.get("recipient", "").rpartition("@")[2]
            msg = msg.replace("%s", str(int(wait))).replace("%r", domain)
            self.log(attrs, "greylist", "new" if now == first else f"early-retry ({int(wait)}s missing)")
            return f"{self.action} {msg}"
        if not last_ok:
            count, _ = self.clients.get(client, (0, 0.0))
            self.clients[client] = (count + 1, now)
            delayed = int(now - first)
            self.log(attrs, "pass", "triplet found", f"delay={delayed}")
            stamp = time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime(int(now)))
            return (f"PREPEND X-Greylist: delayed {delayed} seconds by postgrey-{VERSION} at "
                    f"{self.host.name.split('.', 1)[0]}; {stamp}")
        self.log(attrs, "pass", "triplet found")
        return "DUNNO"

    # -- the policy protocol ------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attrs: dict[str, str] = {}
        try:
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line:
                    name, eq, value = line.partition("=")
                    if eq:
                        attrs[name[:512]] = value[:512]
                    continue
                if attrs.get("request") == "smtpd_access_policy":
                    writer.write(f"action={self.decide(attrs)}\n\n".encode())
                    await writer.drain()
                attrs = {}
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()      # no await here: a coroutine being discarded must not wait
