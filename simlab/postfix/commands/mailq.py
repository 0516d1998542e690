"""NAME
    mailq - list the mail queue

SUMMARY
    mailq [--root ROOT] [-c config_dir] [-v]

DESCRIPTION
    The Sendmail-compatible name for ``sendmail -bp``, which Postfix runs
    as ``postqueue -p``: the same output, the same messages (prefixed
    ``postqueue:``) and exit status.

SEE ALSO
    mailq(1), postqueue(1), sendmail(1)
"""

from __future__ import annotations

import sys
from typing import Any

from . import postqueue
from .cmdutil import split_root


def main(argv: list[str], *, ctx: Any = None, stdin: Any = None, stdout: Any = None,
         stderr: Any = None) -> int:
    root, rest = split_root(list(argv))
    passed = [a for a in rest if a == "-v" or a.startswith("-c")]
    if "-c" in rest:
        i = rest.index("-c")
        passed = [a for a in passed if a != "-c"] + rest[i:i + 2]
    args = (["--root", root] if root else []) + passed + ["-p"]
    return postqueue.main(args, ctx=ctx, stdin=stdin, stdout=stdout, stderr=stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
