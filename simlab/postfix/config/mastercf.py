"""NAME
    mastercf - read master.cf service entries the way Postfix does

SUMMARY
    services = read_master_cf(config_dir)          # [MasterService, ...]
    entries = parse_master_cf(text, path)          # [MasterEntry, ...] (postconf's view)

DESCRIPTION
    A master.cf entry is one logical line (continuation lines start with
    whitespace; "#" lines are skipped, also inside an entry) with the fields
    service, type, private, unpriv, chroot, wakeup, maxproc and command,
    followed by the command arguments. Text in {} is one argument. Daemon
    options before the first non-option argument are normalized as postconf
    does: "-oname=value" becomes "-o" "name=value", and "-o { name = value }"
    becomes "-o" "name=value".

    Problems are fatal, with Postfix's messages: "file PATH: line N: bad
    field count", 'invalid type field "x" in "..."', and so on.

    MasterService is the typed view for the other programs: private, unpriv
    and chroot are booleans ("-" means y, y, n), wakeup is seconds (0 for
    none) with wakeup_if_used for a trailing "?", maxproc is None for "-"
    (default_process_limit), args are the command arguments without the
    "-o name=value" pairs, which are in overrides.

    See master(5), postconf(1) -M/-F/-P.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .errors import ConfigError
from .maincf import logical_lines, split_nameval

MASTER_BLANKS = " \t\r\n"
MIN_FIELDS = 8
FIELD_NAMES = ["service", "type", "private", "unprivileged", "chroot", "wakeup",
               "process_limit", "command"]
FLD_CMD = 7
VALID_TYPES = ("unix", "unix-dgram", "fifo", "inet", "pass")
OPTIONS_WITH_VALUE = "o"

Warn = Callable[[str], None]


@dataclass(frozen=True)
class MasterService:
    """One master.cf service, typed for the programs that run it."""

    name: str
    type: str
    private: bool
    unpriv: bool
    chroot: bool
    wakeup: int
    maxproc: int | None
    command: str
    args: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    line: int = 0
    wakeup_if_used: bool = False

    @property
    def key(self) -> str:
        """"name/type", the postconf name of the service."""
        return f"{self.name}/{self.type}"


@dataclass
class MasterEntry:
    """postconf's view of an entry: the normalized argument vector."""

    argv: list[str]
    line: int = 0

    @property
    def name_space(self) -> str:
        return f"{self.argv[0]}/{self.argv[1]}"

    @property
    def params(self) -> dict[str, str]:
        """The -o name=value settings (later ones win)."""
        result: dict[str, str] = {}
        i = MIN_FIELDS
        while i < len(self.argv):
            arg = self.argv[i]
            if not arg.startswith("-") or arg == "--":
                break
            if arg[1:2] in OPTIONS_WITH_VALUE and arg[1:2] and i + 1 < len(self.argv):
                if arg == "-o":
                    got = split_nameval(self.argv[i + 1])
                    if not isinstance(got, str):
                        result[got[0]] = got[1]
                i += 1
            i += 1
        return result

    def service(self) -> MasterService:
        a = self.argv
        wakeup = a[5].rstrip("?")
        args: list[str] = []
        i = MIN_FIELDS
        in_options = True
        while i < len(a):
            if in_options and (not a[i].startswith("-") or a[i] == "--"):
                in_options = False
            if in_options and a[i] == "-o" and i + 1 < len(a):
                i += 2
                continue
            args.append(a[i])
            i += 1
        return MasterService(
            name=a[0], type=a[1], private=a[2] != "n", unpriv=a[3] != "n",
            chroot=a[4] == "y", wakeup=int(wakeup) if (wakeup.isascii() and wakeup.isdigit()) else 0,
            maxproc=int(a[6]) if (a[6].isascii() and a[6].isdigit()) else None, command=a[7], args=args,
            overrides=self.params, line=self.line, wakeup_if_used=a[5].endswith("?"))


def split_quoted(text: str, seps: str = MASTER_BLANKS, parens: str = "{}") -> list[str]:
    """argv_splitq(3): split on ``seps`` outside balanced ``parens``."""
    result: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in seps:
            i += 1
        if i >= n:
            return result
        start, level = i, 0
        while i < n:
            ch = text[i]
            if ch == parens[0]:
                level += 1
            elif level > 0 and ch == parens[1]:
                level -= 1
            elif level == 0 and ch in seps:
                break
            i += 1
        result.append(text[start:i])
        i += 1


def _balpar(text: str, parens: str) -> int:
    level = 0
    for i, ch in enumerate(text):
        if ch == parens[0]:
            level += 1
        elif ch == parens[1]:
            level -= 1
            if level == 0:
                return i + 1
    return 0


def extpar(text: str, parens: str = "{}") -> tuple[str, str | None]:
    """extpar(3) with EXTPAR_FLAG_STRIP: the text inside {}, and an error or None."""
    length = _balpar(text, parens)
    err = None
    if length == 0:
        err = f"missing '{parens[1]}' in \"{text}\""
        inner = text[1:]
    else:
        if length < len(text):
            err = f"syntax error after '{parens[1]}' in \"{text}\""
        inner = text[1:length - 1]
    return inner.strip(" \t\n\v\f\r"), err


