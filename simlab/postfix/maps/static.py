"""
NAME
    static - static:value tables that answer every key with the same value

SUMMARY
    StaticMap(name)

DESCRIPTION
    static:5000 returns "5000" for any key (virtual_uid_maps = static:5000).
    A value with whitespace is written in {}: static:{with space} returns
    "with space" (braces and surrounding whitespace removed). The table
    cannot be listed or changed.
"""

from __future__ import annotations

from .base import Map, MapError, Warn
from .textutil import CHARS_BRACE, extpar


class StaticMap(Map):
    type = "static"

    def __init__(self, name: str, *, warn: Warn | None = None, **_: object) -> None:
        super().__init__(name, fold=False, warn=warn)
        if name.startswith(CHARS_BRACE[0]):
            value, err = extpar(name, CHARS_BRACE, True)
            if err:
                raise MapError(f"bad static:name syntax: {err}")
            self.value = value
        else:
            self.value = name

    def lookup(self, key: str) -> str | None:
        return self.value
