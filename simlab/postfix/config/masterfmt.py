"""NAME
    masterfmt - postconf's master.cf output and editing (-M, -F, -P)

SUMMARY
    format_entry(entry, fold)                 # one "postconf -M" entry
    format_field(entry, field, hide_name, fold)
    fold_line(text, fold)                     # postconf's whitespace-normalized line
    edit_master_cf(text, path, kind, op, args, warn)

DESCRIPTION
    format_entry() puts the eight standard fields at columns 0, 11, 17, 25,
    33, 41, 49 and 57 (at least one space apart), then the arguments; each
    "-o name=value" starts a new line when folding (-Mf, and always when
    postconf writes master.cf). fold_line() collapses whitespace runs to one
    space and, when folding, wraps before 80 columns with a 4-space indent.

    edit_master_cf() implements postconf -Me / -MX / -M# (whole entries),
    -Fe (one field) and -Pe / -PX (one -o parameter), rewriting only the
    entries it changes; comment lines inside a rewritten entry are moved
    before it, as Postfix does.

    See postconf(1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError
from .maincf import ISSPACE, split_nameval
from .mastercf import (FIELD_NAMES, FLD_CMD, MASTER_BLANKS, MIN_FIELDS, OPTIONS_WITH_VALUE,
                       MasterEntry, check_entry, normalize_daemon_args, parse_entry,
                       split_quoted)

LINE_LIMIT = 80
INDENT = "    "
SEPARATORS = " \t\r\n"
WILDC = -1
_COLUMNS = [0, 11, 17, 25, 33, 41, 49, 57]
EDIT_OPTS = "-Me, -Fe, -Pe, -X, or -#"

Warn = Callable[[str], None]
Expand = Callable[[str, MasterEntry], str]


def fold_line(text: str, fold: bool = False) -> str:
    """pcf_print_line(): words separated by one space, optionally wrapped."""
    out: list[str] = []
    line_len = 0
    for word in [w for w in _split_words(text) if w]:
        if line_len > 0:
            if not fold or line_len + len(word) < LINE_LIMIT:
                out.append(" ")
                line_len += 1
            else:
                out.append("\n" + INDENT)
                line_len = len(INDENT)
        out.append(word)
        line_len += len(word)
    return "".join(out) + "\n"


def _split_words(text: str) -> list[str]:
    words, cur = [], []
    for ch in text:
        if ch in SEPARATORS:
            words.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    words.append("".join(cur))
    return words


def _has_blank(text: str) -> bool:
    return any(ch in MASTER_BLANKS for ch in text)


def _format_args(argv: list[str], start: int, line_len: int, fold: bool, entry: MasterEntry,
                 expand: Expand | None, value_extra: int) -> tuple[list[str], int]:
    out: list[str] = []
    in_options = True
    field = start
    while field < len(argv):
        arg = argv[field]
        arg_len = len(arg)
        aval = None
        need_parens = False
        if in_options:
            if not arg.startswith("-") or arg == "--":
                in_options = False
            elif arg[1:2] in OPTIONS_WITH_VALUE and field + 1 < len(argv):
                aval = argv[field + 1]
                line_len = LINE_LIMIT
                if arg == "-o" and expand is not None:
                    aval = expand(aval, entry)
                arg_len += len(aval) + value_extra
                need_parens = _has_blank(aval)
                if need_parens:
                    arg_len += 2
        else:
            need_parens = _has_blank(arg)
        if line_len > len(INDENT):
            if not fold or line_len + 1 + arg_len < LINE_LIMIT:
                out.append(" ")
                line_len += 1
            else:
                out.append("\n" + INDENT)
                line_len = len(INDENT)
        text = "{" + arg + "}" if not in_options and need_parens else arg
        out.append(text)
        line_len += len(text)
        if aval is not None:
            out.append(" " + ("{" + aval + "}" if need_parens else aval))
            field += 1
            line_len = LINE_LIMIT
        field += 1
    return out, line_len


def format_entry(entry: MasterEntry, fold: bool, expand: Expand | None = None) -> str:
    """pcf_print_master_entry()."""
    argv = entry.argv
    out: list[str] = []
    line_len = 0
    for field in range(MIN_FIELDS):
        if line_len > 0:
            while True:
                out.append(" ")
                line_len += 1
                if line_len >= _COLUMNS[field]:
                    break
        out.append(argv[field])
        line_len += len(argv[field])
    rest, _ = _format_args(argv, MIN_FIELDS, line_len, fold, entry, expand, 3)
    return "".join(out + rest) + "\n"


def format_field(entry: MasterEntry, field: int, hide_name: bool, fold: bool,
                 expand: Expand | None = None) -> str:
    """pcf_print_master_field(): "name/type/field = value"."""
    argv = entry.argv
    out: list[str] = []
    line_len = 0
    if not hide_name:
        head = f"{argv[0]}/{argv[1]}/{FIELD_NAMES[field]} = "
        out.append(head)
        line_len = len(head)
        if line_len + len(argv[field]) > LINE_LIMIT:
            out.append("\n" + INDENT)
            line_len = len(INDENT)
    out.append(argv[field])
    line_len += len(argv[field])
    if field == FLD_CMD:
        rest, _ = _format_args(argv, FLD_CMD + 1, line_len, fold, entry, expand, 1)
        out += rest
    return "".join(out) + "\n"


def parse_service_pattern(pattern: str, min_n: int, max_n: int) -> list[str] | None:
    """Split name/type[/field] on "/", padding missing parts with "*"."""
    if pattern.startswith("/"):
        return None
    parts = [p for p in pattern.split("/") if p]
    if not min_n <= len(parts) <= max_n:
        return None
    if any(p != "*" and "*" in p for p in parts):
        return None
    return parts + ["*"] * (max_n - len(parts))


def match_service(pattern: list[str], name: str, kind: str) -> bool:
    return pattern[0] in ("*", name) and pattern[1] in ("*", kind)


def parse_field_pattern(name: str) -> int:
    if name == "*":
        return WILDC
    if name in FIELD_NAMES:
        return FIELD_NAMES.index(name)
    raise ConfigError(f'invalid service attribute name: "{name}"')


def edit_field(entry: MasterEntry, field: int, value: str, warn: Warn) -> None:
    """Replace one field; "command" takes the command and all its arguments."""
    if field == FLD_CMD:
        del entry.argv[FLD_CMD:]
        entry.argv += split_quoted(value)
        normalize_daemon_args(entry.argv, warn)
    else:
        entry.argv[field] = value
    check_entry(entry.argv, value)


def edit_param(entry: MasterEntry, exclude: bool, name: str, value: str | None) -> None:
    """Update, add or (exclude) remove "-o name=value"."""
    argv = entry.argv
    matched = False
    field = MIN_FIELDS
    while field < len(argv):
        arg = argv[field]
        if not arg.startswith("-") or arg == "--":
            break
        if arg[1:2] in OPTIONS_WITH_VALUE and field + 1 < len(argv):
            aval = argv[field + 1]
            if arg == "-o" and aval.startswith(name + "="):
                matched = True
                if exclude:
                    del argv[field:field + 2]
                    field -= 2
                else:
                    argv[field + 1] = f"{name}={value}"
            field += 1
        field += 1
    if not exclude and not matched:
        argv[field:field] = ["-o", f"{name}={value}"]


@dataclass
class _Request:
    raw: str
    pattern: list[str]
    value: str | None
    field: int = 0
    param: str = ""
    count: int = 0


def _requests(kind: str, op: str, args: list[str]) -> list[_Request]:
    reqs = []
    for raw in args:
        if "\n" in raw:
            raise ConfigError(f"{EDIT_OPTS} accept no multi-line input")
        cp = raw.lstrip(ISSPACE)
        if cp.startswith("#"):
            raise ConfigError(f"{EDIT_OPTS} accept no comment input")
        if op == "edit":
            got = split_nameval(cp)
            if isinstance(got, str):
                raise ConfigError(f'{got}: "{raw}"')
            pattern_text, value = got
        else:
            if "=" in cp:
                raise ConfigError("-X or -# requires names without value")
            pattern_text, value = cp.rstrip(ISSPACE), None
        if kind == "entry":
            pattern = parse_service_pattern(pattern_text, 2, 2)
            if pattern is None:
                raise ConfigError("-Me, -MX or -M# requires service_name/type")
            reqs.append(_Request(raw, pattern, value))
        elif kind == "field":
            pattern = parse_service_pattern(pattern_text, 3, 3)
            if pattern is None:
                raise ConfigError("-Fe or -FX requires service_name/type/field_name")
            field = parse_field_pattern(pattern[2])
            if field == WILDC:
                raise ConfigError("-Fe does not accept wild-card field name")
            if op == "edit" and field < FLD_CMD and _has_blank(value or ""):
                raise ConfigError("-Fe does not accept whitespace in non-command field")
            reqs.append(_Request(raw, pattern, value, field=field))
        else:
            pattern = parse_service_pattern(pattern_text, 3, 3)
            if pattern is None:
                raise ConfigError("-Pe or -PX requires service_name/type/parameter")
            if pattern[2] == "*":
                raise ConfigError("-Pe does not accept wild-card parameter name")
            if op == "edit" and _has_blank(value or ""):
                raise ConfigError("-Pe does not accept whitespace in parameter value")
            reqs.append(_Request(raw, pattern, value, param=pattern[2]))
    return reqs


def _new_entry(req: _Request, warn: Warn) -> MasterEntry:
    got = parse_entry(req.value or "", warn)
    if isinstance(got, str):
        raise ConfigError(f'{got}: "{req.raw}"')
    return got


def edit_master_cf(text: str, path: str, kind: str, op: str, args: list[str],
                   warn: Warn) -> str:
    """New master.cf text; kind is entry/field/param, op is edit/exclude/comment."""
    reqs = _requests(kind, op, args)
    lines = [ln if ln.endswith("\n") else ln + "\n" for ln in text.splitlines(keepends=True)]
    out: list[str] = []
    matched = False
    lineno = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        lineno += 1
        body = line.lstrip(ISSPACE)
        if not body or body.startswith("#"):
            out.append(line)
            continue
        if len(body) < len(line):
            if not matched:
                out.append(line)
            elif op == "comment":
                out.append("#" + line)
            continue
        matched = False
        words = [w for w in re.split(r"[ \t\r\n]+", line) if w]
        if len(words) < 2:
            raise ConfigError(f"file {path}: line {lineno}: specify service name and type "
                              "on the same line")
        name, stype = words[0], words[1]
        if "=" in name:
            raise ConfigError(f'file {path}: line {lineno}: service name syntax "{name}" is '
                              f"unsupported with {EDIT_OPTS}")
        if any(ch in stype for ch in "=/"):
            raise ConfigError(f'file {path}: line {lineno}: service type syntax "{stype}" is '
                              f"unsupported with {EDIT_OPTS}")
        new_entry: MasterEntry | None = None
        for req in reqs:
            tentative = _new_entry(req, warn) if kind == "entry" and op == "edit" else None
            use_tentative = False
            if match_service(req.pattern, name, stype):
                matched = True
                req.count += 1
                if op == "edit" or (kind == "param" and op == "exclude"):
                    if kind in ("field", "param"):
                        if new_entry is None:
                            full = line
                            while i < len(lines) and (lines[i][:1] == "#"
                                                      or lines[i][:1] in ISSPACE):
                                nxt = lines[i]
                                i += 1
                                nbody = nxt.lstrip(ISSPACE)
                                if nbody and not nbody.startswith("#"):
                                    full += nxt
                                else:
                                    out.append(nxt)
                            got = parse_entry(full, warn)
                            if isinstance(got, str):
                                raise ConfigError(f"file {path}: line {lineno}: {got}")
                            new_entry = got
                        if kind == "field":
                            edit_field(new_entry, req.field, req.value or "", warn)
                        else:
                            edit_param(new_entry, op == "exclude", req.param, req.value)
                    elif req.count == 1:
                        use_tentative = True
            elif tentative is not None and match_service(tentative.argv, name, stype):
                matched = True
                req.count += 1
                use_tentative = req.count == 1
            if tentative is not None and use_tentative:
                new_entry = tentative
        if new_entry is not None:
            out.append(format_entry(new_entry, fold=True))
        elif not matched:
            out.append(line)
        elif op == "comment":
            out.append("#" + line)
    for req in reqs:
        if req.count == 0:
            if kind == "entry" and op == "edit":
                out.append(format_entry(_new_entry(req, warn), fold=True))
            elif kind != "entry":
                warn(f'unmatched service_name/type: "{req.raw}"')
    return "".join(out)
