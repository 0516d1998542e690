"""NAME
    maincf - read and edit main.cf the way Postfix does

SUMMARY
    entries = parse_main_cf(text, path, warn)      # {name: Entry(value, line)}
    new_text = edit_main_cf(text, path, mode, args, warn)

DESCRIPTION
    parse_main_cf() follows readllines(3) and dict_load_fp(3): blank lines
    and lines whose first non-blank character is "#" are skipped anywhere,
    also inside a multi-line value; a line that starts with whitespace
    continues the previous logical line (joined as is, whitespace
    included); "#" after a value is part of the value; whitespace around
    "=" and at the end is removed. Diagnostics use Postfix's words:

        PATH: logical line must not start with whitespace: "..."  (warning)
        PATH, line N: overriding earlier entry: name=old           (warning)
        PATH, line N: missing '=' after attribute name: "..."      (fatal)

    edit_main_cf() implements postconf -e (replace a whole logical line by
    "name = value", append names not found, last request first), -X (remove) and -#
    (comment out every physical line of the entry), passing comments and
    blank lines through unchanged.

    See postconf(5), postconf(1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError

ISSPACE = " \t\n\v\f\r"
CHARS_SPACE = " \t\r\n"

EDIT_CONF = "edit"
EDIT_EXCL = "exclude"
COMMENT_OUT = "comment"

Warn = Callable[[str], None]


@dataclass
class Entry:
    """One name = value setting and the line where its logical line starts."""

    value: str
    line: int


def split_nameval(text: str) -> tuple[str, str] | str:
    """(name, value), or Postfix's error text when there is no '='."""
    n = len(text)
    np = 0
    while np < n and text[np] in ISSPACE:
        np += 1
    if np == n:
        return "missing attribute name"
    ep = np
    while ep < n and text[ep] not in ISSPACE and text[ep] != "=":
        ep += 1
    cp = ep
    while cp < n and text[cp] in ISSPACE:
        cp += 1
    if cp >= n or text[cp] != "=":
        return "missing '=' after attribute name"
    if ep == np:
        return "missing attribute name"
    value = text[cp + 1:]
    return text[np:ep], value.strip(ISSPACE)


def _is_content(line: str) -> bool:
    stripped = line.lstrip(ISSPACE)
    return bool(stripped) and not stripped.startswith("#")


def logical_lines(text: str, path: str, warn: Warn):
    """Yield (logical line, first line number) like readllines(3)."""
    pos, n, lineno = 0, len(text), 0
    while True:
        buf = ""
        first = lineno
        while True:
            was_empty = not buf
            nl = text.find("\n", pos)
            if nl < 0:
                line, pos, at_eof = text[pos:], n, True
            else:
                line, pos, at_eof = text[pos:nl], nl + 1, False
            if not at_eof or line:
                lineno += 1
            if _is_content(line):
                buf += line
            if was_empty:
                first = lineno
            if at_eof:
                break
            if buf:
                nxt = text[pos] if pos < n else ""
                if nxt != "#" and (nxt == "" or nxt not in ISSPACE):
                    break
        if not buf:
            return
        if buf[0] in ISSPACE:
            more = "..." if len(buf) > 30 else ""
            warn(f'{path}: logical line must not start with whitespace: "{buf[:30]}{more}"')
            continue
        yield buf, first


def parse_main_cf(text: str, path: str, warn: Warn,
                  into: dict[str, Entry] | None = None) -> dict[str, Entry]:
    """Load main.cf text; ``path`` is how messages name the file."""
    entries: dict[str, Entry] = {} if into is None else into
    for line, first in logical_lines(text, path, warn):
        line = line.split("\0", 1)[0]
        got = split_nameval(line)
        if isinstance(got, str):
            raise ConfigError(f'{path}, line {first}: {got}: "{line}"')
        name, value = got
        old = entries.get(name)
        if old is not None:
            if old.value != value:
                warn(f"{path}, line {first}: overriding earlier entry: {name}={old.value}")
            old.value, old.line = value, first
        else:
            entries[name] = Entry(value, first)
    return entries


def edit_requests(mode: str, args: list[str], warn: Warn) -> dict[str, str | None]:
    """Validate postconf -e/-X/-# arguments: {name: value or None}."""
    table: dict[str, str | None] = {}
    for arg in args:
        if "\n" in arg:
            raise ConfigError("-e, -X, or -# accepts no multi-line input")
        cp = arg.lstrip(ISSPACE)
        if cp.startswith("#"):
            raise ConfigError("-e, -X, or -# accepts no comment input")
        if mode == EDIT_CONF:
            got = split_nameval(cp)
            if isinstance(got, str):
                raise ConfigError(f'{got}: "{cp}"')
            name, value = got
        else:
            if not cp:
                raise ConfigError("-X or -# requires non-blank parameter names")
            if "=" in cp:
                raise ConfigError("-X or -# requires parameter names without value")
            name, value = cp.rstrip(ISSPACE), None
        if name in table:
            old = table.pop(name)
            warn(f"ignoring earlier request: '{name} = {'(null)' if old is None else old}'")
        table[name] = value
    return table


def edit_main_cf(text: str, path: str, mode: str, args: list[str], warn: Warn) -> str:
    """The new main.cf text after postconf -e, -X or -# (mode EDIT_CONF ...)."""
    table = edit_requests(mode, args, warn)
    found = dict.fromkeys(table, 0)
    out: list[str] = []
    interesting = False
    # Physical lines as vstring_get() reads them: only "\n" ends a line, and a
    # last line without one is copied without one.
    for line in re.findall(r"[^\n]*\n|[^\n]+$", text):
        stripped = line.lstrip(ISSPACE)
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        if len(stripped) < len(line):
            if not interesting:
                out.append(line)
            elif mode == COMMENT_OUT:
                out.append("#" + line)
            continue
        end = 0
        while end < len(line) and line[end] not in CHARS_SPACE + "=":
            end += 1
        key = line[:end]
        interesting = key in table
        if interesting:
            if found[key] == 1:
                warn(f'{path}: multiple entries for "{key}"')
            found[key] += 1
            if mode == EDIT_CONF:
                out.append(f"{key} = {table[key]}\n")
            elif mode == COMMENT_OUT:
                out.append("#" + line)
        else:
            out.append(line)
    if mode == EDIT_CONF:
        for key in reversed(list(table)):
            if found[key] == 0:
                out.append(f"{key} = {table[key]}\n")
    return "".join(out)
