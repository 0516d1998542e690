"""NAME
    postconf - Postfix configuration utility

SUMMARY
    simlab postconf [--root ROOT] [-c config_dir] [-dfhHnpx] [-C class] [-o name=value] [name ...]
    simlab postconf [-c config_dir] [-e] name=value ...     (also -X name ..., -# name ...)
    simlab postconf [-c config_dir] -M [-fx] [service[/type] ...]   (-Me, -MX, -M#)
    simlab postconf [-c config_dir] -F [-fhx] [service[/type[/field]] ...]   (-Fe)
    simlab postconf [-c config_dir] -P [-fhx] [service[/type[/param]] ...]   (-Pe, -PX)
    simlab postconf -a | -A | -l | -m

DESCRIPTION
    Shows main.cf parameters (all, named, -n explicit, -d defaults, -x
    expanded, -h values only, -H names only, -f folded), edits main.cf
    (-e, -X, -#) and shows or edits master.cf entries, fields and -o
    parameters, with the output, messages ("postconf: warning: ...",
    "postconf: fatal: ...") and exit codes of Postfix 3.7's postconf(1).
    Like Postfix it checks the configuration while it reads it: unused and
    undefined parameters, overriding entries and macro loops are reported.

    With --root ROOT, absolute paths resolve under ROOT and the
    configuration directory defaults to ROOT/etc/postfix (shown as
    /etc/postfix); without it, -c names a real folder (default /etc/postfix).

    Not supported: -b and -t (bounce templates) end with a fatal error.

    Parameters read: config_directory and all of main.cf. See postconf(1),
    postconf(5).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

from ..config import expand as mx
from ..config.errors import ConfigError
from ..config.hostfacts import HostFacts
from ..config.maincf import (COMMENT_OUT, EDIT_CONF, EDIT_EXCL, Entry, edit_main_cf,
                             parse_main_cf, split_nameval)
from ..config.masterfmt import (WILDC, edit_master_cf, fold_line, format_entry, format_field,
                                match_service, parse_field_pattern, parse_service_pattern)
from ..config.mastercf import FLD_CMD, MasterEntry, parse_master_cf
from ..config.namespace import BUILTIN, SERVICE, USER, Namespace
from ..maps.dynamic import dynamic_types
from .cmdutil import printable
from .postconf_options import (COMPAT, EDITS, FLAGS, INCOMPAT, MAJOR, MASTER, PROG, F,
                               Fatal, _emit, _getopt, _mask_names)

# The dictionary, locking and SASL types of the Postfix 3.7 build this command mirrors.
MAP_TYPES = ["btree", "cidr", "environ", "fail", "hash", "inline", "internal", "memcache",
             "nis", "pipemap", "proxy", "randmap", "regexp", "socketmap", "static", "tcp",
             "texthash", "unionmap", "unix"]
LOCK_TYPES = ["flock", "fcntl", "dotlock"]
SASL_SERVER, SASL_CLIENT = ["cyrus", "dovecot"], ["cyrus"]
CLASSES = {"builtin": {BUILTIN}, "service": {SERVICE}, "user": {USER},
           "all": {BUILTIN, SERVICE, USER}}


class Output:
    """Standard output with a 4096-byte buffer that a fatal error discards, as in Postfix."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.buf: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.buf.append(text)
        self.size += len(text)
        if self.size >= 4096:
            data = "".join(self.buf)
            cut = len(data) - len(data) % 4096
            _emit(self.stream, data[:cut])
            self.buf, self.size = [data[cut:]], len(data) - cut

    def flush(self) -> None:
        _emit(self.stream, "".join(self.buf))
        self.buf, self.size = [], 0
        self.stream.flush()


def _warn(message: str) -> None:
    _emit(sys.stderr, f"{PROG}: warning: {printable(message)}\n")