def normalize_daemon_args(argv: list[str], warn: Warn) -> None:
    """Bring daemon options into canonical form (pcf_normalize_daemon_args)."""
    i = MIN_FIELDS
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "--":
            break
        for j in range(2, len(arg)):
            if arg[j] in OPTIONS_WITH_VALUE:
                argv.insert(i + 1, "-" + arg[j:])
                argv[i] = arg = arg[:j]
                break
        if arg[1:2] == "" or arg[1] not in OPTIONS_WITH_VALUE:
            i += 1
            continue
        if len(arg) > 2:
            argv.insert(i + 1, arg[2:])
            argv[i] = arg[:2]
            i += 1
            extract = argv[i].startswith("{")
        elif i + 1 < len(argv):
            i += 1
            extract = argv[i].startswith("{")
        else:
            extract = False
        if extract:
            inner, err = extpar(argv[i])
            if err:
                warn(f"master.cf: {err}")
            argv[i] = inner
            if argv[i - 1][1] == "o":
                got = split_nameval(argv[i])
                if isinstance(got, str):
                    warn(f'master.cf: {got}: "{argv[i]}"')
                else:
                    argv[i] = f"{got[0]}={got[1]}"
        i += 1
    while i < len(argv):
        if argv[i].startswith("{"):
            inner, err = extpar(argv[i])
            if err:
                warn(f"master.cf: {err}")
            argv[i] = inner
        i += 1


def _invalid(what: str, value: str, raw: str) -> ConfigError:
    return ConfigError(f'invalid {what} field "{value}" in "{raw}"'.replace("\n", " "))


def check_entry(argv: list[str], raw: str) -> None:
    """Per-field sanity checks (pcf_check_master_entry)."""
    if argv[1] not in VALID_TYPES:
        raise _invalid("type", argv[1], raw)
    for index in (2, 3, 4):
        if len(argv[index]) != 1 or argv[index] not in "yn-":
            raise _invalid(FIELD_NAMES[index], argv[index], raw)
    wakeup = argv[5]
    body = wakeup[:-1] if wakeup.endswith("?") else wakeup
    if not (wakeup.startswith("-") and len(body) == 1) and not (body.isascii() and body.isdigit()) and body != "":
        raise _invalid("wakeup", wakeup, raw)
    if argv[6] != "-" and not (argv[6].isascii() and argv[6].isdigit()) and argv[6] != "":
        raise _invalid("process_limit", argv[6], raw)


def parse_entry(text: str, warn: Warn) -> MasterEntry | str:
    """A parsed entry, or "bad field count"."""
    argv = split_quoted(text)
    if len(argv) < MIN_FIELDS:
        return "bad field count"
    check_entry(argv, text)
    normalize_daemon_args(argv, warn)
    return MasterEntry(argv)


def parse_master_cf(text: str, path: str, warn: Warn | None = None) -> list[MasterEntry]:
    """All entries of a master.cf text; ``path`` names the file in messages."""
    warn = warn or (lambda _m: None)
    entries: list[MasterEntry] = []
    for line, first in logical_lines(text, path, warn):
        got = parse_entry(line, warn)
        if isinstance(got, str):
            raise ConfigError(f"file {path}: line {first}: {got}")
        got.line = first
        entries.append(got)
    return entries


# path -> (file bytes, name shown in messages, services, warnings): a file is
# parsed again only when its bytes change; the warnings of the parse are
# replayed, so every reader sees what a fresh read would have said.
_PARSED: dict[str, tuple[bytes, str, tuple[MasterService, ...], tuple[str, ...]]] = {}


def read_master_cf(config_dir: str | Path, warn: Warn | None = None,
                   display_dir: str | None = None) -> list[MasterService]:
    """The services of CONFIG_DIR/master.cf; problems raise ConfigError."""
    path = Path(config_dir) / "master.cf"
    shown = f"{display_dir if display_dir is not None else config_dir}/master.cf"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"open {shown}: {exc.strerror}") from None
    key = str(path)
    hit = _PARSED.get(key)
    if hit is None or hit[0] != data or hit[1] != shown:
        said: list[str] = []
        try:
            services = [entry.service() for entry in
                        parse_master_cf(data.decode("utf-8", "surrogateescape"), shown, said.append)]
        except ConfigError:
            for text in said if warn is not None else ():
                warn(text)
            raise
        hit = (data, shown, tuple(services), tuple(said))
        _PARSED[key] = hit
    if warn is not None:
        for text in hit[3]:
            warn(text)
    return [copy_service(svc) for svc in hit[2]]


def copy_service(svc: MasterService) -> MasterService:
    """A copy whose args and overrides the caller may change."""
    return replace(svc, args=list(svc.args), overrides=dict(svc.overrides))
