"""smtpd's shortcut through aiosmtpd's SMTP.__init__ must build the same protocol object."""

from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP

from simlab.postfix.smtpd.aioinit import init_smtp
from simlab.postfix.smtpd.session import SmtpdSession, _NoHandler


def _real_and_fast() -> tuple[SmtpdSession, SmtpdSession]:
    loop = asyncio.new_event_loop()
    try:
        real = SmtpdSession.__new__(SmtpdSession)
        SMTP.__init__(real, _NoHandler(), hostname="mail.example.com", loop=loop, timeout=300.0,
                      enable_SMTPUTF8=True)
        fast = SmtpdSession.__new__(SmtpdSession)
        init_smtp(fast, _NoHandler(), "mail.example.com", loop, 300.0)
    finally:
        loop.close()
    return real, fast


def _state(session: SmtpdSession) -> dict:
    """The instance dict and the slots that are set."""
    state = dict(vars(session))
    for name in SmtpdSession.__slots__:
        if hasattr(session, name):
            state[name] = getattr(session, name)
    return state


def test_fast_init_sets_the_same_attributes():
    real, fast = _real_and_fast()
    lazy = {"_auth_methods", "_smtp_methods"}       # built on first use
    assert sorted(set(_state(real)) - lazy) == sorted(_state(fast))
    assert "hostname" in _state(fast) and "_timeout_duration" in _state(fast)
    skip = lazy | {"_strong_reader", "_stream_reader", "_stream_reader_wr", "_closed", "event_handler", "_client_connected_cb",
            "_auth_methods", "_smtp_methods", "_handle_hooks"}
    for name, value in _state(real).items():
        if name not in skip:
            assert _state(fast)[name] == value, name


def test_fast_init_collects_the_same_methods():
    real, fast = _real_and_fast()
    assert list(real._auth_methods) == list(fast._auth_methods)
    for name, attr in real._auth_methods.items():
        other = fast._auth_methods[name]
        assert attr.is_builtin == other.is_builtin
        assert attr.method.__func__ is other.method.__func__
    assert list(real._smtp_methods) == list(fast._smtp_methods)
    assert all(real._smtp_methods[k].__func__ is fast._smtp_methods[k].__func__ for k in real._smtp_methods)
    assert real._handle_hooks == fast._handle_hooks == {}
    assert real._stream_reader._limit == fast._stream_reader._limit