class Postconf:
    """One postconf invocation."""

    def __init__(self, argv: list[str], out: Output, facts: HostFacts | None) -> None:
        self.out = out
        self.facts = facts or HostFacts()
        opts, self.args, root = _getopt(argv)
        self.mode = 0
        self.config_dir: str | None = None
        self.overrides: list[str] = []
        self.classes = CLASSES["all"]
        for ch, value in opts:
            if ch == "c":
                self.config_dir = value
            elif ch == "C":
                self.classes = self._classes(value)
            elif ch == "o":
                self.overrides.append(value)
            if ch not in "cCv":
                self.mode |= FLAGS[ch]
        self.root = Path(root) if root else None
        self.shown = self.config_dir if self.config_dir is not None else "/etc/postfix"

    def _classes(self, text: str) -> set[str]:
        result: set[str] = set()
        for word in text.replace("|", " ").replace(",", " ").split():
            if word.lower() not in CLASSES:
                raise Fatal(f'unknown -C option value "{word}" in "{text}"')
            result |= CLASSES[word.lower()]
        return result

    def path(self, name: str) -> Path:
        folder = Path(self.shown)
        if self.root is not None and folder.is_absolute():
            folder = self.root / folder.relative_to("/")
        return folder / name

    def read_host(self, name: str) -> bytes:
        """A file named in a parameter value (a database client configuration)."""
        path = Path(name)
        if self.root is not None and path.is_absolute():
            path = self.root / path.relative_to("/")
        if path.is_dir():
            raise IsADirectoryError(name)
        return path.read_bytes()

    def check_options(self) -> None:
        if not self.mode & MAJOR:
            self.mode |= F["p"]
        if self.mode & (F["p"] | MASTER) and self.args and "=" in self.args[0]:
            self.mode |= F["e"]
        for group in INCOMPAT:
            chosen = group & self.mode
            if chosen & (chosen - 1):
                raise Fatal(f"specify one of {_mask_names(chosen)}")
        for major, allowed in COMPAT:
            excess = self.mode & ~(major | allowed)
            if self.mode & major and excess:
                raise Fatal(f"with option {_mask_names(major)}, do not specify "
                            f"{_mask_names(excess)}")
        if self.mode & F["e"] and not self.args:
            raise Fatal("-e requires name=value argument")

    def read_text(self, name: str, suffix: str = "") -> str:
        try:
            return self.path(name).read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            raise Fatal(f"open {self.shown}/{name}{suffix}: {exc.strerror}") from None

    def write_text(self, name: str, text: str) -> None:
        target = self.path(name)
        tmp = target.with_name(name + ".tmp")
        tmp.write_bytes(text.encode("utf-8", "surrogateescape"))
        os.replace(tmp, target)

    def read_main(self) -> dict[str, str]:
        entries: dict[str, Entry] = {}
        if self.config_dir is not None:
            entries["config_directory"] = Entry(self.config_dir, 0)
        parse_main_cf(self.read_text("main.cf"), f"{self.shown}/main.cf", _warn, into=entries)
        main = {name: entry.value for name, entry in entries.items()}
        for text in self.overrides:
            got = split_nameval(text)
            if isinstance(got, str):
                raise Fatal(f"invalid parameter override: {text}: {got}")
            main[got[0]] = got[1]
        return main

    def read_master(self, fail: bool) -> list[MasterEntry]:
        try:
            text = self.path("master.cf").read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            message = f"open {self.shown}/master.cf: {exc.strerror}"
            if fail:
                raise Fatal(message) from None
            _warn(message)
            return []
        return parse_master_cf(text, f"{self.shown}/master.cf", _warn)

    def namespace(self, defs: bool, fail_master: bool) -> Namespace:
        main = {} if defs else self.read_main()
        entries = self.read_master(fail_master)
        ns = Namespace(self.facts, main, entries, _warn, config_dir=self.shown, show_defs=defs,
                       read_file=self.read_host)
        ns.register_services()
        if not defs:
            ns.register_user()
        return ns

    def run(self) -> int:
        self.check_options()
        mode = self.mode
        if mode & (F["b"] | F["t"]):
            raise Fatal("bounce templates (-b, -t) are not supported by simlab")
        if mode & F["m"]:
            self.read_main()
            types = set(MAP_TYPES) | (dynamic_types(self.root) if self.root is not None else set())
            self.out.write("".join(t + "\n" for t in sorted(types)))
        elif mode & F["l"]:
            self.out.write("".join(t + "\n" for t in LOCK_TYPES))
        elif mode & MASTER and not mode & EDITS:
            self.show_master()
        elif mode & (F["a"] | F["A"]):
            self.out.write("".join(t + "\n" for t in (SASL_SERVER if mode & F["a"]
                                                     else SASL_CLIENT)))
        elif mode & EDITS:
            self.edit()
        else:
            self.show_main()
        return 0

    def edit(self) -> None:
        if not self.args:
            raise Fatal("missing service argument")
        op = "edit" if self.mode & F["e"] else "exclude" if self.mode & F["X"] else "comment"
        if self.mode & MASTER:
            kind = "entry" if self.mode & F["M"] else "field" if self.mode & F["F"] else "param"
            text = self.read_text("master.cf", " for reading")
            new = edit_master_cf(text, f"{self.shown}/master.cf", kind, op, self.args, _warn)
            self.write_text("master.cf", new)
        else:
            main_op = {"edit": EDIT_CONF, "exclude": EDIT_EXCL, "comment": COMMENT_OUT}[op]
            text = self.read_text("main.cf", " for reading")
            new = edit_main_cf(text, f"{self.shown}/main.cf", main_op, self.args, _warn)
            self.write_text("main.cf", new)

    def print_param(self, ns: Namespace, name: str) -> None:
        mode = self.mode
        value = ns.lookup(name, defs=bool(mode & F["d"]), nondef=bool(mode & F["n"]))
        if value is None:
            return
        fold = bool(mode & F["f"])
        if mode & F["H"]:
            self.out.write(fold_line(name, fold))
            return
        if mode & F["x"] and not ns.is_raw(name):
            value = ns.expand(value, defs=bool(mode & F["d"]))
        self.out.write(fold_line(value if mode & F["h"] else f"{name} = {value}", fold))

    def show_main(self) -> None:
        defs = bool(self.mode & F["d"])
        ns = self.namespace(defs, fail_master=False)
        if not self.args:
            for name in sorted(ns.table):
                if ns.table[name].cls in self.classes:
                    self.print_param(ns, name)
        for name in self.args:
            if name not in ns.table:
                _warn(f"{name}: unknown parameter")
            else:
                self.print_param(ns, name)
        if not defs:
            ns.flag_unused_main(self.out.flush)
            ns.flag_unused_master(self.out.flush)

    def show_master(self) -> None:
        entries = self.read_master(fail=True)
        main = self.read_main()
        ns = Namespace(self.facts, main, entries, _warn, config_dir=self.shown,
                       read_file=self.read_host)
        ns.register_services()
        ns.register_user()
        fold, hide = bool(self.mode & F["f"]), bool(self.mode & F["h"])

        def expand(value: str, entry: MasterEntry) -> str:
            return ns.expand(value, local=ns.scope_of(entry))

        exp = expand if self.mode & F["x"] else None
        if self.mode & F["M"]:
            kind, limits, usage = "M", (1, 2), "-M option requires service_name[/type]"
        elif self.mode & F["F"]:
            kind, limits, usage = "F", (1, 3), "-F option requires service_name[/type[/field]]"
        else:
            kind, limits = "P", (1, 3)
            usage = "-P option requires service_name[/type[/parameter]]"
        reqs = []
        for raw in self.args:
            pattern = parse_service_pattern(raw, *limits)
            if pattern is None:
                raise Fatal(usage)
            field = parse_field_pattern(pattern[2]) if kind == "F" else 0
            reqs.append([raw, pattern, field, 0])
        for entry in entries:
            scope = ns.scope_of(entry)
            if kind == "P" and scope is None:
                continue
            targets = [r for r in reqs if match_service(r[1], entry.argv[0], entry.argv[1])] \
                if reqs else [None]
            for req in targets:
                if kind == "M":
                    self.out.write(format_entry(entry, fold, exp))
                elif kind == "F":
                    field = req[2] if req is not None else WILDC
                    fields = range(FLD_CMD + 1) if field == WILDC else [field]
                    for f in fields:
                        self.out.write(format_field(entry, f, hide, fold, exp))
                else:
                    assert scope is not None
                    wanted = req[1][2] if req is not None else "*"
                    names = sorted(scope.params) if wanted == "*" else \
                        [wanted] if wanted in scope.params else []
                    if req is not None and not names:
                        continue
                    for name in names:
                        value = scope.params[name]
                        if exp is not None:
                            value = exp(value, entry)
                        text = value if hide else f"{entry.name_space}/{name} = {value}"
                        self.out.write(fold_line(text, fold))
                if req is not None:
                    req[3] += 1
        for req in reqs:
            if req[3] == 0:
                _warn(f'unmatched request: "{req[0]}"')
        ns.flag_unused_master(self.out.flush)


def main(argv: list[str], facts: HostFacts | None = None) -> int:
    """Run postconf with ``argv`` (without the program name); returns the exit status."""
    out = Output(sys.stdout)
    try:
        try:
            status = Postconf(list(argv), out, facts).run()
        except (Fatal, ConfigError, mx.MacroFatal) as exc:
            message = exc.message if isinstance(exc, ConfigError) else str(exc)
            sys.stdout.flush()
            _emit(sys.stderr, f"{PROG}: fatal: {printable(message)}\n")
            return 1
        out.flush()
    except BrokenPipeError:
        # Like a C program killed by SIGPIPE: stop quietly, and keep the
        # interpreter from failing again on its own final flush.
        sys.stdout = open(os.devnull, "w")
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
