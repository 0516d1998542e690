"""
NAME
    texthash - texthash: tables, read from the text file at every open

SUMMARY
    TexthashMap(name, root=None, fold=True, dup=None, warn=None)
    parse_texthash(data, name, warn) -> iterator of (lineno, key, value)

DESCRIPTION
    A texthash: table has the postmap(1) input format ("key whitespace
    value", continuation lines, # comments) but no .db file: the text file
    is parsed into memory whenever the table is opened, so every
    "postmap -q KEY texthash:FILE" repeats the file's warnings. Unlike
    postmap, the key ends at the first whitespace (no quoted keys), and the
    format warnings end in "-- ignoring this line".

    Duplicate keys: dup="warn" keeps the first value and warns
    'FILE, line N: duplicate entry: "key"' (postmap's default); "ignore"
    (-w) and "replace" (-r) as with hash:. With dup=None -- how Postfix
    daemons open tables -- a duplicate key makes the whole table unavailable
    (MapError with the same text).

    Real Postfix re-reads a file that was modified within the last second
    while it was being read ("let file cool down"); simlab reads it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .base import FileMap, MapError, Warn, fold_key, os_error_text
from .textutil import C_SPACE, is_utf8, non_utf8, read_text, readllines


def parse_texthash(data: str, name: str, warn: Warn) -> Iterator[tuple[int, str, str]]:
    """The key/value records of a texthash source, with Postfix's warnings."""
    for lineno, _last, line in readllines(data, name, warn):
        if not is_utf8(line):
            warn(non_utf8(name, lineno, line))
            continue
        cut = len(line)
        for i, ch in enumerate(line):
            if ch in " \t\r\n":
                cut = i
                break
        key = line[:cut].rstrip(C_SPACE)
        value = line[cut + 1:].lstrip(C_SPACE).rstrip(C_SPACE)
        if not key or not value:
            warn(f"{name}, line {lineno}: expected format: key whitespace value -- ignoring this line")
            continue
        if key.endswith(":"):
            warn(f'{name}, line {lineno}: record is in "key: value" format; is this an alias file?')
        yield lineno, key, value


class TexthashMap(FileMap):
    type = "texthash"

    def __init__(self, name: str, *, root: Path | str | None = None, fold: bool = True,
                 dup: str | None = None, warn: Warn | None = None) -> None:
        super().__init__(name, root=root, fold=fold, warn=warn)
        path = self.path()
        try:
            data = read_text(str(path))
        except OSError as exc:
            raise MapError(f"open database {name}: {os_error_text(exc)}") from None
        self._stamp(path)
        self.table: dict[str, str] = {}
        for lineno, key, value in parse_texthash(data, name, self.warn):
            k = fold_key(key) if fold else key
            if k not in self.table or dup == "replace":
                self.table[k] = value
            elif dup == "warn":
                self.warn(f'{name}, line {lineno}: duplicate entry: "{k}"')
            elif dup != "ignore":
                raise MapError(f'{name}, line {lineno}: duplicate entry: "{k}"')

    def lookup(self, key: str) -> str | None:
        return self.table.get(fold_key(key) if self.fold else key)

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(list(self.table.items()))
