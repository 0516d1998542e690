"""NAME
    shparse - the grammar of simlab's /bin/sh subset: words, quoting, lists, pipes, redirections

SUMMARY
    program = parse('deliver -f "$SENDER" | tee -a log; echo done')   # [(connector, Pipeline), ...]

DESCRIPTION
    The lexer turns the script into words (each a list of literal,
    quoted-literal and $NAME parts, so that expansion and field splitting
    can happen later, per shell.py) and operators; the parser builds
    and-or lists of pipelines of simple commands with their redirections.
    Anything outside the subset described in shell.py raises ShellError,
    whose text follows dash's "Syntax error: ..." messages.

SEE ALSO
    simlab.sim.shell, sh(1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("&&", "||", ">>", ">&", ";", "|", ">", "<", "&", "(", ")")
_UNSUPPORTED = {"&": "background jobs", "(": "subshells", ")": "subshells", "`": "command substitution",
                "$(": "command substitution", "<<": "here-documents"}
_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac"}


class ShellError(Exception):
    """A syntax error: the script does not run at all."""


@dataclass
class Word:
    """One shell word: (kind, text) parts, kind "lit" / "qlit" / "var" / "qvar"."""

    parts: list[tuple[str, str]] = field(default_factory=list)
    line: int = 1

    def literal(self) -> str | None:
        """The word's text when it has no quotes and no expansions (operators, keywords)."""
        if all(kind == "lit" for kind, _ in self.parts):
            return "".join(text for _, text in self.parts)
        return None


@dataclass
class Redirect:
    op: str                    # ">", ">>", "<", "dup"
    fd: int
    target: Word | None


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    line: int = 1


@dataclass
class Pipeline:
    commands: list[Command]
    negate: bool = False


# -- lexer --------------------------------------------------------------------------------
class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1

    def tokens(self) -> list[Any]:
        """Words and operator strings; "\\n" for a newline."""
        out: list[Any] = []
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "\n":
                out.append("\n")
                self.line += 1
                self.i += 1
            elif c == "#":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif s.startswith("<<", self.i) or c == "`":
                raise ShellError(f"{_UNSUPPORTED['<<' if c == '<' else c]} are not supported")
            elif any(s.startswith(op, self.i) for op in _OPERATORS):
                op = next(op for op in _OPERATORS if s.startswith(op, self.i))
                if op in _UNSUPPORTED:
                    raise ShellError(f'"{op}" unexpected ({_UNSUPPORTED[op]} are not supported)')
                out.append(op)
                self.i += len(op)
            else:
                out.append(self.word())
        return out

    def word(self) -> Word:
        w = Word(line=self.line)
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n" or any(s.startswith(op, self.i) for op in _OPERATORS):
                break
            if c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise ShellError("Unterminated quoted string")
                w.parts.append(("qlit", s[self.i + 1:end]))
                self.line += s.count("\n", self.i, end)
                self.i = end + 1
            elif c == '"':
                self.i += 1
                self.double_quoted(w)
            elif c == "\\":
                if self.i + 1 < len(s) and s[self.i + 1] == "\n":
                    self.line += 1
                elif self.i + 1 < len(s):
                    w.parts.append(("qlit", s[self.i + 1]))
                self.i += 2
            elif c == "$":
                self.dollar(w, quoted=False)
            elif c == "`":
                raise ShellError("command substitution is not supported")
            else:
                w.parts.append(("lit", c))
                self.i += 1
        return w

    def double_quoted(self, w: Word) -> None:
        s = self.s
        w.parts.append(("qlit", ""))       # "" is a word of its own
        while True:
            if self.i >= len(s):
                raise ShellError("Unterminated quoted string")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    w.parts.append(("qlit", s[self.i + 1]))
                else:
                    self.line += 1
                self.i += 2
            elif c == "$":
                self.dollar(w, quoted=True)
            elif c == "`":
                raise ShellError("command substitution is not supported")
            else:
                if c == "\n":
                    self.line += 1
                w.parts.append(("qlit", c))
                self.i += 1

    def dollar(self, w: Word, quoted: bool) -> None:
        s = self.s
        kind = "qvar" if quoted else "var"
        nxt = s[self.i + 1:self.i + 2]
        if nxt == "(":
            raise ShellError("command substitution is not supported")
        if nxt == "{":
            end = s.find("}", self.i + 2)
            name = s[self.i + 2:end] if end >= 0 else ""
            if end < 0 or not (_NAME.fullmatch(name) or name == "?"):
                raise ShellError("Bad substitution")
            w.parts.append((kind, name))
            self.i = end + 1
            return
        m = _NAME.match(s, self.i + 1)
        if m:
            w.parts.append((kind, m.group(0)))
            self.i = m.end()
        elif nxt == "?" or (nxt.isdigit() and nxt.isascii()):
            w.parts.append((kind, nxt))
            self.i += 2
        else:
            w.parts.append(("qlit" if quoted else "lit", "$"))
            self.i += 1


