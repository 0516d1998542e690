"""NAME
    postmap - Postfix lookup table management

SUMMARY
    postmap [--root ROOT] [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key]
            [file_type:]file_name ...
    main(argv) -> exit status

DESCRIPTION
    Creates FILE.db from the text FILE ("key whitespace value" lines;
    continuation lines start with whitespace; "#" comments), or with -q
    queries, -s lists and -d deletes entries of any table type. Keys are
    folded to lower case unless -f; the first of duplicate keys wins with
    'FILE.db: duplicate entry: "key"' unless -r (last wins) or -w (silent).
    A key may contain whitespace when quoted ("a b"); it is stored quoted.
    -i adds entries read from stdin to an existing table; -N/-n store keys
    with/without a trailing null byte; -F stores the base64 content of the
    files named in the value (and decodes it with -q/-s); -q - reads keys
    from stdin and prints "key<TAB>value"; with -h / -b the keys are the
    header lines / body lines of a message on stdin. -o, -p, -u, -U and -v
    are accepted for compatibility (no owners or permissions to keep here).

    With --root ROOT, absolute paths (in arguments and main.cf) resolve
    under ROOT and the configuration is ROOT/etc/postfix unless -c. Messages
    go to stderr as "postmap: warning: ..." / "postmap: fatal: ..." (exit 1),
    as with Postfix.

PARAMETERS
    default_database_type (the type when none is given). See postconf(5),
    postmap(1), DATABASE_README.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

from ..maps import MapError, open_map, split_spec
from ..maps.base import host_path, os_error_text
from ..maps.hash import DbWriter
from ..maps.textutil import C_SPACE, is_utf8, non_utf8, read_text, readllines
from .cmdutil import Command, root_hostname

USAGE = ("usage: postmap [-bfFhimnNoprsuUvw] [-c config_dir] [-d key] [-q key] "
         "[map_type:]file...")
BUILDABLE = ("hash", "btree")
RDONLY_TYPES = ("texthash", "regexp", "pcre", "cidr", "inline")
# The types of the 3.7.11 build (postconf -m), plus simlab's pcre.
KNOWN_TYPES = ("btree", "cidr", "environ", "fail", "hash", "inline", "internal", "memcache",
               "nis", "pipemap", "proxy", "randmap", "regexp", "socketmap", "static", "tcp",
               "texthash", "unionmap", "unix", "pcre")


class Options:
    """The dict flags and modes shared by postmap and postalias."""

    def __init__(self) -> None:
        self.fold = True
        self.dup = "warn"
        self.nul: str | None = None
        self.incremental = False
        self.query: str | None = None
        self.delkey: str | None = None
        self.sequence = False
        self.header = self.body = self.mime = False
        self.rhs_file = False

    def common(self, cmd: Command, o: str, v: str) -> bool:
        """Apply one option that both commands know; False if not one."""
        if o == "-N":
            self.nul = "1"
        elif o == "-n":
            self.nul = "0"
        elif o == "-f":
            self.fold = False
        elif o == "-i":
            self.incremental = True
        elif o == "-r":
            self.dup = "replace"
        elif o == "-w":
            self.dup = "ignore"
        elif o in ("-d", "-q"):
            if self.sequence or self.query is not None or self.delkey is not None:
                cmd.fatal("specify only one of -s -q or -d")
            if o == "-d":
                self.delkey = v
            else:
                self.query = v
        elif o == "-s":
            if self.query is not None or self.delkey is not None:
                cmd.fatal("specify only one of -s or -q or -d")
            self.sequence = True
        else:
            return o in ("-c", "-o", "-p", "-u", "-v")
        return True


def read_config(cmd: Command) -> dict[str, str]:
    """The main.cf values these commands use, as Postfix's mail_conf_read()."""
    from ..config import ConfigError, HostFacts, load_config
    root = Path(cmd.root) if cmd.root else Path("/")
    shown = cmd.config_dir if cmd.config_dir is not None else "/etc/postfix"
    real = host_path(shown, root) if cmd.root else Path(shown)
    try:
        cfg = load_config(real, facts=HostFacts(hostname=root_hostname(root)), warn=cmd.warn,
                          display_dir=shown.rstrip("/") or "/")
        return {name: cfg[name] for name in
                ("default_database_type", "myhostname", "alias_database")}
    except ConfigError as exc:
        cmd.fatal(str(exc))
    raise AssertionError


def map_spec(arg: str, default_type: str) -> tuple[str, str]:
    if ":" in arg:
        return split_spec(arg)
    return default_type, arg


def open_table(cmd: Command, spec: str, opts: Options, *, writable: bool = False) -> Any:
    type_, name = split_spec(spec)
    if writable and type_ in RDONLY_TYPES:
        cmd.fatal(f"{type_}:{name} map requires O_RDONLY access mode")
    try:
        return open_map(spec, cmd.root, cmd.warn, fold=opts.fold, dup=opts.dup, lock=True,
                        nul=opts.nul, readonly=not writable)
    except MapError as exc:
        cmd.fatal(str(exc))


