"""
NAME
    unix - unix:passwd.byname and unix:group.byname, and the proxy: wrapper

SUMMARY
    UnixMap("passwd.byname" | "group.byname", root=None)
    ProxyMap(inner_map)

DESCRIPTION
    unix:passwd.byname answers a login name with its /etc/passwd entry
    "name:passwd:uid:gid:gecos:dir:shell", unix:group.byname a group name
    with "name:passwd:gid:member,member". Postfix asks the system's
    getpwnam(3); a simulated host's accounts are the lines of its own
    /etc/passwd (and /etc/group) under the host's root, looked at on each
    lookup (an edit shows at once, as with getpwnam) and parsed again only
    when the file changed. Postfix's default local_recipient_maps is
    "proxy:unix:passwd.byname $alias_maps".

    proxy:type:name reads type:name through Postfix's proxymap(8) service;
    in simlab the table is simply opened in place (same answers, no
    process in between).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from .base import Map, MapError, Warn, fold_key, host_path

_FILES = {"passwd.byname": ("/etc/passwd", 7), "group.byname": ("/etc/group", 4)}


class UnixMap(Map):
    type = "unix"

    def __init__(self, name: str, *, root: Path | str | None = None, fold: bool = True,
                 warn: Warn | None = None, **_: object) -> None:
        super().__init__(name, root=root, fold=fold, warn=warn)
        if name not in _FILES:
            raise MapError(f"dict_unix_open: unknown map name: {name}")
        self.file, self.fields = _FILES[name]
        self._path = str(host_path(self.file, self.root))

    def _entries(self) -> dict[str, list[str]]:
        """name -> fields of the first line for that name ({} when the file is missing)."""
        path = self._path
        try:
            st = os.stat(path)
        except OSError:
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = _PARSED.get((path, self.fields))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError:
            return {}
        rows: dict[str, list[str]] = {}
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) == self.fields and parts[0]:
                rows.setdefault(parts[0], parts)
        _PARSED[(path, self.fields)] = (stamp, rows)
        return rows

    def lookup(self, key: str) -> str | None:
        if self.fold:
            key = fold_key(key)
        parts = self._entries().get(key)
        if parts is None:
            return None
        if self.name == "group.byname":
            return ":".join(parts[:3]) + ":" + ",".join(m for m in parts[3].split(",") if m)
        return ":".join(parts)


# memo: (file, field count) -> ((inode, size, mtime), parsed rows); a lookup stats the file
_PARSED: dict[tuple[str, int], tuple[tuple[int, int, int], dict[str, list[str]]]] = {}


class ProxyMap(Map):
    """proxy:TYPE:NAME -- the inner table, opened in place."""

    type = "proxy"

    def __init__(self, inner: Map) -> None:
        super().__init__(inner.spec, root=inner.root, fold=inner.fold, warn=inner.warn)
        self.inner = inner
        self.fixed = inner.fixed

    def lookup(self, key: str) -> str | None:
        return self.inner.lookup(key)

    def items(self) -> Iterator[tuple[str, str]]:
        raise MapError("can't sequence maps via the proxy service")

    def changed(self) -> bool:
        return self.inner.changed()

    def close(self) -> None:
        self.inner.close()
