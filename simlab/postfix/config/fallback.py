"""NAME
    fallback - parameter values with a default for names the configuration lacks

SUMMARY
    limit = param_int(cfg, "smtpd_recipient_limit", 1000)
    class Session(ParamGetters): ...      # self._int(name, default), self._bool(name)

DESCRIPTION
    Daemons read their parameters through Config's typed getters; these
    wrappers give the caller's default where the name is unknown (a
    KeyError) or the value does not convert (a ValueError). A ConfigError
    (a value Postfix would reject with "fatal: bad numerical
    configuration") is not caught: it stops the caller as it stops Postfix.
    param_time also accepts a configuration without get_time (a plain
    mapping in a test).

    ParamGetters gives the same as methods of an object with a ``cfg``
    attribute or property.

    See postconf(5).
"""

from __future__ import annotations

from typing import Any


def param_str(cfg: Any, name: str, default: str = "") -> str:
    """cfg[name], or default for a name the configuration does not know."""
    try:
        return cfg[name]
    except KeyError:
        return default


def param_int(cfg: Any, name: str, default: int) -> int:
    """cfg.get_int(name), or default."""
    try:
        return cfg.get_int(name)
    except (KeyError, ValueError):
        return default


def param_bool(cfg: Any, name: str, default: bool = False) -> bool:
    """cfg.get_bool(name), or default."""
    try:
        return cfg.get_bool(name)
    except (KeyError, ValueError):
        return default


def param_time(cfg: Any, name: str, default: float) -> float:
    """cfg.get_time(name) in seconds, or default."""
    try:
        return float(cfg.get_time(name))
    except (KeyError, ValueError, AttributeError):
        return default


class ParamGetters:
    """_int and _bool over ``self.cfg`` for the classes that read many parameters."""

    cfg: Any

    def _int(self, name: str, default: int) -> int:
        return param_int(self.cfg, name, default)

    def _bool(self, name: str, default: bool = False) -> bool:
        return param_bool(self.cfg, name, default)
