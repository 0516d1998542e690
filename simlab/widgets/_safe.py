"""NAME
    _safe - errors in words a student understands, and callbacks that never raise

SUMMARY
    plain_error(exc, where="mail.example.com port 25") -> "Connection refused: ..."
    @guarded(status_setter) def on_click(...): ...

DESCRIPTION
    A widget never dies with a traceback (design principle 7): every
    callback of a view runs inside ``guarded``, which turns an exception into
    a sentence shown in the widget, and the widget stays usable.
"""

from __future__ import annotations

import functools
import html
import socket
from typing import Any, Callable


def plain_error(exc: BaseException, where: str = "") -> str:
    """One or two sentences saying what went wrong and what to try."""
    at = f" {where}" if where else ""
    if isinstance(exc, ConnectionRefusedError):
        return (f"Connection refused{(' by' + at) if at else ''}: nothing is listening there. Is the server "
                "running, and is this the right port?")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return (f"No answer{(' from' + at) if at else ''}: the host is down, the network link is cut, or "
                "the server is busy. Try again later or check the host.")
    if isinstance(exc, socket.gaierror):
        return f"Unknown host{at}: this name has no address."
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return f"The connection{(' to' + at) if at else ''} was cut (reset by the other side)."
    if isinstance(exc, PermissionError):
        return f"Permission denied{at}: {exc.strerror or exc}."
    if isinstance(exc, FileNotFoundError):
        return f"No such file{at}: {exc.filename or exc}."
    if isinstance(exc, OSError) and exc.strerror:
        return f"Network or file error{at}: {exc.strerror}."
    if isinstance(exc, (ValueError, KeyError, LookupError)):
        msg = exc.args[0] if exc.args else type(exc).__name__
        return f"{msg}" if isinstance(msg, str) else f"Not found: {msg!r}"
    return f"Something went wrong{at}: {type(exc).__name__}: {exc}"


def guarded(report: Callable[[str], None]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run the callback; on any exception call ``report`` with plain words instead."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - a widget must survive anything
                report(plain_error(exc))
                return None
        return inner
    return wrap


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def status_html(text: str, ok: bool = True) -> str:
    colour = "#006d4f" if ok else "#b03a00"
    return f"<span style='color:{colour}'>{esc(text)}</span>" if text else ""
