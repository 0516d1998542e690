"""
NAME
    maps - Postfix lookup tables ("type:name"), as daemons and postmap use them

SUMMARY
    open_map(spec, root=None, warn=None, *, fold=True, dup=None, lock=True,
             nul=None, now=None, readonly=True) -> Map
    Map.lookup(key) -> str | None;  Map.spec;  Map.items();  Map.changed()
    MapError(text)
    MAP_TYPES

DESCRIPTION
    open_map() opens one table named as in main.cf: hash:/etc/postfix/virtual,
    btree:FILE, texthash:FILE, inline:{ k=v, ... }, static:value,
    regexp:FILE, pcre:FILE, cidr:FILE (the last three also with inline
    {rules}), unix:passwd.byname, unix:group.byname and proxy:type:name.
    With root, absolute file names resolve under root, the folder of a
    simulated host; messages keep the names as written. Warnings (bad
    lines, stale .db files) go to warn, without a "warning: " prefix.

    A table that cannot be opened raises MapError with Postfix's text, e.g.
    "unsupported dictionary type: foo" (measured on Debian's 3.7.11 with an
    empty dynamicmaps.cf: no other warning; pcre: too, on a host root that has
    not installed it as a plugin, see dynamic.py), or 'open dictionary: expecting
    "type:name" form instead of "foo"'.

    The keyword options are Postfix's dict flags: fold (DICT_FLAG_FOLD_FIX,
    lower-case keys of fixed-string tables; postmap -f turns it off), dup
    (texthash duplicate keys: "warn", "ignore", "replace"; None, the daemon
    default, makes a table with duplicates unavailable), lock (check that
    FILE.db is not older than FILE), nul ("1"/"0": keys stored with/without
    a trailing null byte, postmap -N/-n; None tries both).

PARAMETERS
    default_database_type (hash) is applied by the commands, not here.
    See postconf(5), DATABASE_README.
"""

from __future__ import annotations

from pathlib import Path

from .base import Map, MapError, Warn, host_path
from .cidr import CidrMap
from .dynamic import PLUGINS, dynamic_types
from .hash import BtreeMap, HashMap
from .inline import InlineMap
from .regexp import PcreMap, RegexpMap
from .static import StaticMap
from .texthash import TexthashMap
from .unix import ProxyMap, UnixMap

__all__ = ["open_map", "split_spec", "Map", "MapError", "MAP_TYPES", "host_path"]

MAP_TYPES: dict[str, type[Map]] = {
    "hash": HashMap, "btree": BtreeMap, "texthash": TexthashMap, "inline": InlineMap,
    "static": StaticMap, "regexp": RegexpMap, "pcre": PcreMap, "cidr": CidrMap,
    "unix": UnixMap,
}


def split_spec(spec: str) -> tuple[str, str]:
    """"type:name" -> (type, name), with Postfix's complaint for other forms."""
    if ":" not in spec:
        raise MapError(f'open dictionary: expecting "type:name" form instead of "{spec}"')
    type_, name = spec.split(":", 1)
    if not type_ or not name:
        raise MapError(f'open dictionary: expecting "type:name" form instead of "{type_}:{name}"')
    return type_, name


def open_map(spec: str, root: Path | str | None = None, warn: Warn | None = None, *,
             fold: bool = True, dup: str | None = None, lock: bool = True,
             nul: str | None = None, now: float | None = None,
             readonly: bool = True) -> Map:
    """Open the table spec ("type:name") the way a Postfix program does."""
    type_, name = split_spec(spec)
    if type_ == "proxy":
        return ProxyMap(open_map(name, root, warn, fold=fold, dup=dup, lock=lock, nul=nul, now=now))
    cls = MAP_TYPES.get(type_)
    if cls is None or (type_ in PLUGINS and root is not None and type_ not in dynamic_types(root)):
        raise MapError(f"unsupported dictionary type: {type_}")
    if cls in (HashMap, BtreeMap):
        return cls(name, root=root, fold=fold, nul=nul, lock=lock, warn=warn, now=now,
                   readonly=readonly)
    if cls is TexthashMap:
        return TexthashMap(name, root=root, fold=fold, dup=dup, warn=warn)
    return cls(name, root=root, fold=fold, warn=warn)
