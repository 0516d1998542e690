"""NAME
    config - the main.cf configuration as Postfix programs read it

SUMMARY
    cfg = load_config("/srv/host/etc/postfix", facts=HostFacts(hostname="mail.example.com"))
    cfg["myorigin"]                  # "mail.example.com" (expanded)
    cfg.raw("myorigin")              # "$myhostname"
    cfg.get_time("minimal_backoff_time")   # 300.0
    smtpd_cfg = cfg.for_service(service)   # main.cf + that service's -o settings

DESCRIPTION
    load_config() reads CONFIG_DIR/main.cf with Postfix's syntax rules
    (see maincf) and returns an immutable Config. A value is looked up in
    the service's -o settings (for_service()), then in main.cf, then in
    the built-in defaults (computed from HostFacts where Postfix asks the
    machine), and $name references are expanded recursively; undefined
    names expand to nothing. Raw parameters (forward_path, mailbox_command,
    luser_relay, smtpd_expansion_filter ...) are returned unexpanded
    because their programs expand them later with their own attributes.
    Per-transport names such as relay_destination_concurrency_limit are
    known for every transport, defaulting to the matching default_...
    parameter, as qmgr(8) resolves them.

    Typed readers follow Postfix's conversions and messages: get_bool()
    accepts yes/no, get_int() and get_size() a decimal number, get_time()
    a number with an optional unit s, m, h, d or w (the parameter's own
    default unit otherwise, e.g. h for delay_warning_time), get_list()
    splits on comma and whitespace outside {}.

    Warnings (overriding entries, continuation lines without a start, macro
    nesting) go to the ``warn`` callable in postconf's words, without the
    "postconf: warning: " prefix; fatal problems raise ConfigError.

    Parameters read: all of main.cf. See postconf(5).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Callable

from .errors import ConfigError
from .expand import _strtol
from .hostfacts import HostFacts
from .maincf import parse_main_cf
from .mastercf import MasterService, read_master_cf
from .namespace import LocalScope, Namespace
from .params import PARAMS

Warn = Callable[[str], None]
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LIST_SEPS = ", \t\r\n"


def _ignore(_message: str) -> None:
    return None


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def split_list(text: str) -> list[str]:
    """Split a list value on comma/whitespace, keeping {...} groups whole."""
    result: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in _LIST_SEPS:
            i += 1
        if i >= n:
            break
        start, level = i, 0
        while i < n:
            ch = text[i]
            if ch == "{":
                level += 1
            elif ch == "}" and level > 0:
                level -= 1
            elif level == 0 and ch in _LIST_SEPS:
                break
            i += 1
        result.append(text[start:i])
    return result


class Config(Mapping[str, str]):
    """An immutable, fully resolvable view of main.cf (plus -o overrides)."""

    def __init__(self, main: dict[str, str], *, facts: HostFacts | None = None,
                 warn: Warn | None = None, config_dir: str | Path = "/etc/postfix",
                 display_dir: str | None = None, overrides: dict[str, str] | None = None,
                 service: MasterService | None = None,
                 lines: dict[str, int] | None = None, _ns: Namespace | None = None) -> None:
        self._main = dict(main)
        self._facts = facts or HostFacts()
        self._warn = warn or _ignore
        self._dir = Path(config_dir)
        self._display = display_dir if display_dir is not None else str(config_dir)
        self._overrides = dict(overrides or {})
        self._service = service
        self._lines = dict(lines or {})
        # Configurations derived by for_service() share the parent's name space
        # (same main.cf, facts and messages); only the -o scope differs.
        self._ns = _ns if _ns is not None else Namespace(self._facts, self._main, [], self._warn,
                                                         config_dir=self._display, dynamic_services=True)
        local = dict(self._overrides)
        if service is not None:
            # What master(8) tells the daemon it starts: its service and program name.
            local.setdefault("service_name", service.name)
            local.setdefault("process_name", service.command.rsplit("/", 1)[-1])
        self._scope = LocalScope(None, local) if local else None
        self._cache: dict[str, str] = {}
        # Config is immutable, so typed values and derived configurations are
        # computed once (a reload builds a new Config).
        self._typed: dict[tuple[str, str], Any] = {}
        self._services: dict[tuple[Any, ...], Config] = {}

    # -- Mapping -------------------------------------------------------

    def _known(self, name: str) -> bool:
        return (name in self._main or (self._scope is not None and name in self._scope.params)
                or self._ns.default(name) is not None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._known(name)

    def __iter__(self) -> Iterator[str]:
        names = dict.fromkeys(PARAMS)
        names.update(dict.fromkeys(self._main))
        if self._scope is not None:
            names.update(dict.fromkeys(self._scope.params))
        return iter(names)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __getitem__(self, name: str) -> str:
        if name in self._cache:
            return self._cache[name]
        value = self.raw(name)
        if not self._ns.is_raw(name):
            value = self._ns.expand(value, local=self._scope)
        self._cache[name] = value
        return value

    # -- values --------------------------------------------------------

    def raw(self, name: str) -> str:
        """The unexpanded value: -o override, main.cf setting or default."""
        value = self._ns.lookup(name, local=self._scope)
        if value is None:
            raise KeyError(name)
        return value

    def default(self, name: str) -> str:
        """The built-in default text (computed ones for this host)."""
        value = self._ns.default(name)
        if value is None:
            raise KeyError(name)
        return value

    def is_set(self, name: str) -> bool:
        """True when main.cf (or the service's -o) sets ``name`` explicitly."""
        return name in self._main or name in self._overrides

    def line_of(self, name: str) -> int | None:
        """The main.cf line where ``name`` is set, if it is."""
        return self._lines.get(name)

    def get_bool(self, name: str) -> bool:
        hit = self._typed.get(("b", name))
        if hit is not None:
            return hit
        value = self[name]
        if value.lower() == "yes":
            result = True
        elif value.lower() == "no":
            result = False
        else:
            raise ConfigError(f"bad boolean configuration: {name} = {value}")
        self._typed[("b", name)] = result
        return result

    def get_int(self, name: str) -> int:
        hit = self._typed.get(("i", name))
        if hit is not None:
            return hit
        value = self[name]
        number, end, erange = _strtol(value, 0)
        if not value or end != len(value) or erange or not -2**31 <= number < 2**31:
            raise ConfigError(f"bad numerical configuration: {name} = {value}")
        self._typed[("i", name)] = number
        return number

    def get_size(self, name: str) -> int:
        hit = self._typed.get(("z", name))
        if hit is not None:
            return hit
        value = self[name]
        number, end, erange = _strtol(value, 0)
        if not value or end != len(value) or erange:
            raise ConfigError(f"bad numerical configuration: {name} = {value}")
        self._typed[("z", name)] = number
        return number

    def time_unit(self, name: str) -> str:
        """The default unit of a time parameter ("s" when it has none)."""
        seen = set()
        while name not in seen:
            seen.add(name)
            param = PARAMS.get(name)
            if param is not None and param.unit:
                return param.unit
            default = self._ns.default(name) or ""
            if not default.startswith("$"):
                break
            name = default[1:]
        return "s"

    def get_time(self, name: str) -> float:
        hit = self._typed.get(("t", name))
        if hit is not None:
            return hit
        value = self[name]
        number, end, erange = _strtol(value, 0)
        unit = value[end:]
        if not value or end == 0 or erange or number < 0 or len(unit) > 1 \
                or (unit and unit not in _TIME_UNITS):
            raise ConfigError(f"parameter {name}: bad time value or unit: {value}")
        result = float(number * _TIME_UNITS[unit or self.time_unit(name)])
        self._typed[("t", name)] = result
        return result

    def get_list(self, name: str) -> list[str]:
        hit = self._typed.get(("l", name))
        if hit is None:
            hit = self._typed[("l", name)] = tuple(split_list(self[name]))
        return list(hit)

    # -- derived configurations ----------------------------------------

    def clone(self, **overrides: Any) -> Config:
        """A copy with main.cf settings replaced; unknown names raise KeyError."""
        for name in overrides:
            if not self._known(name):
                raise KeyError(name)
        main = dict(self._main)
        main.update({k: _to_text(v) for k, v in overrides.items()})
        return Config(main, facts=self._facts, warn=self._warn, config_dir=self._dir,
                      display_dir=self._display, overrides=self._overrides,
                      service=self._service, lines=self._lines)

    def for_service(self, service: MasterService) -> Config:
        """main.cf plus the service's -o settings, $service_name and $process_name."""
        key = (service.name, service.type, service.command, tuple(service.overrides.items()))
        hit = self._services.get(key)
        if hit is None or hit._service != service:
            hit = Config(self._main, facts=self._facts, warn=self._warn, config_dir=self._dir,
                         display_dir=self._display, overrides=service.overrides,
                         service=service, lines=self._lines, _ns=self._ns)
            self._services[key] = hit
        return hit

    @property
    def config_dir(self) -> Path:
        return self._dir

    @property
    def facts(self) -> HostFacts:
        return self._facts

    @property
    def service(self) -> MasterService | None:
        return self._service

    @property
    def services(self) -> list[MasterService]:
        """The services of master.cf next to main.cf (read on each access)."""
        return read_master_cf(self._dir, warn=self._warn, display_dir=self._display)

    def settings(self) -> dict[str, str]:
        """The explicit main.cf settings, unexpanded, in file order."""
        return dict(self._main)


def load_config(config_dir: str | Path, facts: HostFacts | None = None,
                warn: Warn | None = None, display_dir: str | None = None) -> Config:
    """Read CONFIG_DIR/main.cf; ``display_dir`` is how messages name the folder."""
    shown = display_dir if display_dir is not None else str(config_dir)
    path = Path(config_dir) / "main.cf"
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise ConfigError(f"open {shown}/main.cf: {exc.strerror}") from None
    entries = parse_main_cf(text, f"{shown}/main.cf", warn or _ignore)
    return Config({k: e.value for k, e in entries.items()}, facts=facts, warn=warn,
                  config_dir=config_dir, display_dir=shown,
                  lines={k: e.line for k, e in entries.items()})
