"""
NAME
    base - the generic lookup table (Postfix's DICT)

SUMMARY
    class Map: type, name, spec, fixed, lookup(key), items(), delete(key),
               changed(), close()
    class MapError(Exception)
    host_path(name, root) -> Path
    fold_key(key) -> str

DESCRIPTION
    Every table type derives from Map. A table is named "type:name" as in
    main.cf; name is kept exactly as written (it appears in messages), while
    file access goes through host_path(), which puts absolute paths under the
    simulated host's root folder.

    fixed is Postfix's DICT_FLAG_FIXED: true for tables whose keys are fixed
    strings (hash, texthash, inline, static, unix), false for pattern tables
    (regexp, pcre, cidr). Postfix asks pattern tables only for the full
    lookup key, never for the partial keys of a search order (see address).

    MapError carries Postfix's text for a table that cannot be opened or used
    ("unsupported dictionary type: foo", "open database /etc/aliases.db: No
    such file or directory"): commands print it as "fatal:", daemons log it
    and treat the table as unavailable (temporary failure).

    Key folding (DICT_FLAG_FOLD_FIX) is on by default, as for every table
    that Postfix daemons open; Postfix folds with full Unicode case folding
    when SMTPUTF8 is enabled (the default), which is str.casefold().
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

Warn = Callable[[str], None]


def _no_warn(msg: str) -> None:
    return None


class MapError(Exception):
    """A table that cannot be opened or used; str() is Postfix's wording."""


def host_path(name: str, root: Path | str | None) -> Path:
    """The file behind a table name: absolute names live under root."""
    if root is not None and name.startswith("/"):
        return Path(root) / name.lstrip("/")
    return Path(name)


def fold_key(key: str) -> str:
    return key.casefold()


def os_error_text(exc: OSError) -> str:
    """The strerror text that Postfix's %m prints for an OSError."""
    if exc.errno is not None:
        return os.strerror(exc.errno)
    return str(exc)


class Map:
    """One lookup table. Subclasses set type and implement lookup()."""

    type = ""
    fixed = True

    def __init__(self, name: str, *, root: Path | str | None = None,
                 fold: bool = True, warn: Warn | None = None) -> None:
        self.name = name
        self.root = root
        self.fold = fold
        self.warn: Warn = warn or _no_warn

    @property
    def spec(self) -> str:
        return f"{self.type}:{self.name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec}>"

    def path(self, name: str | None = None) -> Path:
        return host_path(self.name if name is None else name, self.root)

    def lookup(self, key: str) -> str | None:
        raise NotImplementedError

    def items(self) -> Iterator[tuple[str, str]]:
        """All (key, value) pairs in table order (postmap -s)."""
        raise MapError(f"table {self.type}:{self.name}: sequence operation is not supported")

    def delete(self, key: str) -> bool:
        raise MapError(f"table {self.type}:{self.name}: delete operation is not supported")

    def changed(self) -> bool:
        """True when the file behind the table changed since it was opened."""
        return False

    def close(self) -> None:
        return None

    def __enter__(self) -> "Map":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileMap(Map):
    """A table read from a file when opened; remembers the file's mtime."""

    _watch: Path | None = None      # None: an inline table, with no file to change

    def _stamp(self, path: Path) -> None:
        self._watch = path
        try:
            self._mtime: float | None = path.stat().st_mtime
        except OSError:
            self._mtime = None

    def changed(self) -> bool:
        if self._watch is None:
            return False
        try:
            return self._watch.stat().st_mtime != self._mtime
        except OSError:
            return True
