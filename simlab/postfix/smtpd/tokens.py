"""NAME
    tokens - smtpd(8) command line tokens and envelope address extraction

SUMMARY
    argv = tokenize("MAIL FROM:<bob@example.com> SIZE=10")
        -> [Token("MAIL"), Token("FROM:"), Token("<bob@example.com>", ADDR), Token("SIZE=10")]
    err, addr = extract_addr(argv[2], allow_empty=True, strict=False, check=resolver_ok)

DESCRIPTION
    The tokenizer is smtpd_token(3)'s: words are split at white space;
    ``<...>`` and ``"..."`` are kept whole (white space included), nested
    quotes and backslash escapes respected; a word ending in ``to:`` or
    ``from:`` ends there, so ``FROM:<x>`` and ``FROM: <x>`` are the same.
    An unbalanced ``<`` or ``"`` makes an error token (the caller replies
    "Bad ... address syntax" without logging).

    extract_addr() is smtpd's: strip one pair of angle brackets and a
    source route (``@a,@b:user@c``), parse the rest as RFC 822 (so
    ``<bob @example.com>`` is bob@example.com and ``<a b@example.com>``
    holds two addresses, an error), and return the address in internal
    (unquoted) form. Errors are logged by the caller as "Illegal address
    syntax".

SEE ALSO
    smtpd(8), RFC 5321 section 4.1.2, RFC 822
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

from ..maps import tok822

OTHER, ADDR, ERROR = "other", "addr", "error"
_WS = " \t\r\n\v\f"


@dataclass(frozen=True)
class Token:
    text: str
    kind: str = OTHER


# Characters that mean something to the tokenizer; runs of other characters are copied at once.
_ORDINARY = re.compile(r'[^ \t\r\n\v\f<":\\]+')
_QUOTED_ORDINARY = re.compile(r'[^<>"\\]+')


def _quoted(s: str, i: int, start: str, last: str, out: list[str]) -> tuple[int, bool]:
    """Copy a quoted/bracketed run; returns (index, closed)."""
    stack = [last]
    out.append(start)
    n = len(s)
    while i < n:
        m = _QUOTED_ORDINARY.match(s, i)
        if m is not None:
            out.append(m.group())
            i = m.end()
            if i >= n:
                break
        c = s[i]
        i += 1
        out.append(c)
        if c == "\\":
            if i >= n:
                break
            out.append(s[i])
            i += 1
        elif c == stack[-1]:
            stack.pop()
            if not stack:
                return i, True
        elif c == '"':
            stack.append('"')
        elif c == "<" and stack[-1] == ">":
            stack.append(">")
    return i, False


def tokenize(line: str) -> list[Token]:
    """smtpd_token(): split a command line into tokens."""
    return list(_tokens(line))


@functools.lru_cache(maxsize=1024)
def _tokens(line: str) -> tuple[Token, ...]:
    # memo: clients repeat their command lines (EHLO, MAIL FROM, DATA, QUIT); Tokens are immutable
    toks: list[Token] = []
    i, n = 0, len(line)
    while i < n:
        buf: list[str] = []
        kind = OTHER
        while i < n:
            m = _ORDINARY.match(line, i)
            if m is not None:
                buf.append(m.group())
                i = m.end()
                continue
            c = line[i]
            i += 1
            if c in _WS:
                while i < n and line[i] in _WS:
                    i += 1
                if buf:
                    break
            elif c == "<":
                kind = ADDR
                i, closed = _quoted(line, i, c, ">", buf)
                if not closed:
                    kind = ERROR
            elif c == '"':
                i, closed = _quoted(line, i, c, '"', buf)
                if not closed:
                    kind = ERROR
            elif c == ":":
                buf.append(c)
                word = "".join(buf).lower()
                if word in ("to:", "from:"):
                    break
            else:
                buf.append(c)
                if i >= n:
                    break
                buf.append(line[i])
                i += 1
        if buf:
            toks.append(Token("".join(buf), kind))
    return tuple(toks)


def extract_addr(token: Token, *, allow_empty: bool, strict: bool,
                 check: Callable[[str], bool] | None = None) -> tuple[bool, str]:
    """smtpd's extract_addr(): (error, internal address)."""
    raw = token.text
    text = raw[1:-1] if len(raw) >= 2 and raw[0] == "<" and raw[-1] == ">" else raw
    if text.startswith("@") and ":" in text:
        text = text[text.index(":") + 1:]
    naddr, non_addr, internal = _parse_addr(text)
    if naddr > 1 or (strict and (non_addr or not raw.startswith("<"))):
        return True, internal
    if (not internal and not allow_empty) or (strict and internal.startswith("@")):
        return True, internal
    if internal and check is not None and not check(internal):
        return True, internal
    return False, internal


@functools.lru_cache(maxsize=1024)
def _parse_addr(text: str) -> tuple[int, int, str]:
    """(addresses, other tokens, the last address in internal form) of an RFC 822 parse."""
    naddr = non_addr = 0
    addr = None
    tp = tok822.parse(text)
    while tp is not None:
        if tp.type == tok822.ADDR:
            addr = tp
            naddr += 1
        elif tp.type not in ("<", ">"):
            non_addr += 1
        tp = tp.next
    return naddr, non_addr, tok822.internalize(addr.head) if addr is not None else ""


def printable(text: str, repl: str = "?") -> str:
    """printable(3): replace non-printable characters."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if (32 <= ord(c) < 127 or ord(c) >= 160) else repl for c in text)


def escape(data: bytes) -> str:
    """escape(3): C-style escapes for logging raw input (\\r, \\n, \\t, \\ooo)."""
    out = []
    for b in data:
        c = chr(b)
        if c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\\":
            out.append("\\\\")
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append("\\%03o" % b)
    return "".join(out)


# -- ESMTP parameters -----------------------------------------------------------------
def xtext_unquote(text: str) -> str | None:
    """RFC 3461 xtext decoding; None when malformed."""
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "+":
            h = text[i + 1:i + 3]
            if len(h) != 2 or any(x not in "0123456789ABCDEFabcdef" for x in h):
                return None
            out.append(chr(int(h, 16)))
            i += 3
            continue
        if not (33 <= ord(c) <= 126) or c == "=":
            return None
        out.append(c)
        i += 1
    return "".join(out)


def xtext_quote(text: str) -> str:
    return "".join("+%02X" % ord(c) if (c in "+=" or not 33 <= ord(c) <= 126) else c for c in text)


DSN_NOTIFY_WORDS = ("NEVER", "SUCCESS", "FAILURE", "DELAY")


def dsn_notify(value: str) -> str | None:
    """Validate NOTIFY=; returns the canonical comma list or None."""
    words = [w.upper() for w in value.split(",")]
    if not words or any(w not in DSN_NOTIFY_WORDS for w in words):
        return None
    if "NEVER" in words and len(words) > 1:
        return None
    return ",".join(w for w in DSN_NOTIFY_WORDS if w in words)


def allprint(text: str) -> bool:
    return all(32 <= ord(c) < 127 for c in text)


# -- host names ------------------------------------------------------------------------
_HOSTNAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$")


@functools.lru_cache(maxsize=1024)
def valid_hostname(name: str) -> bool:
    if not name or len(name) > 255 or ".." in name:
        return False
    if all(c.isdigit() or c == "." for c in name):
        return False
    return bool(_HOSTNAME.match(name)) and all(len(label) <= 63 for label in name.split("."))


def valid_hostaddr(text: str) -> bool:
    t = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if t.lower().startswith("ipv6:"):
        t = t[5:]
    try:
        ipaddress.ip_address(t)
    except ValueError:
        return False
    return True
