"""
NAME
    inline - inline:{ key=value, { key = text with spaces }, ... } tables

SUMMARY
    InlineMap(name, fold=True, warn=None)

DESCRIPTION
    The table is written in main.cf itself: the name is a {}-enclosed list
    of key=value pairs separated by comma or whitespace; a pair that
    contains whitespace is enclosed in {} of its own. Keys are folded like
    those of hash: tables. A later duplicate replaces an earlier one, as in
    Postfix (no duplicate check). Syntax errors make the table unusable
    with Postfix's wording, e.g. 'bad syntax: "inline:x"; need
    "inline:{name=value...}"'.
"""

from __future__ import annotations

from typing import Iterator

from .base import Map, MapError, Warn, fold_key
from .textutil import CHARS_BRACE, CHARS_COMMA_SP, balpar, extpar, mystrtokq, split_nameval


class InlineMap(Map):
    type = "inline"

    def __init__(self, name: str, *, fold: bool = True, warn: Warn | None = None, **_: object) -> None:
        super().__init__(name, fold=fold, warn=warn)
        need = f'"inline:{name}"; need "inline:{{name=value...}}"'
        n = balpar(name, CHARS_BRACE)
        if n == 0 or n != len(name) or not name[1:n - 1]:
            raise MapError(f"bad syntax: {need}")
        self.table: dict[str, str] = {}
        err = None
        for nameval in mystrtokq(name[1:n - 1], CHARS_COMMA_SP, CHARS_BRACE):
            if nameval[0] == CHARS_BRACE[0]:
                nameval, err = extpar(nameval, CHARS_BRACE, True)
                if err:
                    break
            parsed = split_nameval(nameval)
            if isinstance(parsed, str):
                err = parsed
                break
            key, value = parsed
            self.table[fold_key(key) if fold else key] = value
        if err is not None or not self.table:
            raise MapError(f"{err if err is not None else 'empty table'}: {need}")

    def lookup(self, key: str) -> str | None:
        return self.table.get(fold_key(key) if self.fold else key)

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(list(self.table.items()))