def check_buildable(cmd: Command, type_: str) -> None:
    """Only hash and btree files can be built; other known types say so."""
    if type_ in BUILDABLE:
        return
    if type_ in KNOWN_TYPES:
        cmd.fatal(f"unsupported dictionary type: {type_} does not support bulk-mode creation.")
    cmd.fatal(f"unsupported dictionary type: {type_}")


def source_text(cmd: Command, name: str, incremental: bool) -> tuple[str, str]:
    """(text, path shown in messages) of the table source, or stdin with -i."""
    if incremental:
        return cmd.stdin.read(), "stdin"
    try:
        return read_text(str(host_path(name, cmd.root))), name
    except OSError as exc:
        cmd.fatal(f"open {name}: {os_error_text(exc)}")
    raise AssertionError


def postmap_records(data: str, path: str, warn: Callable[[str], None]) -> Iterator[tuple[int, str, str]]:
    """The (line, key, value) records of postmap(1) input, with its warnings."""
    for lineno, _last, line in readllines(data, path, warn):
        if not is_utf8(line):
            warn(non_utf8(path, lineno, line))
            continue
        in_quotes = False
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if ch == "\\":
                i += 1
                if i >= n:
                    break
            elif ch in C_SPACE:
                if not in_quotes:
                    break
            elif ch == '"':
                in_quotes = not in_quotes
            i += 1
        if in_quotes:
            warn(f"{path}, line {lineno}: unbalanced '\"' in '{line}' -- ignoring this line")
            continue
        key = line[:i]
        value = line[i + 1:].lstrip(C_SPACE).rstrip(C_SPACE)
        if not key or not value:
            warn(f"{path}, line {lineno}: expected format: key whitespace value")
            continue
        if key.endswith(":"):
            warn(f'{path}, line {lineno}: record is in "key: value" format; is this an alias file?')
        yield lineno, key, value


def file_content_b64(cmd: Command, value: str) -> tuple[str | None, str]:
    """-F: the base64 of the files named in value, or (None, error text)."""
    parts = []
    for fname in value.replace(",", " ").split():
        try:
            parts.append(host_path(fname, cmd.root).read_bytes())
        except OSError as exc:
            return None, f"open {fname}: {os_error_text(exc)}"
    return base64.b64encode(b"\n".join(parts)).decode("ascii"), ""


def open_writer(cmd: Command, type_: str, name: str, opts: Options) -> tuple[str, str, DbWriter]:
    """The source text of ``name``, its path, and a writer for its database (postmap, postalias)."""
    if not opts.incremental and type_ == "proxy":
        cmd.fatal("can't create maps via the proxy service")
    data, path = source_text(cmd, name, opts.incremental)
    check_buildable(cmd, type_)
    try:
        writer = DbWriter(type_, name, root=cmd.root, truncate=not opts.incremental,
                          fold=opts.fold, dup=opts.dup, nul=opts.nul, warn=cmd.warn)
    except MapError as exc:
        cmd.fatal(str(exc))
    return data, path, writer


def build(cmd: Command, type_: str, name: str, opts: Options) -> None:
    data, path, writer = open_writer(cmd, type_, name, opts)
    try:
        for lineno, key, value in postmap_records(data, path, cmd.warn):
            if opts.rhs_file:
                encoded, err = file_content_b64(cmd, value)
                if encoded is None:
                    cmd.warn(f"{path}, line {lineno}: {err}: skipping this entry")
                    continue
                value = encoded
            writer.put(key, value)
    except BaseException:
        writer.abort()
        raise
    writer.close()


def decode_value(cmd: Command, table: Any, key: str, value: str, opts: Options) -> str | None:
    if not opts.rhs_file:
        return value
    try:
        return base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8", "surrogateescape")
    except (ValueError, UnicodeEncodeError):
        cmd.warn(f"table {table.spec}: key {key}: malformed BASE64 value: {value}")
        return None


def query_one(cmd: Command, spec: str, key: str, opts: Options) -> bool:
    table = open_table(cmd, spec, opts)
    try:
        value = table.lookup(key)
    except MapError:
        cmd.fatal(f"table {table.spec}: query error")
    if value is not None:
        if value == "":
            cmd.warn(f"table {spec}: key {key}: empty string result is not allowed")
            cmd.warn(f"table {spec} should return NO RESULT in case of NOT FOUND")
        value = decode_value(cmd, table, key, value, opts)
        if value is not None:
            cmd.out(value + "\n")
    table.close()
    return value is not None