# -- parser ------------------------------------------------------------------------------
def parse(text: str) -> list[tuple[str, Pipeline]]:
    """The script as (connector, pipeline) pairs; connector is ";", "&&" or "||"."""
    toks = _Lexer(text).tokens()
    pos = 0
    out: list[tuple[str, Pipeline]] = []

    def peek() -> Any:
        return toks[pos] if pos < len(toks) else None

    def unexpected(tok: Any) -> ShellError:
        if tok is None:
            return ShellError("end of file unexpected")
        return ShellError(f'"{"newline" if tok == chr(10) else tok}" unexpected')

    def skip_newlines() -> None:
        nonlocal pos
        while peek() == "\n":
            pos += 1

    def command() -> Command:
        nonlocal pos
        cmd = Command()
        while True:
            tok = peek()
            if isinstance(tok, Word):
                if not cmd.words and not cmd.redirects and tok.literal() in _KEYWORDS:
                    raise ShellError(f'"{tok.literal()}" unexpected (control structures are not supported)')
                lit = tok.literal()
                nxt = toks[pos + 1] if pos + 1 < len(toks) else None
                if lit is not None and lit.isdigit() and nxt in (">", ">>", "<", ">&"):
                    pos += 1
                    cmd.redirects.append(redirect(int(lit)))
                    continue
                cmd.line = cmd.line if cmd.words else tok.line
                cmd.words.append(tok)
                pos += 1
            elif tok in (">", ">>", "<", ">&"):
                cmd.redirects.append(redirect(None))
            else:
                break
        if not cmd.words and not cmd.redirects:
            raise unexpected(peek())
        return cmd

    def redirect(fd: int | None) -> Redirect:
        nonlocal pos
        op = toks[pos]
        pos += 1
        target = peek()
        if not isinstance(target, Word):
            raise unexpected(target)
        pos += 1
        if op == ">&":
            lit = target.literal()
            if lit not in ("1", "2"):
                raise ShellError(f"{fd if fd is not None else 1}>&{lit}: only 2>&1 and >&2 are supported")
            return Redirect("dup", 1 if fd is None else fd, None)
        default = 0 if op == "<" else 1
        if (fd if fd is not None else default) != default:
            raise ShellError(f"{fd}{op}: only standard input and output can be redirected to files")
        return Redirect(op, default, target)

    def pipeline() -> Pipeline:
        nonlocal pos
        negate = False
        if isinstance(peek(), Word) and peek().literal() == "!":
            negate = True
            pos += 1
        cmds = [command()]
        while peek() == "|":
            pos += 1
            skip_newlines()
            cmds.append(command())
        return Pipeline(cmds, negate)

    connector = ";"
    skip_newlines()
    while pos < len(toks):
        out.append((connector, pipeline()))
        tok = peek()
        if tok in ("&&", "||"):
            connector = tok
            pos += 1
            skip_newlines()
            if peek() is None:
                raise unexpected(None)
            continue
        if tok in (";", "\n"):
            pos += 1
            connector = ";"
            skip_newlines()
            if peek() == ";":
                raise unexpected(";")
            continue
        if tok is not None:
            raise unexpected(tok)
    return out
