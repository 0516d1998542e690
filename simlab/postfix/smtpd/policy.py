"""NAME
    policy - check_policy_service: smtpd(8)'s policy delegation client

SUMMARY
    smtpd_recipient_restrictions = ..., check_policy_service inet:127.0.0.1:10023
    smtpd_recipient_restrictions = ..., check_policy_service unix:private/policy
    smtpd_recipient_restrictions = ..., check_policy_service { inet:127.0.0.1:9998, timeout=10s,
                                                              default_action=DUNNO }

DESCRIPTION
    The request is Postfix's (SMTPD_POLICY_README): name=value lines in
    smtpd's order (request=smtpd_access_policy, protocol_state,
    protocol_name, client_address, client_name, client_port,
    reverse_client_name, server_address, server_port, helo_name, sender,
    recipient, recipient_count (only at DATA and END-OF-MESSAGE),
    queue_id, instance, size, etrn_domain, stress, sasl_method,
    sasl_username, sasl_sender, ccert_*, encryption_*, policy_context)
    and an empty line; the reply is "action=..." and an empty line. The
    action means what it means in an access(5) table (access.py): OK,
    DUNNO, REJECT text, DEFER text, DEFER_IF_PERMIT text, DEFER_IF_REJECT
    text, 4xx/5xx text, PREPEND header: text, WARN, INFO, HOLD, DISCARD,
    FILTER, REDIRECT, BCC or restrictions.

    Each server has one connection per SMTP session, used for every
    request and closed when the session ends, after max_idle seconds
    without use, after max_ttl seconds, or after request_limit requests.
    A request that cannot be completed (connect error, no reply within
    the timeout, a reply without "action") is tried again after
    retry_delay on a new connection, try_limit times in all, with
    attr_clnt's warnings ("connect to 127.0.0.1:10023: Connection
    refused", "problem talking to server 127.0.0.1:10023: ..."); then
    the default action decides, by default
    "451 4.3.5 <rcpt>: Recipient address rejected: Server configuration problem".

    "unix:" endpoints are relative to queue_directory; they exist only
    under ``simlab serve`` (a simulated host has no UNIX-domain sockets,
    so the request fails as if nothing listened).

PARAMETERS
    smtpd_policy_service_timeout, smtpd_policy_service_max_idle,
    smtpd_policy_service_max_ttl, smtpd_policy_service_request_limit,
    smtpd_policy_service_try_limit, smtpd_policy_service_retry_delay,
    smtpd_policy_service_default_action, smtpd_policy_service_policy_context
    (each also as a per-server override without the prefix). See postconf(5).

SEE ALSO
    smtpd(8), SMTPD_POLICY_README, access(5), simlab.sim.postgrey
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import Any

from ..config.fallback import param_int, param_time
from .lists import get, split_list

DEF_DEFAULT_ACTION = "451 4.3.5 Server configuration problem"
_TIMES = {"timeout": 100.0, "max_idle": 300.0, "max_ttl": 1000.0, "retry_delay": 1.0}
_INTS = {"request_limit": 0, "try_limit": 2}
_STRS = {"default_action": DEF_DEFAULT_ACTION, "policy_context": ""}
# attr_clnt stays quiet on the first failure for these (the server may just have closed an idle connection).
_QUIET = (0, errno.EPIPE, errno.ENOENT, errno.ECONNRESET)


class PolicyError(Exception):
    """One failed request; errno as attr_clnt would see it."""

    def __init__(self, err: int, text: str) -> None:
        super().__init__(text)
        self.errno, self.text = err, text


class PolicyClient:
    """attr_clnt(3) + auto_clnt(3) for one policy server of one session."""

    def __init__(self, session: Any, spec: str) -> None:
        self.s = session
        self.spec = spec
        cfg = session.cfg
        self.settings: dict[str, Any] = {}
        for name, default in {**_TIMES, **_INTS, **_STRS}.items():
            param = f"smtpd_policy_service_{name}"
            if name in _TIMES:
                self.settings[name] = param_time(cfg, param, default)
            elif name in _INTS:
                self.settings[name] = param_int(cfg, param, default)
            else:
                self.settings[name] = get(cfg, param, default)
        name = spec
        if spec.startswith("{"):
            words = split_list(spec[1:-1] if spec.endswith("}") else spec[1:])
            name = words[0] if words else ""
            for word in words[1:]:
                self._override(word.strip("{} \t"))
        self.transport, _, self.endpoint = name.partition(":")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.opened = self.used = 0.0
        self.count = 0

    def _override(self, item: str) -> None:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in self.settings:
            self.s.log_warning(f'unknown attribute override "{item}" in policy service "{self.spec}"')
            return
        if key in _TIMES:
            self.settings[key] = _seconds(value, self.settings[key])
        elif key in _INTS:
            self.settings[key] = int(value) if value.isascii() and value.isdigit() else self.settings[key]
        else:
            self.settings[key] = value

    # -- connection ------------------------------------------------------------------------
    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _open(self) -> None:
        ctx = self.s.ctx
        now = ctx.now()
        if self.writer is not None and (now - self.used > self.settings["max_idle"] > 0
                                        or now - self.opened > self.settings["max_ttl"] > 0):
            self.close()
        if self.writer is not None:
            return
        try:
            conn = self._connect()
            self.reader, self.writer = await asyncio.wait_for(conn, self.settings["timeout"])
        except (OSError, asyncio.TimeoutError) as exc:
            err = getattr(exc, "errno", None) or errno.ETIMEDOUT
            text = getattr(exc, "strerror", None) or os.strerror(err)
            self.s.log_warning(f"connect to {self.endpoint}: {text}")
            raise PolicyError(err, text) from None
        self.opened, self.used, self.count = now, now, 0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ctx = self.s.ctx
        net = ctx.net
        if self.transport == "inet":
            host, _, port = self.endpoint.rpartition(":")
            if not (port.isascii() and port.isdigit()):
                raise OSError(errno.EINVAL, "Invalid argument")
            return await net.connect(host.strip("[]"), int(port), "smtpd")
        if self.transport in ("unix", "local"):
            from ..commands_registry import is_real
            opener = getattr(net, "connect_unix", None)
            if opener is not None:
                return await opener(self.endpoint, "smtpd")
            if not is_real(ctx):
                raise OSError(errno.ENOENT, "No such file or directory")
            path = self.endpoint if self.endpoint.startswith("/") else \
                f"{get(self.s.cfg, 'queue_directory', '/var/spool/postfix').rstrip('/')}/{self.endpoint}"
            return await _open_unix(ctx.path(path))
        raise OSError(errno.EINVAL, f"invalid attribute transport name: {self.transport}")

    # -- requests ----------------------------------------------------------------------------
    async def request(self, attrs: list[tuple[str, str]]) -> str | None:
        """attr_clnt_request(): the action, or None when every try failed."""
        tries = 0
        limit = self.settings["try_limit"]
        while True:
            err, text = 0, "Success"
            try:
                action = await self._exchange(attrs)
                if action is not None:
                    return action
            except PolicyError as exc:
                err, text = exc.errno, exc.text
            tries += 1
            if (limit > 0 and tries >= limit) or err not in _QUIET:
                self.s.log_warning(f"problem talking to server {self.endpoint}: {text}")
            self.close()
            if limit > 0 and tries >= limit:
                return None
            await self.s.ctx.sleep(self.settings["retry_delay"])

    async def _exchange(self, attrs: list[tuple[str, str]]) -> str | None:
        await self._open()
        assert self.reader is not None and self.writer is not None
        if self.reader.at_eof() or self.reader._buffer:       # readable before we send: the server hung up
            return None
        request = "".join(f"{k}={v}\n" for k, v in attrs) + "\n"
        timeout = self.settings["timeout"]
        try:
            self.writer.write(request.encode("utf-8", "surrogateescape"))
            await asyncio.wait_for(self.writer.drain(), timeout)
            reply: dict[str, str] = {}
            while True:
                raw = await asyncio.wait_for(self.reader.readline(), timeout)
                if not raw:
                    return None
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not line:
                    break
                key, eq, value = line.partition("=")
                if not eq:
                    self.s.log_warning(f"missing attribute name in input from {self.endpoint}")
                    return None
                reply[key] = value
        except asyncio.TimeoutError:
            raise PolicyError(errno.ETIMEDOUT, "Connection timed out") from None
        except OSError as exc:
            raise PolicyError(exc.errno or errno.EIO, exc.strerror or str(exc)) from None
        self.used = self.s.ctx.now()
        if "action" not in reply:
            self.s.log_warning(f"missing attribute action in input from {self.endpoint}")
            return None
        self.count += 1
        if 0 < self.settings["request_limit"] <= self.count:
            self.close()
        return reply["action"]


class PolicyMixin:
    """check_policy_service for SmtpdChecks."""

    s: Any
    policy_clients: dict[str, PolicyClient]
    policy_nesting = 0
    etrn_name: str | None = None

    async def check_policy_service(self, server: str, name: str, cls: str) -> str:
        c: Any = self
        client = self.policy_clients.get(server)
        if client is None:
            client = self.policy_clients[server] = PolicyClient(self.s, server)
        action = await client.request(self.policy_request(client))
        if action is not None:
            return await c._table_result(action, name, cls, server, datum="policy query")
        self.policy_nesting += 1
        try:
            default = client.settings["default_action"] if self.policy_nesting == 1 else DEF_DEFAULT_ACTION
            return await c._table_result(default, name, cls, server, datum="policy query")
        finally:
            self.policy_nesting -= 1

    def close_policy_clients(self) -> None:
        for client in self.policy_clients.values():
            client.close()
        self.policy_clients.clear()

    def policy_request(self, client: PolicyClient) -> list[tuple[str, str]]:
        s = self.s
        where = "DATA" if s.where == "BDAT" else s.where
        instance = ""
        if s.sender is not None and s.where != "MAIL":
            # pid, arrival time and the number of this session's MAIL transactions, as smtpd.c makes it
            seqno = max(s.counts.get("MAIL", [1, 1])[0] - 1, 0)
            usec = int(round((s.arrival - int(s.arrival)) * 1e6))
            instance = f"{s.pid:x}.{int(s.arrival):x}.{usec:x}.{seqno:x}"
        count = s.rcpt_count if where in ("DATA", "END-OF-MESSAGE") else 0
        return [("request", "smtpd_access_policy"), ("protocol_state", where), ("protocol_name", s.protocol),
                ("client_address", s.client_addr), ("client_name", s.client_name),
                ("client_port", str(s.client_port)),
                ("reverse_client_name", getattr(s, "reverse_name", s.client_name)),
                ("server_address", s.server_addr), ("server_port", str(s.server_port)),
                ("helo_name", s.helo_name or ""), ("sender", s.sender or ""),
                ("recipient", s.recipient or ""), ("recipient_count", str(count)),
                ("queue_id", s.queue_id or ""), ("instance", instance),
                ("size", str(s.act_size if s.act_size > 0 else s.msg_size)),
                ("etrn_domain", self.etrn_name or ""), ("stress", ""),
                ("sasl_method", s.sasl_method if s.sasl_username else ""),
                ("sasl_username", s.sasl_username or ""), ("sasl_sender", ""),
                ("ccert_subject", ""), ("ccert_issuer", ""), ("ccert_fingerprint", ""),
                ("ccert_pubkey_fingerprint", ""), ("encryption_protocol", ""), ("encryption_cipher", ""),
                ("encryption_keysize", "0"), ("policy_context", client.settings["policy_context"])]


async def _open_unix(path: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to a UNIX-domain socket; a path too long for sun_path goes through its directory."""
    if len(str(path).encode()) < 100 or not os.path.isdir("/proc/self/fd"):
        return await asyncio.open_unix_connection(str(path))
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        return await asyncio.open_unix_connection(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def _seconds(text: str, default: float) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    num = text[:-1] if text[-1:] in units else text
    if not (num.isascii() and num.isdigit()):
        return default
    return float(num) * units.get(text[-1:], 1)
