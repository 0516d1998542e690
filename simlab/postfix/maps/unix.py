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
    /etc/passwd (and /etc/group), read under the host's root at each
    lookup. Postfix's default local_recipient_maps is
    "proxy:unix:passwd.byname $alias_maps".

    proxy:type:name reads type:name through Postfix's proxymap(8) service;
    in simlab the table is simply opened in place (same answers, no
    process in between).
"""

from __future__ import annotations

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

    def _entries(self) -> list[list[str]]:
        try:
            text = host_path(self.file, self.root).read_text("utf-8", "surrogateescape")
        except OSError:
            return []
        rows = []
        for line in text.splitlines():
            parts = line.split(":")
            if len(parts) == self.fields and parts[0]:
                rows.append(parts)
        return rows

    def lookup(self, key: str) -> str | None:
        if self.fold:
            key = fold_key(key)
        for parts in self._entries():
            if parts[0] == key:
                if self.name == "group.byname":
                    return ":".join(parts[:3]) + ":" + ",".join(m for m in parts[3].split(",") if m)
                return ":".join(parts)
        return None


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
