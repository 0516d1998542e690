"""
NAME
    hash - indexed tables: hash: and btree: (FILE.db, built by postmap/postalias)

SUMMARY
    HashMap(name, root=None, fold=True, nul=None, lock=True, warn=None)
    DbWriter(type, name, root=None, truncate=True, fold=True, dup="warn",
             nul=None, warn=None): put(key, value), close()

DESCRIPTION
    Postfix keeps hash: and btree: tables in Berkeley DB files named
    FILE.db. simlab keeps them in an SQLite file of the same name (one table
    of key/value blobs, in insertion order), written by postmap(1) and
    postalias(1) and read by the MTA, so the student's workflow is the same:
    edit the text file, run postmap, and the daemons see the result.

    As with Postfix on Linux, keys and values are written with a trailing
    null byte unless -n (nul="0") is given; a reader tries the key with and
    without the null byte and then sticks to the form that matched. Keys are
    folded to lower case unless -f (fold=False).

    Opening a table whose FILE.db is older than FILE (by more than 100
    seconds of FILE's age) gives Postfix's warning "database FILE.db is older
    than source file FILE". A missing FILE.db is the error "open database
    FILE.db: No such file or directory".

    Duplicate keys while building: dup="warn" keeps the first value with
    'FILE.db: duplicate entry: "key"', "ignore" keeps it silently (-w),
    "replace" keeps the last (-r), "fatal" raises MapError.

    btree: differs only in listing order (sorted by key), as with Berkeley DB.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Iterator

from .base import FileMap, MapError, Warn, fold_key, host_path, os_error_text

APP_ID = 0x50464442  # "PFDB": marks simlab's table files
_SCHEMA = "CREATE TABLE dict (k BLOB NOT NULL UNIQUE, v BLOB NOT NULL)"


def _enc(s: str) -> bytes:
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates from a caller's str
        return s.encode("utf-8", "surrogatepass")


def _dec(b: bytes) -> str:
    return bytes(b).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        uri = path.resolve().as_uri() + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        con = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    return con


_MEMO_ENTRIES = 1024


class HashMap(FileMap):
    """Read side of a hash:/btree: table."""

    type = "hash"
    order = "rowid"

    def __init__(self, name: str, *, root: Path | str | None = None, fold: bool = True,
                 nul: str | None = None, lock: bool = True, warn: Warn | None = None,
                 now: float | None = None, readonly: bool = True) -> None:
        super().__init__(name, root=root, fold=fold, warn=warn)
        self.db_name = name + ".db"
        db_path = host_path(self.db_name, root)
        self.try1 = nul != "0"
        self.try0 = nul != "1"
        self._memo: dict[bytes, str | None] = {}
        try:
            st = db_path.stat()
            self.con = _connect(db_path, readonly)
            if self.con.execute("PRAGMA application_id").fetchone()[0] != APP_ID:
                self.con.close()
                raise MapError(f"open database {self.db_name}: Invalid argument")
        except FileNotFoundError as exc:
            raise MapError(f"open database {self.db_name}: {os_error_text(exc)}") from None
        except OSError as exc:
            raise MapError(f"open database {self.db_name}: {os_error_text(exc)}") from None
        except sqlite3.DatabaseError:
            raise MapError(f"open database {self.db_name}: Invalid argument") from None
        self._stamp(db_path)
        if lock:
            try:
                src_mtime = host_path(name, root).stat().st_mtime
            except OSError:
                src_mtime = None
            when = time.time() if now is None else now
            if src_mtime is not None and src_mtime > st.st_mtime and src_mtime < when - 100:
                self.warn(f"database {self.db_name} is older than source file {name}")

    def _get(self, k: bytes) -> bytes | None:
        try:
            row = self.con.execute("SELECT v FROM dict WHERE k = ?", (k,)).fetchone()
        except sqlite3.Error as exc:
            raise MapError(f"error reading {self.db_name}: {exc}") from None
        return None if row is None else row[0]

    def lookup(self, key: str) -> str | None:
        if self.fold:
            key = fold_key(key)
        k = _enc(key)
        # memo: the same keys come back per message (aliases, local_recipient_maps). An
        # answer stays right for this open table: a found key keeps the null-byte form it
        # matched in (that form stays enabled), and a form once disabled only makes fewer
        # keys match. A changed FILE.db is a new table object (ctx.map), delete() clears it.
        memo = self._memo
        if k in memo:
            return memo[k]
        value = self._lookup(k)
        if len(memo) >= _MEMO_ENTRIES:
            memo.clear()
        memo[k] = value
        return value

    def _lookup(self, k: bytes) -> str | None:
        if self.try1:
            v = self._get(k + b"\0")
            if v is not None:
                self.try0 = False
                return _dec(v)
        if self.try0:
            v = self._get(k)
            if v is not None:
                self.try1 = False
                return _dec(v)
        return None

    def items(self) -> Iterator[tuple[str, str]]:
        try:
            rows = self.con.execute(f"SELECT k, v FROM dict ORDER BY {self.order}").fetchall()
        except sqlite3.Error as exc:
            raise MapError(f"error [1] seeking {self.db_name}: {exc}") from None
        for k, v in rows:
            yield _dec(k), _dec(v)

    def delete(self, key: str) -> bool:
        self._memo.clear()
        if self.fold:
            key = fold_key(key)
        k = _enc(key)
        for cand, ok in ((k + b"\0", self.try1), (k, self.try0)):
            if ok and self.con.execute("DELETE FROM dict WHERE k = ?", (cand,)).rowcount:
                return True
        return False

    def close(self) -> None:
        self.con.close()


class BtreeMap(HashMap):
    type = "btree"
    order = "k"


class DbWriter:
    """Write side (Postfix's mkmap): creates or updates FILE.db."""

    def __init__(self, type: str, name: str, *, root: Path | str | None = None,
                 truncate: bool = True, fold: bool = True, dup: str = "warn",
                 nul: str | None = None, warn: Warn | None = None) -> None:
        self.type = type
        self.name = name
        self.db_name = name + ".db"
        self.fold = fold
        self.dup = dup
        self.try1 = nul != "0"
        self.try0 = nul != "1"
        self.warn = warn or (lambda msg: None)
        self.final = host_path(self.db_name, root)
        self.work = self.final if not truncate else self.final.with_name(
            f"{self.final.name}.{os.getpid()}.tmp")
        try:
            if not self.final.parent.is_dir():
                raise FileNotFoundError(2, "No such file or directory")
            if truncate and self.work.exists():
                self.work.unlink()
            self.con = _connect(self.work, readonly=False)
            self.con.execute("BEGIN")
            if not self.con.execute("SELECT name FROM sqlite_master WHERE name='dict'").fetchone():
                self.con.execute(f"PRAGMA application_id = {APP_ID}")
                self.con.execute(_SCHEMA)
            elif self.con.execute("PRAGMA application_id").fetchone()[0] != APP_ID:
                raise MapError(f"open database {self.db_name}: Invalid argument")
        except (OSError, sqlite3.Error) as exc:
            text = os_error_text(exc) if isinstance(exc, OSError) else "Invalid argument"
            raise MapError(f"open database {self.db_name}: {text}") from None

    def put(self, key: str, value: str) -> None:
        if self.fold:
            key = fold_key(key)
        if self.try1 and self.try0:
            self.try0 = False  # Linux default: append a null byte
        k, v = _enc(key), _enc(value)
        if self.try1:
            k, v = k + b"\0", v + b"\0"
        if self.dup == "replace":
            self.con.execute("INSERT INTO dict (k, v) VALUES (?, ?) "
                             "ON CONFLICT(k) DO UPDATE SET v = excluded.v", (k, v))
            return
        if self.con.execute("INSERT OR IGNORE INTO dict (k, v) VALUES (?, ?)", (k, v)).rowcount:
            return
        if self.dup == "ignore":
            return
        if self.dup == "warn":
            self.warn(f'{self.db_name}: duplicate entry: "{key}"')
            return
        raise MapError(f'{self.db_name}: duplicate entry: "{key}"')

    def close(self) -> None:
        self.con.execute("COMMIT")
        self.con.close()
        if self.work != self.final:
            os.replace(self.work, self.final)

    def abort(self) -> None:
        try:
            self.con.close()
        finally:
            if self.work != self.final and self.work.exists():
                self.work.unlink()