def message_keys(stdin: TextIO, header: bool, body: bool) -> Iterator[str]:
    """-h / -b: logical header lines, then body lines, of a message on stdin."""
    lines = [line[:-1] if line.endswith("\n") else line for line in stdin]
    i, n = 0, len(lines)
    while i < n and lines[i] != "":
        head = lines[i]
        i += 1
        while i < n and lines[i][:1] in (" ", "\t") and lines[i] != "":
            head += "\n" + lines[i]
            i += 1
        if header:
            yield head
    if body:
        yield from lines[i + 1:] if i < n else []


def query_stdin(cmd: Command, specs: list[str], opts: Options, fmt: str) -> bool:
    tables: dict[int, Any] = {}
    found = False
    if opts.header or opts.body:
        keys: Iterator[str] = message_keys(cmd.stdin, opts.header, opts.body)
    else:
        keys = (line[:-1] if line.endswith("\n") else line for line in cmd.stdin)
    for key in keys:
        for n, spec in enumerate(specs):
            if n not in tables:
                tables[n] = open_table(cmd, spec, opts)
            try:
                value = tables[n].lookup(key)
            except MapError:
                cmd.fatal(f"table {tables[n].spec}: query error")
            if value is not None:
                if value == "":
                    cmd.warn(f"table {tables[n].spec}: key {key}: empty string result is not allowed")
                    cmd.warn(f"table {tables[n].spec} should return NO RESULT in case of NOT FOUND")
                value = decode_value(cmd, tables[n], key, value, opts)
                cmd.out(fmt % (key, value))
                found = True
                break
    for table in tables.values():
        table.close()
    return found


def sequence(cmd: Command, spec: str, opts: Options, fmt: str) -> None:
    if spec.startswith("proxy:"):
        cmd.fatal("can't sequence maps via the proxy service")
    table = open_table(cmd, spec, opts)
    try:
        for key, value in table.items():
            if key == "":
                cmd.warn(f"table {spec}: empty lookup key value is not allowed")
            elif value == "":
                cmd.warn(f"table {spec}: key {key}: empty string result is not allowed")
                cmd.warn(f"table {spec} should return NO RESULT in case of NOT FOUND")
            decoded = decode_value(cmd, table, key, value, opts)
            if decoded is not None:
                cmd.out(fmt % (key, decoded))
    except MapError as exc:
        cmd.fatal(str(exc))
    table.close()


def delete(cmd: Command, specs: list[str], keys: list[str], opts: Options) -> bool:
    found = False
    tables = [open_table(cmd, spec, opts, writable=True) for spec in specs]
    for key in keys:
        for table in tables:
            try:
                found |= table.delete(key)
            except MapError as exc:
                cmd.fatal(str(exc))
    for table in tables:
        table.close()
    return found


def _postmap(cmd: Command) -> int:
    opts = Options()
    pairs, args = cmd.getopt("bc:d:fFhimnNopq:rsuUvw", USAGE)
    for o, v in pairs:
        if opts.common(cmd, o, v):
            continue
        if o == "-b":
            opts.body = True
        elif o == "-h":
            opts.header = True
        elif o == "-m":
            opts.mime = True
        elif o == "-F":
            opts.rhs_file = True
    config = read_config(cmd)
    if (opts.query != "-") and (opts.header or opts.body or opts.mime):
        cmd.fatal('specify -b -h or -m only with "-q -"')
    if opts.mime and not (opts.header or opts.body):
        cmd.warn("ignoring -m option without -b or -h")
    if opts.mime and (opts.header or opts.body):
        cmd.fatal("MIME parsing (-m) is not available in simlab")
    return run_modes(cmd, opts, args, config, USAGE, "%s\t%s\n", lambda t, n: build(cmd, t, n, opts))


def run_modes(cmd: Command, opts: Options, args: list[str], config: dict[str, str], usage: str,
              fmt: str, builder: Callable[[str, str], None]) -> int:
    """The -d / -q / -s / build dispatch of postmap and postalias over the table arguments."""
    if not args:
        if opts.sequence:
            return 1
        cmd.fatal(usage)
    db_type = config["default_database_type"] or "hash"
    try:
        specs = [":".join(map_spec(a, db_type)) for a in args]
    except MapError as exc:
        cmd.fatal(str(exc))
    if opts.delkey is not None:
        keys = [line.rstrip("\n") for line in cmd.stdin] if opts.delkey == "-" else [opts.delkey]
        return 0 if delete(cmd, specs, keys, opts) else 1
    if opts.query is not None:
        if opts.query == "-":
            return 0 if query_stdin(cmd, specs, opts, fmt) else 1
        for spec in specs:
            if query_one(cmd, spec, opts.query, opts):
                return 0
        return 1
    if opts.sequence:
        sequence(cmd, specs[0], opts, fmt)
        return 0
    for spec in specs:
        builder(*split_spec(spec))
    return 0


def main(argv: list[str], *, stdin: Any = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    cmd = Command("postmap", argv, stdin=stdin, stdout=stdout, stderr=stderr)
    return cmd.run(lambda: _postmap(cmd))
