"""
NAME
    aliases - the /etc/aliases file format (aliases(5)), as postalias reads it

SUMMARY
    parse_aliases(text, path="aliases", warn=None)
        -> (list[AliasEntry], list[str])
    iter_aliases(text, path, say) -> iterator of AliasEntry
    AliasEntry(name, value, values, lineno, path)
    alias_destinations(value) -> list[str]
    destination_kind(dest) -> "command" | "file" | "include" | "address"

DESCRIPTION
    An entry is "name: value, value, ..."; a line that starts with
    whitespace continues the previous entry; "#" lines and blank lines are
    ignored (also inside a continuation). Every logical line is tokenized as
    RFC 822 text (see tok822), which decides the details that postalias(1)
    shows:

    - the name is everything before the first ":" token, unquoted
      ("first last": alice is stored under "first last", \\self as "self");
      keys are lower-cased later, by the table (hash:), not here;
    - the value is re-written in quoted form with ", " after each comma and
      one space between adjacent words: "spaced :   alice ,  bob" gives
      "alice, bob", "alice # note" keeps "# note", a quoted
      "|command args" keeps its quotes, :include:/file stays as written;
    - a line without a ":" token, with nothing before or after it, or with a
      "," before it gives "FILE, line N: need name:value pair"; an "@" or
      "%" in the name gives "FILE, line N: name must be local"; both lines
      are skipped (the build still succeeds), as are lines that are not
      valid UTF-8 ('FILE, line N: non-UTF-8 input "..." -- ignoring this
      line').

    values are the destinations that local(8) finds in the value: the
    addresses of the parsed value in internal form, where two adjacent words
    without a comma are two destinations ("alice bob") and "Name <addr>"
    is just addr. destination_kind() tells how local(8) delivers one:
    "|cmd" runs a command, "/path" (or "~/path") appends to a file,
    ":include:/path" reads more destinations from a file, anything else is
    an address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import tok822
from .textutil import is_utf8, non_utf8, readllines


@dataclass
class AliasEntry:
    name: str
    value: str
    values: list[str] = field(default_factory=list)
    lineno: int = 0
    path: str = ""


def alias_destinations(value: str) -> list[str]:
    return tok822.addresses(value)


def destination_kind(dest: str) -> str:
    if dest.startswith("|"):
        return "command"
    if dest.startswith(("/", "~")):
        return "file"
    if dest[:9].lower() == ":include:":
        return "include"
    return "address"


def parse_aliases(text: str, path: str = "aliases",
                  warn: Callable[[str], None] | None = None) -> tuple[list[AliasEntry], list[str]]:
    """Parse aliases(5) text. Warnings are "PATH, line N: ..." texts."""
    warnings: list[str] = []

    def say(msg: str) -> None:
        warnings.append(msg)
        if warn is not None:
            warn(msg)

    return list(iter_aliases(text, path, say)), warnings


def iter_aliases(text: str, path: str, say: Callable[[str], None]) -> Iterator[AliasEntry]:
    """The entries of aliases(5) text in file order; warnings go to say() as found."""
    for lineno, _last, line in readllines(text, path, say):
        if not is_utf8(line):
            say(non_utf8(path, lineno, line))
            continue
        toks = tok822.scan(line)
        if toks is None:
            continue
        colon = tok822.find_type(toks, ":")
        if (colon is None or colon.prev is None or colon.next is None
                or tok822.rfind_type(colon, ",") is not None):
            say(f"{path}, line {lineno}: need name:value pair")
            continue
        if tok822.rfind_type(colon, "@") is not None or tok822.rfind_type(colon, "%") is not None:
            say(f"{path}, line {lineno}: name must be local")
            continue
        value_list = colon.next
        value_list.prev = None
        assert colon.prev is not None
        colon.prev.next = None
        name = tok822.internalize(toks)
        value = tok822.externalize(value_list)
        yield AliasEntry(name, value, alias_destinations(value), lineno, path)
