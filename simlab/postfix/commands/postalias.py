"""NAME
    postalias - Postfix alias database maintenance

SUMMARY
    postalias [--root ROOT] [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key]
              [file_type:]file_name ...
    main(argv) -> exit status

DESCRIPTION
    Builds FILE.db from an aliases(5) file (see simlab.postfix.maps.aliases
    for the format and its warnings), or queries (-q KEY, -q - for keys on
    stdin, printed "key:<TAB>value"), lists (-s, "key:<TAB>value") or
    deletes (-d) entries. Names are stored unquoted and folded to lower case
    (unless -f), values in quoted form. Duplicates keep the first value with
    'FILE.db: duplicate entry: "name"' unless -r (last wins) or -w (silent);
    bad lines are skipped with a warning and the build still succeeds.

    Like Postfix on a system with NIS support (Debian), the database also
    gets the Sendmail/NIS entries "@" -> "@", YP_LAST_MODIFIED (the build
    time, ten digits) and YP_MASTER_NAME ($myhostname); the last two are
    stored without folding and without a trailing null byte, so "-q" does
    not find them by name, but "-s" lists them. -i adds entries from stdin.

    --root ROOT and -c as for postmap(1); messages "postalias: warning: ...".

PARAMETERS
    default_database_type, myhostname. See postconf(5), postalias(1).
"""

from __future__ import annotations

import time
from typing import Any, Callable, TextIO

from ..maps.aliases import iter_aliases
from .cmdutil import Command
from .postmap import Options, open_writer, read_config, run_modes

USAGE = "usage: postalias [-Nfinoprsuvw] [-c config_dir] [-d key] [-q key] [map_type:]file..."

clock: Callable[[], float] = time.time  # YP_LAST_MODIFIED; tests pin it


def build(cmd: Command, type_: str, name: str, opts: Options, myhostname: str) -> None:
    data, path, writer = open_writer(cmd, type_, name, opts)
    try:
        for entry in iter_aliases(data, path, cmd.warn):
            writer.put(entry.name, entry.value)
        if opts.incremental:
            writer.dup = "replace"
        writer.put("@", "@")
        writer.try1, writer.try0 = False, True
        writer.fold = False
        writer.put("YP_LAST_MODIFIED", "%010d" % int(clock()))
        writer.put("YP_MASTER_NAME", myhostname)
    except BaseException:
        writer.abort()
        raise
    writer.close()


def _postalias(cmd: Command) -> int:
    opts = Options()
    pairs, args = cmd.getopt("Nc:d:finopq:rsuvw", USAGE)
    for o, v in pairs:
        opts.common(cmd, o, v)
    config = read_config(cmd)
    myhostname = config["myhostname"]
    return run_modes(cmd, opts, args, config, USAGE, "%s:\t%s\n",
                     lambda t, n: build(cmd, t, n, opts, myhostname))


def main(argv: list[str], *, stdin: Any = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    cmd = Command("postalias", argv, stdin=stdin, stdout=stdout, stderr=stderr)
    return cmd.run(lambda: _postalias(cmd))
