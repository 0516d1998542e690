"""NAME
    postqueue - Postfix queue control

SUMMARY
    postqueue [--root ROOT] [-v] [-c config_dir] -f | -i queue_id | -j | -p | -s site

DESCRIPTION
    -p lists the queue in Sendmail mailq format and -j as JSON lines (both
    from showq). When the mail system is down, the superuser's listing reads
    the queue directly after the warning "Mail system is down -- accessing
    queue directly".

    -f asks the queue manager to retry every deferred message now (and
    pickup to look at the maildrop); -i ID moves one deferred message back
    to the incoming queue and wakes the queue manager; -s SITE does that for
    every deferred message with a recipient at SITE, which the flush service
    allows only for destinations in fast_flush_domains. Without a running
    mail system these fail with "Cannot flush mail queue - mail system is
    down" (exit status 69, EX_UNAVAILABLE).

PARAMETERS
    enable_long_queue_ids, fast_flush_domains, queue_directory.

SEE ALSO
    postqueue(1), showq(8), flush(8), qmgr(8)
"""

from __future__ import annotations

import re
import sys
from typing import Any

from .cmdutil import Command

# postqueue sets msg_fatal_status(EX_UNAVAILABLE) first: every fatal error, usage included, exits 69.
EX_USAGE, EX_UNAVAILABLE, EX_SOFTWARE = 69, 69, 70
USAGE = ("usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p "
         "| postqueue -s site")

# The qmgr trigger requests (qmgr_user.h): flush dead sites, scan all, deferred, incoming.
QMGR_FLUSH_ALL = "FADI"
QMGR_SCAN_INCOMING = "I"
PICKUP_WAKEUP = "W"

_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
                       r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")


def show_queue(cmd: Command, json_format: bool) -> None:
    from ..master import is_running, use_service
    from ..showq import format_compat, format_json, scan
    if not is_running(cmd.ctx, cmd.root):
        cmd.warn("Mail system is down -- accessing queue directly "
                 "(Connect to the Postfix showq service: Connection refused)")
        entries = scan(cmd.ctx)
    else:
        with use_service(cmd.ctx, "showq"):
            entries = scan(cmd.ctx)
    if json_format:
        cmd.out(format_json(entries))
    else:
        cmd.out(format_compat(entries, cmd.ctx.config.get_bool("enable_long_queue_ids")))


def flush_queue(cmd: Command) -> None:
    from ..master import trigger
    if not trigger(cmd.ctx, "qmgr", QMGR_FLUSH_ALL, root=cmd.root):
        cmd.fatal("Cannot flush mail queue - mail system is down", EX_UNAVAILABLE)
    if not trigger(cmd.ctx, "pickup", PICKUP_WAKEUP, root=cmd.root):
        cmd.fatal("Cannot flush mail queue - mail system is down", EX_UNAVAILABLE)


def requeue_deferred(cmd: Command, qids: list[str]) -> int:
    """flush(8)'s flush_one_file(): deferred -> incoming, with a fresh time stamp."""
    from ..flush import requeue
    return requeue(cmd.ctx, cmd.store, qids)


def flush_file(cmd: Command, qid: str) -> None:
    from ..common.queue import queue_id_ok
    from ..master import is_running, trigger
    if not queue_id_ok(qid):
        cmd.fatal(f'Cannot flush queue ID - invalid name: "{qid[:100]}{"..." if len(qid) > 100 else ""}"',
                  EX_USAGE)
    if not is_running(cmd.ctx, cmd.root):
        cmd.fatal("Cannot flush mail queue - mail system is down", EX_UNAVAILABLE)
    requeue_deferred(cmd, [qid])
    trigger(cmd.ctx, "qmgr", QMGR_SCAN_INCOMING, root=cmd.root)


def site_allowed(cmd: Command, site: str) -> bool:
    """Is ``site`` one of fast_flush_domains (domain_list matching, parent domains included)?"""
    from ..flush import site_allowed as allowed
    return allowed(cmd.ctx, site)


def flush_site(cmd: Command, site: str) -> None:
    from ..master import is_running, trigger
    if not is_running(cmd.ctx, cmd.root):
        cmd.fatal("Cannot flush mail queue - mail system is down", EX_UNAVAILABLE)
    if not site_allowed(cmd, site):
        cmd.fatal(f'Flush service is not configured for destination "{site}"', EX_UNAVAILABLE)
    from ..flush import site_queue_ids
    requeue_deferred(cmd, site_queue_ids(cmd.store, site))
    trigger(cmd.ctx, "qmgr", QMGR_SCAN_INCOMING, root=cmd.root)


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None, prog: str = "postqueue") -> int:
    cmd = Command(prog, argv, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr, logs=True)

    def usage() -> None:
        cmd.fatal(USAGE, EX_USAGE)

    def body() -> int:
        opts, args = cmd.getopt("c:fi:jps:v", USAGE, EX_USAGE)
        mode = ""
        value = ""
        for o, v in opts:
            if o in ("-f", "-i", "-j", "-p", "-s"):
                if mode:
                    usage()
                mode, value = o, v
            elif o == "-v":
                cmd.verbose += 1
        if args or not mode:
            usage()
        if mode == "-s":
            bad = not (re.fullmatch(r"\[[^\[\]]+\]", value) if value.startswith("[") else _HOSTNAME.match(value))
            if bad:
                cmd.fatal('Cannot flush mail queue - invalid destination: '
                          f'"{value[:100]}{"..." if len(value) > 100 else ""}"', EX_USAGE)
        if mode in ("-p", "-j"):
            show_queue(cmd, mode == "-j")
        elif mode == "-f":
            flush_queue(cmd)
        elif mode == "-i":
            flush_file(cmd, value)
        elif mode == "-s":
            flush_site(cmd, value)
        cmd.stdout.flush()
        return 0

    return cmd.run(body)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
