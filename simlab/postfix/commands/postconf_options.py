"""NAME
    postconf_options - postconf's command line: option letters, their checks, getopt

SUMMARY
    opts, args, root = _getopt(argv)      # [(letter, value), ...], names, --root
    mode |= FLAGS[letter]; mode & (F["e"] | F["X"]); raise Fatal("...")

DESCRIPTION
    The option table of Postfix 3.7's postconf(1): OPTSTRING, each option's
    mode bit (FLAGS, in Postfix's table order, which its messages follow),
    the groups of options that exclude each other (INCOMPAT) and the options
    each major mode accepts (COMPAT), with the usage text; and the POSIX
    getopt that reads them (options stop at the first non-option), plus
    --root ROOT. Kept apart from postconf so that the command itself holds
    what postconf does with a configuration, not how it reads its options.

    Fatal is "postconf: fatal: MESSAGE" with exit status 1; _emit writes to a
    stream, replacing what the stream cannot encode.

SEE ALSO
    postconf(1)
"""

from __future__ import annotations

import sys
from typing import TextIO

PROG = "postconf"
OPTSTRING = "aAbc:C:defFhHlmMno:pPtvxX#"
FLAGS = {  # option letter -> mode bit, in Postfix's table order (for messages)
    "a": 1 << 0, "A": 1 << 1, "b": 1 << 2, "C": 1 << 3, "d": 1 << 4, "e": 1 << 5,
    "f": 1 << 6, "F": 1 << 7, "h": 1 << 8, "H": 1 << 9, "l": 1 << 10, "m": 1 << 11,
    "M": 1 << 12, "n": 1 << 13, "o": 1 << 14, "p": 1 << 15, "P": 1 << 16, "t": 1 << 17,
    "x": 1 << 18, "X": 1 << 19, "#": 1 << 20,
}
F = FLAGS
MAJOR = F["a"] | F["A"] | F["b"] | F["l"] | F["m"] | F["t"] | F["p"] | F["M"] | F["F"] | F["P"]
INCOMPAT = [
    MAJOR,
    F["d"] | F["e"] | F["n"] | F["#"] | F["X"],
    F["f"] | F["e"] | F["#"] | F["X"],
    F["x"] | F["e"] | F["#"] | F["X"],
    F["o"] | F["d"] | F["e"] | F["#"] | F["X"],
    F["h"] | F["e"] | F["#"] | F["X"] | F["H"],
]
COMPAT = [
    (F["a"], 0), (F["A"], 0), (F["b"], 0), (F["l"], 0), (F["m"], 0), (F["t"], 0),
    (F["p"], F["e"] | F["X"] | F["#"] | F["f"] | F["h"] | F["C"] | F["x"] | F["d"] | F["n"]
     | F["o"] | F["H"]),
    (F["M"], F["e"] | F["X"] | F["#"] | F["f"] | F["o"] | F["x"]),
    (F["F"], F["e"] | F["f"] | F["h"] | F["o"] | F["x"] | F["H"]),
    (F["P"], F["e"] | F["X"] | F["f"] | F["h"] | F["o"] | F["x"] | F["H"]),
]
EDITS = F["e"] | F["X"] | F["#"]
MASTER = F["M"] | F["F"] | F["P"]
USAGE = ("usage: postconf [-a (server SASL types)] [-A (client SASL types)]"
         " [-b (bounce templates)] [-c config_dir] [-c param_class]"
         " [-d (parameter defaults)] [-e (edit configuration)] [-f (fold lines)]"
         " [-F (master.cf fields)] [-h (no names)] [-H (no values)] [-l (lock types)]"
         " [-m (map types)] [-M (master.cf)] [-n (non-default parameters)]"
         " [-o name=value (override parameter value)] [-p (main.cf, default)]"
         " [-P (master.cf parameters)] [-t (bounce templates)]"
         " [-T compile-version|run-version|public-key-algorithms] [-v (verbose)]"
         " [-x (expand parameter values)] [-X (exclude)] [-# (comment-out)] [name...]")


class Fatal(Exception):
    """postconf: fatal: MESSAGE, exit status 1."""


def _emit(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
    except UnicodeEncodeError:
        stream.write(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _mask_names(mask: int) -> str:
    return " ".join("-" + k for k, bit in FLAGS.items() if mask & bit)


def _getopt(argv: list[str]) -> tuple[list[tuple[str, str]], list[str], str | None]:
    """POSIX getopt with "+" (stop at the first non-option), plus --root ROOT."""
    opts: list[tuple[str, str]] = []
    root = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--root" or arg.startswith("--root="):
            if "=" in arg:
                root = arg.split("=", 1)[1]
            elif i + 1 < len(argv):
                root = argv[i + 1]
                i += 1
            else:
                _emit(sys.stderr, f"{PROG}: option '--root' requires an argument\n")
                raise Fatal(USAGE)
            i += 1
            continue
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            ch = arg[j]
            spec = OPTSTRING.find(ch)
            if spec < 0 or ch == ":":
                _emit(sys.stderr, f"{PROG}: invalid option -- '{ch}'\n")
                raise Fatal(USAGE)
            if spec + 1 < len(OPTSTRING) and OPTSTRING[spec + 1] == ":":
                if j + 1 < len(arg):
                    opts.append((ch, arg[j + 1:]))
                elif i + 1 < len(argv):
                    i += 1
                    opts.append((ch, argv[i]))
                else:
                    _emit(sys.stderr, f"{PROG}: option requires an argument -- '{ch}'\n")
                    raise Fatal(USAGE)
                break
            opts.append((ch, ""))
            j += 1
        i += 1
    return opts, argv[i:], root
