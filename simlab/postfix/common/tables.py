"""NAME
    tables - lookup tables as the daemons of one instance open them

SUMMARY
    m = ctx.map("hash:/etc/aliases", proc=("postfix/local", 1234))
    m.lookup("alice")         # raises TableUnavailable when the table could not be opened
    stale_database(ctx, "hash:/etc/aliases") -> "database /etc/aliases.db is older than ..." | None

DESCRIPTION
    ctx.map() opens each table once and keeps it until its files change.
    Programs that name themselves (``proc`` = syslog name and pid) get
    Postfix's daemon behaviour:

    A table that cannot be opened does not stop the program: as
    dict_surrogate(3) does, the reason is logged as an error ("error: open
    database /etc/postfix/virtual.db: No such file or directory") and a
    stand-in takes the table's place. Every lookup in it fails with a
    temporary error (TableUnavailable, a MapError); the caller logs
    "warning: hash:/etc/postfix/virtual is unavailable. open database ..."
    and 'warning: hash:/etc/postfix/virtual lookup error for "key"'
    (TableUnavailable.warnings()) and answers "try again later". The
    stand-in is a pattern table: only the full key of an address is
    looked up in it.

    A hash: or btree: table whose FILE.db is older than FILE makes the
    program log "warning: database FILE.db is older than source file
    FILE", except while FILE changed less than 100 seconds ago (postmap
    may still be running), as dict_db.c does. Both file times and "now"
    are read on the instance's clock (ctx.file_time(), ctx.now()), so the
    comparison means the same on the virtual network and under serve.

    What the table itself warns about while it is read (a regexp: rule that
    does not compile, a cidr: line without an address: "warning: regexp map
    /etc/postfix/access.re, line 3: ...: skipping this rule") is logged by
    the program too, as dict_regexp.c's msg_warn() is by the process that
    opens the table.

    A process logs each of these notes once per version of the table,
    as a Postfix process does when it opens its tables. An inline table
    ("regexp:{ {/x/ REJECT} }") has no file and so only one version.

SEE ALSO
    dict_surrogate(3), DATABASE_README, postmap(1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..maps import Map, MapError, open_map

STALE_GRACE = 100       # seconds: a source file this young may be being indexed right now


class TableUnavailable(MapError):
    """A lookup in a table that could not be opened; str() is the open failure."""

    def __init__(self, spec: str, reason: str, key: str = "") -> None:
        super().__init__(reason)
        self.spec = spec
        self.reason = reason
        self.key = key

    def warnings(self) -> list[str]:
        """The two warnings of a failed lookup (dict_surrogate, then maps_find)."""
        return [f"{self.spec} is unavailable. {self.reason}",
                f'{self.spec} lookup error for "{self.key}"']


class UnavailableMap(Map):
    """dict_surrogate: stands in for a table that could not be opened."""

    fixed = False

    def __init__(self, spec: str, reason: str) -> None:
        kind, _, name = spec.partition(":")
        super().__init__(name)
        self.type = kind
        self.reason = reason

    def lookup(self, key: str) -> str | None:
        raise TableUnavailable(self.spec, self.reason, key)


@dataclass
class _Entry:
    stamp: Any
    map: Map
    error: str | None
    warnings: list[str] = field(default_factory=list)     # the table's own, while it was read
    told: set[tuple[tuple[str, int], str]] = field(default_factory=set)


def open_table(ctx: Any, spec: str, proc: tuple[str, int] | None = None) -> Map:
    """ctx.map(): the cached table; see the module description for ``proc``."""
    stamp = ctx._map_stamp(spec)
    hit = ctx._maps.get(spec)
    # A stamp covers the file the table watches (FILE.db, or FILE), more finely than
    # map.changed()'s mtime: that second stat is only needed for tables without one.
    if hit is None or hit.stamp != stamp or (stamp is None and hit.map.changed()):
        said: list[str] = []
        try:
            hit = _Entry(stamp, open_map(spec, root=ctx.root, warn=said.append), None, said)
        except MapError as exc:
            hit = _Entry(stamp, UnavailableMap(spec, str(exc)), str(exc), said)
        ctx._maps[spec] = hit
    if proc is None:
        if hit.error is not None:
            raise MapError(hit.error)
        return hit.map
    notes = [f"warning: {text}" for text in hit.warnings]
    if hit.error is not None:
        notes.append(f"error: {hit.error}")
    stale = _stale(ctx, spec, stamp) if hit.error is None else None
    if stale:
        notes.append(f"warning: {stale}")
    for note in notes:
        if (proc, note) not in hit.told:
            hit.told.add((proc, note))
            ctx.log.line(proc[0], proc[1], note)
    return hit.map


def _stale(ctx: Any, spec: str, stamp: Any) -> str | None:
    """stale_database() from the (mtime_ns, size) stamps ctx._map_stamp() just took of
    FILE and FILE.db (no second stat of each per lookup); a stamp of another shape
    (proxy:, no file) takes the long way."""
    if stamp is None or spec[:5] not in ("hash:", "btree"):
        return stale_database(ctx, spec)
    if spec[:6] == "btree:":
        name = spec[6:]
    elif spec[:5] == "hash:":
        name = spec[5:]
    else:
        return stale_database(ctx, spec)
    if name.endswith(("/", ".")):     # FILE.db is not the stamped FILE + ".db" then
        return stale_database(ctx, spec)
    src_stamp, db_stamp = stamp[0], stamp[1]
    if src_stamp is None or db_stamp is None or src_stamp[0] <= db_stamp[0]:
        return None     # no such file(s), or the index is not older: never stale
    src, db = ctx.file_time(_seconds(src_stamp[0])), ctx.file_time(_seconds(db_stamp[0]))
    if src > db and src < ctx.now() - STALE_GRACE:
        return f"database {name}.db is older than source file {name}"
    return None


def _seconds(ns: int) -> float:
    """os.stat()'s st_mtime from its st_mtime_ns (the same double: sec + nsec * 1e-9)."""
    sec, nsec = divmod(ns, 1_000_000_000)
    return sec + nsec * 1e-9


def stale_database(ctx: Any, spec: str) -> str | None:
    """The "older than source file" warning for an indexed table, or None."""
    kind, _, name = spec.partition(":")
    if kind == "proxy":
        kind, _, name = name.partition(":")
    if kind not in ("hash", "btree") or not name.startswith("/"):
        return None
    try:
        src = os.stat(ctx.path(name)).st_mtime
        db = os.stat(ctx.path(name + ".db")).st_mtime
    except OSError:
        return None
    src, db = ctx.file_time(src), ctx.file_time(db)
    if src > db and src < ctx.now() - STALE_GRACE:
        return f"database {name}.db is older than source file {name}"
    return None
