"""NAME
    postsuper - Postfix superintendent

SUMMARY
    postsuper [--root ROOT] [-psSv] [-c config_dir] [-d queue_id] [-e queue_id] [-f queue_id]
              [-h queue_id] [-H queue_id] [-r queue_id] [queue ...]

DESCRIPTION
    Maintenance on the queue, reported on stderr and in the maillog as
    Postfix's postsuper does (``postsuper: C086916052C: removed``,
    ``postsuper: Deleted: 1 message``):

    -d ID   delete a message (default queues: hold, incoming, active,
            deferred) with its defer/bounce/trace logs; ``ALL`` deletes
            every message of the named queues, ``-`` reads ids from stdin.
    -h ID   put on hold: move to the hold queue (from incoming, active,
            deferred); -H ID releases it to the deferred queue with the
            current time as time stamp, so the queue manager's next
            deferred queue scan retries it.
    -r ID   requeue: move to the maildrop, where pickup and cleanup make a
            new queue file of it (rewriting applies again). Its defer log
            stays until then: mailq still shows the last reason.
    -e ID   force expiry: the queue manager returns it to the sender on its
            next attempt; -f also releases it from hold.
    -s      structure check: move files into the hash directory their id
            calls for (after hash_queue_depth changed); -p removes left-over
            temporary files. Without options both are done.

    A bad queue id gets "warning: invalid mail queue id: ID". With ``ALL``
    only the totals are reported, not each message; a message that is
    already force-expired is not counted again. The first argument after an
    option's queue id is a queue name: ``postsuper -h ID1 ID2`` is
    "fatal: invalid directory name: ID2".

PARAMETERS
    queue_directory, hash_queue_names, hash_queue_depth.

SEE ALSO
    postsuper(1), postqueue(1)
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from ..common.queue import QUEUES, queue_id_ok
from .cmdutil import Command

USAGE = ("usage: postsuper [-c config_dir] [-d queue_id (delete)] [-e queue_id (expire)] "
         "[-f queue_id (expire and/or un-hold)] [-h queue_id (hold)] [-H queue_id (un-hold)] "
         "[-p (purge temporary files)] [-r queue_id (requeue)] [-s (structure fix)] "
         "[-S (redundant structure fix)][-v (verbose)] [queue...]")

DEFAULT_QUEUES = ("hold", "incoming", "active", "deferred")
HOLD_QUEUES = ("incoming", "active", "deferred")
RELEASE_QUEUES = ("hold",)
LOG_QUEUES = ("bounce", "defer", "trace")
KNOWN_DIRS = ("maildrop", "incoming", "active", "deferred", "hold", "trace", "defer", "bounce", "flush")
MAX_TEMP_AGE = 24 * 3600

# op letter -> (default queues, report heading)
OPS: dict[str, tuple[tuple[str, ...], str]] = {
    "r": (DEFAULT_QUEUES, "Requeued"),
    "d": (DEFAULT_QUEUES, "Deleted"),
    "e": (DEFAULT_QUEUES, "Force-expired"),
    "f": (DEFAULT_QUEUES, "Force-expired"),
    "h": (HOLD_QUEUES, "Placed on hold"),
    "H": (RELEASE_QUEUES, "Released from hold"),
}


class Super:
    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self.store = cmd.store
        self.counts = {"Requeued": 0, "Deleted": 0, "Force-expired": 0, "Placed on hold": 0,
                       "Released from hold": 0}

    def info(self, text: str) -> None:
        self.cmd.log(text)

    def _find(self, queues: tuple[str, ...], qid: str) -> str | None:
        for q in queues:
            if q in QUEUES and self.store.locate(q, qid) is not None:
                return q
        return None

    def _drop_logs(self, qid: str) -> None:
        for lq in LOG_QUEUES:
            base = self.store.top / lq
            p = base.joinpath(*self.store.hash_dirs(lq, qid), qid)
            if p.is_file():
                p.unlink()

    # -- one message ----------------------------------------------------------------------
    def delete(self, queues: tuple[str, ...], qid: str, quiet: bool = False) -> int:
        found = 0
        for q in queues:
            if q in QUEUES and self.store.locate(q, qid) is not None:
                self._drop_logs(qid)
                if self.store.remove(q, qid):
                    found = 1
        if found and not quiet:
            self.info(f"{qid}: removed")
        return found

    def hold(self, queues: tuple[str, ...], qid: str, quiet: bool = False) -> int:
        q = self._find(tuple(x for x in queues if x != "hold"), qid)
        if q is None:
            return 0
        self.store.move(qid, q, "hold")
        if not quiet:
            self.info(f"{qid}: placed on hold")
        return 1

    def release(self, queues: tuple[str, ...], qid: str, quiet: bool = False) -> int:
        if "hold" not in queues or self.store.locate("hold", qid) is None:
            return 0
        self.store.move(qid, "hold", "deferred")
        if not quiet:
            self.info(f"{qid}: released from hold")
        return 1

    def requeue(self, queues: tuple[str, ...], qid: str, quiet: bool = False) -> int:
        q = self._find(tuple(x for x in queues if x != "maildrop"), qid)
        if q is None:
            return 0
        path = self.store.locate(q, qid)
        now = self.cmd.ctx.now()
        if path is not None:
            os.utime(path, (now, now))
        self.store.move(qid, q, "maildrop")
        if not quiet:
            self.info(f"{qid}: requeued")
        return 1

    def expire(self, queues: tuple[str, ...], qid: str, quiet: bool = False, release: bool = False) -> int:
        q = self._find(queues, qid)
        if q is None:
            return 0
        done = 0
        if not self.store.is_expired(q, qid):      # expiring twice changes nothing: not counted
            self.store.set_expired(q, qid)
            done = 1
            if not quiet:
                self.info(f"{qid}: expired")
        if release and q == "hold":
            self.store.move(qid, "hold", "deferred")
            if not quiet:
                self.info(f"{qid}: released from hold")
            self.counts["Released from hold"] += 1
        return done

    def operate(self, op: str, queues: tuple[str, ...], qid: str, quiet: bool = False) -> None:
        if not queue_id_ok(qid):
            self.cmd.warn(f"invalid mail queue id: {qid}")
            return
        fn: Callable[..., int] = {"d": self.delete, "h": self.hold, "H": self.release,
                                  "r": self.requeue, "e": self.expire}.get(op) or \
            (lambda qs, i, quiet=False: self.expire(qs, i, quiet, release=True))
        self.counts[OPS[op][1]] += fn(queues, qid, quiet)

    # -- all messages -------------------------------------------------------------------
    def operate_all(self, op: str, queues: tuple[str, ...]) -> None:
        for q in queues:
            if q not in QUEUES:
                continue
            for qid in self.store.list(q):
                self.operate(op, (q,), qid, quiet=True)

    # -- housekeeping ---------------------------------------------------------------------
    def structure(self, queues: tuple[str, ...]) -> None:
        for q in queues:
            for p in list(self.store._scan(q)):
                want = self.store.path(q, p.name)
                if p != want:
                    want.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(p, want)
                    if self.cmd.verbose:
                        self.info(f"renamed file {p} as {want}")

    def purge(self, queues: tuple[str, ...]) -> None:
        now = self.cmd.ctx.now()
        for q in queues:
            base = self.store.queue_dir(q)
            if not base.is_dir():
                continue
            for dirpath, _dirs, files in os.walk(base):
                for name in files:
                    if queue_id_ok(name):
                        continue
                    p = os.path.join(dirpath, name)
                    try:
                        if now - os.stat(p).st_mtime > MAX_TEMP_AGE:
                            os.unlink(p)
                    except OSError:
                        continue

    def report(self, requested: set[str]) -> None:
        for heading in self.counts:
            asked = any(OPS[op][1] == heading for op in requested) or \
                (heading == "Released from hold" and "f" in requested and self.counts[heading])
            if asked:
                n = self.counts[heading]
                self.info(f"{heading}: {n} message{'' if n == 1 else 's'}")


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None) -> int:
    cmd = Command("postsuper", argv, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr, logs=True)

    def body() -> int:
        opts, args = cmd.getopt("c:d:e:f:h:H:pr:sSv", USAGE)
        names: dict[str, list[str]] = {}
        struct = purge = False
        for o, v in opts:
            letter = o[1]
            if letter in OPS:
                names.setdefault(letter, []).append(v)
            elif letter in ("s", "S"):
                struct = True
            elif letter == "p":
                purge = True
            elif letter == "v":
                cmd.verbose += 1
        for q in args:
            if q not in KNOWN_DIRS:
                cmd.fatal(f"invalid directory name: {q}")
        sup = Super(cmd)
        if not names and not struct and not purge:
            struct = purge = True
        if struct:
            sup.structure(tuple(args) or QUEUES[:5])
        if purge:
            sup.purge(tuple(args) or QUEUES[:5])
        stdin_ids: list[str] | None = None
        for op in ("d", "r", "h", "H", "e", "f"):
            ids = names.get(op, [])
            if not ids:
                continue
            flag = "-" + op
            queues = tuple(args) or OPS[op][0]
            if "ALL" in ids:
                if len(ids) > 1:
                    cmd.warn(f'option "{flag} ALL" will ignore other command line queue IDs')
                sup.operate_all(op, queues)
                continue
            for qid in ids:
                if qid == "-":
                    if stdin_ids is None:
                        stdin_ids = cmd.stdin.read().split()
                    for sid in stdin_ids:
                        sup.operate(op, queues, sid)
                else:
                    sup.operate(op, queues, qid)
        sup.report(set(names))
        return 0

    return cmd.run(body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
