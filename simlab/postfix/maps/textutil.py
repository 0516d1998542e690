"""
NAME
    textutil - Postfix's small text parsers shared by the lookup tables

SUMMARY
    readllines(data, path, warn) -> iterator of (first_line, last_line, text)
    is_utf8(text), non_utf8(path, lineno, line) -> warning text
    trimblanks(s), is_space(ch)
    balpar(s, parens), extpar(s, parens, strip), mystrtokq(s, sep, parens)
    split_nameval(s)

DESCRIPTION
    Ports of Postfix's readlline(3), extpar(3), balpar(3), mystrtok(3) and
    split_nameval(3), which every table parser (postmap, texthash, regexp,
    pcre, cidr, inline, aliases) builds on; mac_parse(3) is config.expand's.
    They work on text decoded with errors="surrogateescape", so no input
    byte is lost.

    A logical line starts with non-whitespace text; a line that starts with
    whitespace continues it (the pieces are joined as they are, the newline
    dropped); empty lines and lines whose first non-blank character is "#"
    are skipped, also inside a continuation. See postmap(1).
"""

from __future__ import annotations

from typing import Callable, Iterator

C_SPACE = " \t\n\v\f\r"  # C isspace() in the "C" locale
CHARS_COMMA_SP = ", \t\r\n"
CHARS_SPACE = " \t\r\n"
CHARS_BRACE = "{}"

Warn = Callable[[str], None]


def is_space(ch: str) -> bool:
    return ch != "" and ch in C_SPACE


def trimblanks(s: str) -> str:
    return s.rstrip(C_SPACE)


def is_utf8(text: str) -> bool:
    """False for text that came from bytes that are not valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """text as msg(3) prints it: each byte outside printable ASCII becomes '?'."""
    raw = text.encode("utf-8", "surrogateescape") if is_utf8(text) or _escaped_only(text) \
        else text.encode("utf-8", "replace")
    return "".join(chr(b) if 0x20 <= b < 0x7f else "?" for b in raw)


def _escaped_only(text: str) -> bool:
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def non_utf8(path: str, lineno: int, line: str) -> str:
    return f'{path}, line {lineno}: non-UTF-8 input "{printable(line)}" -- ignoring this line'


def read_text(path: str) -> str:
    """Read a file as Postfix does: bytes, any content (undecodable bytes kept)."""
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "surrogateescape")


def readllines(data: str, path: str, warn: Warn) -> Iterator[tuple[int, int, str]]:
    """Yield (first_line, last_line, logical_line) like Postfix's readllines()."""
    pos = 0
    end = len(data)
    lineno = 0
    while True:
        pieces: list[str] = []
        first_line = 0
        got_null = False
        while True:
            start_empty = not pieces
            nl = data.find("\n", pos)
            if nl < 0:
                piece, pos, at_eof = data[pos:], end, True
            else:
                piece, pos, at_eof = data[pos:nl], nl + 1, False
            if not at_eof or piece:
                lineno += 1
            if "\0" in piece:
                got_null = True
            stripped = piece.lstrip(C_SPACE)
            if stripped and stripped[0] != "#":
                pieces.append(piece)
            if start_empty:
                first_line = lineno
            if at_eof:
                break
            if pieces:
                nxt = data[pos] if pos < end else ""
                if nxt == "" or (nxt != "#" and nxt not in C_SPACE):
                    break
        if not pieces:
            return
        text = "".join(pieces)
        if got_null:
            why = "text after null byte may be ignored"
            if first_line == lineno:
                warn(f"{path}, line {lineno}: {why}")
            else:
                warn(f"{path}, line {first_line}-{lineno}: {why}")
            text = text.split("\0", 1)[0]
        if text and text[0] in C_SPACE:
            more = "..." if len(text) > 30 else ""
            warn(f'{path}: logical line must not start with whitespace: "{text[:30]}{more}"')
            continue
        if text:
            yield first_line, lineno, text


def balpar(s: str, parens: str) -> int:
    """Length of the parenthesized text at the start of s, 0 if unbalanced."""
    if not s or s[0] != parens[0]:
        return 0
    level = 1
    for i in range(1, len(s)):
        if s[i] == parens[1]:
            level -= 1
            if level == 0:
                return i + 1
        elif s[i] == parens[0]:
            level += 1
    return 0


def extpar(s: str, parens: str, strip: bool) -> tuple[str, str | None]:
    """Remove the outer parens of s. Returns (text, error or None)."""
    err = None
    if not s or s[0] != parens[0]:
        err = f"no '{parens[0]}' at start of text in \"{s}\""
        cp = s
    else:
        n = balpar(s, parens)
        if n == 0:
            err = f"missing '{parens[1]}' in \"{s}\""
            cp = s[1:]
        else:
            if n < len(s):
                err = f"syntax error after '{parens[1]}' in \"{s}\""
            cp = s[1:n - 1]
    if strip:
        cp = cp.rstrip(C_SPACE).lstrip(C_SPACE)
    return cp, err


def mystrtokq(s: str, sep: str, parens: str) -> Iterator[str]:
    """Split s on characters of sep, except inside parens (which may nest)."""
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in sep:
            i += 1
        if i >= n:
            return
        start, level = i, 0
        while i < n:
            ch = s[i]
            if ch == parens[0]:
                level += 1
            elif level > 0 and ch == parens[1]:
                level -= 1
            elif level == 0 and ch in sep:
                break
            i += 1
        yield s[start:i]
        i += 1


def split_nameval(s: str) -> tuple[str, str] | str:
    """Split "name = value"; returns (name, value) or an error text."""
    i, n = 0, len(s)
    while i < n and s[i] in C_SPACE:
        i += 1
    if i >= n or s[i] == "=":
        return "missing attribute name"
    ep = i
    while ep < n and s[ep] not in C_SPACE and s[ep] != "=":
        ep += 1
    cp = ep
    while cp < n and s[cp] in C_SPACE:
        cp += 1
    if cp >= n or s[cp] != "=":
        return "missing '=' after attribute name"
    return s[i:ep], s[cp + 1:].strip(C_SPACE)
