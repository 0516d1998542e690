"""NAME
    settings - smtpd(8) parameter values, converted once per configuration

SUMMARY
    p = settings_for(cfg)                    # the same object while cfg is the same Config
    p.int("smtpd_soft_error_limit", 10)      # param_int(cfg, ...), remembered
    p.bool("smtpd_delay_reject")             # param_bool(cfg, ...), remembered
    p.text("smtpd_banner", "")               # param_str(cfg, ...), remembered
    p.words("smtpd_relay_restrictions")      # tuple(split_list(...)), remembered
    p.upper_words("smtpd_noop_commands")     # frozenset of the list's words, upper case
    p.derived("name", fn)                    # fn(p), remembered

DESCRIPTION
    smtpd reads some parameters on every command and every reply (error
    limits, NOOP-like commands, envelope strictness). A Config is
    immutable (a reload builds a new one and smtpd sessions are handed the
    new object), so each value is converted once per Config object, with
    the defaults and fallbacks of config/fallback.py. A value that does not
    convert (ConfigError) is not remembered: it raises again on every use,
    as it did before.

SEE ALSO
    postconf(5), config/fallback.py
"""

from __future__ import annotations

from typing import Any, Callable

from ..config.fallback import param_bool, param_int, param_str, param_time
from .lists import split_list

_MISSING = object()


class Settings:
    """The converted parameter values of one Config object."""

    __slots__ = ("cfg", "_values", "_ints", "_bools", "_words")

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self._values: dict[tuple[str, str, Any], Any] = {}
        # name -> (default, value) for the ~40 int/bool/list reads per SMTP transaction:
        # a lookup by the name alone, without a key tuple to build and hash per read
        self._ints: dict[str, tuple[Any, Any]] = {}
        self._bools: dict[str, tuple[Any, Any]] = {}
        self._words: dict[str, tuple[Any, Any]] = {}

    def _remember(self, fast: dict[str, tuple[Any, Any]], kind: str, name: str, default: Any,
                  convert: Callable[[Any, str, Any], Any]) -> Any:
        key = (kind, name, default)
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = self._values[key] = convert(self.cfg, name, default)
        fast[name] = (default, value)
        return value

    def int(self, name: str, default: int) -> int:
        hit = self._ints.get(name)
        if hit is not None and hit[0] == default:
            return hit[1]
        return self._remember(self._ints, "i", name, default, param_int)

    def bool(self, name: str, default: bool = False) -> bool:
        hit = self._bools.get(name)
        if hit is not None and hit[0] == default:
            return hit[1]
        return self._remember(self._bools, "b", name, default, param_bool)

    def time(self, name: str, default: float) -> float:
        key = ("t", name, default)
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = self._values[key] = param_time(self.cfg, name, default)
        return value

    def text(self, name: str, default: str = "") -> str:
        key = ("s", name, default)
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = self._values[key] = param_str(self.cfg, name, default)
        return value

    def words(self, name: str, default: str = "") -> tuple[str, ...]:
        hit = self._words.get(name)
        if hit is not None and hit[0] == default:
            return hit[1]
        return self._remember(self._words, "w", name, default, _param_words)

    def upper_words(self, name: str, default: str = "") -> frozenset[str]:
        key = ("U", name, default)
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            words = split_list(param_str(self.cfg, name, default))
            value = self._values[key] = frozenset(w.upper() for w in words)
        return value

    def derived(self, name: str, fn: Callable[[Settings], Any]) -> Any:
        """fn(self), a value computed from this configuration's parameters, remembered."""
        key = ("d", name, None)
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = self._values[key] = fn(self)
        return value


def _param_words(cfg: Any, name: str, default: str) -> tuple[str, ...]:
    return tuple(split_list(param_str(cfg, name, default)))


# id(cfg) -> Settings; the Settings keeps its cfg alive, so the id is not reused meanwhile
_BY_CFG: dict[int, Settings] = {}


def settings_for(cfg: Any) -> Settings:
    """The Settings of this Config object (a new one after a reload)."""
    hit = _BY_CFG.get(id(cfg))
    if hit is None or hit.cfg is not cfg:
        if len(_BY_CFG) > 64:
            _BY_CFG.clear()
        hit = _BY_CFG[id(cfg)] = Settings(cfg)
    return hit
