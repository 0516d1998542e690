"""NAME
    aioinit - aiosmtpd's SMTP.__init__ for smtpd's sessions, without its introspection

SUMMARY
    init_smtp(session, handler, hostname, loop, timeout)   # instead of SMTP.__init__(...)
    _auth_methods = functools.cached_property(auth_methods)
    _smtp_methods = functools.cached_property(smtp_methods)

DESCRIPTION
    aiosmtpd's SMTP.__init__ walks the class with inspect.getmembers() and
    dir() on every connection to collect its auth_*, handle_* and smtp_*
    methods. smtpd replaces aiosmtpd's command loop and AUTH, so those
    tables are only kept for completeness: the member names are found once
    per class, and the two method tables are built when first used.

SEE ALSO
    aiosmtpd.smtp.SMTP, session.py
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiosmtpd import smtp as aiosmtpd_smtp
from aiosmtpd.smtp import SMTP


def init_smtp(self: SMTP, handler: Any, hostname: str, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    """aiosmtpd's ``SMTP.__init__(handler, hostname=, loop=, timeout=, enable_SMTPUTF8=True)``.

    The same attributes with the same values (tests/test_smtpd_fastinit.py
    compares them), minus the per-connection class introspection
    (inspect.getmembers and dir() over ~300 names, ~0.4 ms per connection)
    whose results depend only on the classes: the method names are looked
    up once per class.
    """
    hook_names = _names(type(self), type(handler))[1]
    self.__ident__ = aiosmtpd_smtp.__ident__
    self.loop = loop
    asyncio.StreamReaderProtocol.__init__(
        self, asyncio.StreamReader(loop=loop, limit=self.line_length_limit),
        client_connected_cb=self._cb_client_connected, loop=loop)
    self.event_handler = handler
    self.data_size_limit = aiosmtpd_smtp.DATA_SIZE_DEFAULT
    self.enable_SMTPUTF8 = True
    self._decode_data = False
    self.command_size_limits.clear()
    self.hostname = hostname if hostname else socket.getfqdn()
    self.tls_context = None
    self.require_starttls = None
    self._timeout_duration = timeout
    self._timeout_handle = None
    self._tls_handshake_okay = True
    self._tls_protocol = None
    self._original_transport = None
    self.session = None
    self.envelope = None
    self.transport = None
    self._handler_coroutine = None
    self._auth_require_tls = True
    self._proxy_timeout = None
    self._auth_callback = aiosmtpd_smtp.login_always_fail
    self._authenticator = None
    self._auth_required = False
    self._handle_hooks = {m.replace("handle_", ""): getattr(handler, m) for m in hook_names}
    self._ehlo_hook_ver = None
    self._enforce_call_limit = False
    # _auth_methods and _smtp_methods (aiosmtpd's own AUTH and command dispatch,
    # which smtpd replaces) are built on first use: auth_methods(), smtp_methods().


def auth_methods(self: SMTP) -> dict[str, Any]:
    auth_names = _names(type(self), type(self.event_handler))[0]
    methods = {}
    for _obj, is_builtin, mname in auth_names:
        mfunc = getattr(self if is_builtin else self.event_handler, mname)
        methods[getattr(mfunc, "__auth_mechanism_name__", mname.replace("auth_", "").replace("__", "-"))] = \
            aiosmtpd_smtp._AuthMechAttr(mfunc, is_builtin)
    return methods


def smtp_methods(self: SMTP) -> dict[str, Any]:
    smtp_names = _names(type(self), type(self.event_handler))[2]
    return {m.replace("smtp_", ""): getattr(self, m) for m in smtp_names}


_SMTP_NAMES: dict[tuple[type, type], Any] = {}


def _names(cls: type, handler_cls: type) -> tuple[list[tuple[str, bool, str]], list[str], list[str]]:
    """_smtp_names(), found once per pair of classes (whoever asks first: a session or aiosmtpd)."""
    names = _SMTP_NAMES.get((cls, handler_cls))
    if names is None:
        names = _SMTP_NAMES[(cls, handler_cls)] = _smtp_names(cls, handler_cls)
    return names


def _smtp_names(cls: type, handler_cls: type) -> tuple[list[tuple[str, bool, str]], list[str], list[str]]:
    """The auth_*, handle_* and smtp_* member names SMTP.__init__ collects, in its order."""
    if any(n.startswith("handle_EHLO") for n in dir(handler_cls)):
        raise TypeError("_init_smtp: handlers with an EHLO hook need aiosmtpd's own __init__")
    auth = [("self", True, n) for n in sorted(dir(cls)) if n.startswith("auth_")]
    auth += [("handler", False, n) for n in sorted(dir(handler_cls)) if n.startswith("auth_")]
    hooks = [n for n in dir(handler_cls) if n.startswith("handle_")]
    smtp = [n for n in dir(cls) if n.startswith("smtp_")]
    return auth, hooks, smtp
