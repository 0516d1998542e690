"""NAME
    newaliases - rebuild the alias database(s) named by $alias_database

SUMMARY
    newaliases [--root ROOT] [-C config_dir] [-c config_dir] [-v] [-oX...]
    main(argv) -> exit status

DESCRIPTION
    Postfix's newaliases is sendmail(1) in "-bi" mode: it runs
    "postalias $alias_database" (each table of the list, separated by comma
    or whitespace) with the same configuration directory, so its messages
    are postalias's ("postalias: warning: /etc/aliases, line 3: need
    name:value pair") and its exit status is postalias's. Sendmail options
    that do not matter here (-oX..., -v) are accepted and ignored.

PARAMETERS
    alias_database (default hash:/etc/aliases on Debian). See postconf(5),
    newaliases(1), aliases(5).
"""

from __future__ import annotations

from typing import Any, TextIO

from ..maps.textutil import CHARS_COMMA_SP
from . import postalias
from .cmdutil import Command
from .postmap import read_config


def _newaliases(cmd: Command, stdin: Any, stdout: TextIO | None, stderr: TextIO | None) -> int:
    pairs, args = cmd.getopt("C:c:o:v", "usage: newaliases [options]")
    for o, v in pairs:
        if o == "-C":
            cmd.config_dir = v[:-len("/main.cf")] if v.endswith("/main.cf") else v
    config = read_config(cmd)
    value = config["alias_database"]
    for sep in CHARS_COMMA_SP[1:]:
        value = value.replace(sep, ",")
    maps = [m for m in value.split(",") if m]
    argv = list(maps)
    if cmd.root is not None:
        argv = ["--root", cmd.root] + argv
    if cmd.config_dir is not None:
        argv = ["-c", cmd.config_dir] + argv
    if not maps:
        return 0
    return postalias.main(argv, stdin=stdin, stdout=stdout, stderr=stderr)


def main(argv: list[str], *, stdin: Any = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    cmd = Command("newaliases", argv, stdin=stdin, stdout=stdout, stderr=stderr)
    return cmd.run(lambda: _newaliases(cmd, stdin, stdout, stderr))
