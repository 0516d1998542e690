"""NAME
    namespace - parameter name spaces, defaults and lookups as postconf sees them

SUMMARY
    ns = Namespace(facts, main_dict, entries, warn, config_dir=".")
    ns.register_services(); ns.register_user()
    ns.lookup(name); ns.expand(value); ns.flag_unused_main()

DESCRIPTION
    Postfix has a global name space (main.cf, then built-in defaults) and one
    local name space per master.cf entry (its "-o name=value" settings),
    which takes precedence. Names are built-in (the parameter table),
    service-defined (a master.cf delivery service name plus a suffix, such
    as relay_destination_concurrency_limit, default "$default_..."), or
    user-defined: a main.cf or master.cf name=value whose $name some other
    value mentions. Anything else set in main.cf is "unused".

    register_user() follows postconf's scan: every -o value and every
    main.cf value is scanned for $name (both arms of conditionals), which
    validates user-defined names and warns "undefined parameter" for names
    that nothing defines; the value of every built-in or service parameter
    is then fully expanded, which stops with "macro processing error" on
    loops and syntax errors (measured on 3.7.11: a user-defined value is
    only scanned, so its syntax error is a warning, not fatal). Default
    values are scanned too. main.cf settings of read-only parameters are
    dropped with a warning.

    Host-derived defaults (myhostname, mydomain, mynetworks, process_id,
    process_name) are computed once from HostFacts, reading main.cf's
    mydomain, myhostname, inet_interfaces, inet_protocols and
    mynetworks_style as Postfix does.

    See postconf(1), postconf(5).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from . import expand as mx
from .dbms import register_dbms
from .errors import ConfigError
from .hostfacts import HostFacts, default_mydomain, default_myhostname, default_mynetworks
from .mastercf import MasterEntry
from .params import LEGACY_PARAMS, PARAMS, SERVICE_SUFFIXES, ParamDef, service_params

BUILTIN, SERVICE, USER, LEGACY = "builtin", "service", "user", "legacy"
Warn = Callable[[str], None]


@dataclass
class Node:
    """One known parameter name: its class and, when it has one, its definition."""

    cls: str
    param: ParamDef | None = None


@dataclass
class LocalScope:
    """The -o name space of one master.cf entry."""

    entry: MasterEntry | None
    params: dict[str, str]
    valid: set[str] = field(default_factory=set)


class Namespace:
    """Global and per-service parameter name spaces of one postconf run."""

    def __init__(self, facts: HostFacts, main: dict[str, str], entries: list[MasterEntry],
                 warn: Warn, config_dir: str = "/etc/postfix", show_defs: bool = False,
                 dynamic_services: bool = False,
                 read_file: Callable[[str], bytes] | None = None) -> None:
        self.facts = facts
        self.read_file = read_file or _read_host_file
        self._dbms_visited: set[str] = set()
        self.dynamic_services = dynamic_services
        self.main = main
        self.entries = entries
        self.warn = warn
        self.config_dir = config_dir
        self.show_defs = show_defs
        self.table: dict[str, Node] = {name: Node(BUILTIN, p) for name, p in PARAMS.items()}
        for name in LEGACY_PARAMS:
            self.table.setdefault(name, Node(LEGACY))
        self.scopes: list[LocalScope] = []
        self.rest_classes: set[str] = set()
        self._computed: dict[str, str] = {}

    def register_services(self) -> None:
        for entry in self.entries:
            for param in service_params(entry.argv[0], entry.argv[7]):
                node = self.table.get(param.name)
                if node is not None:
                    node.cls = SERVICE
                else:
                    self.table[param.name] = Node(SERVICE, param)

    def is_raw(self, name: str) -> bool:
        node = self.table.get(name)
        return bool(node and node.param and node.param.raw)

    # -- defaults and lookups ------------------------------------------

    def dict_eval(self, value: str) -> str:
        """mail_conf_lookup_eval(): expand with main.cf settings only."""
        text, status = mx.mac_expand(value, mx.FLAG_RECURSE,
                                     lambda n, _m: self.main.get(n), self.warn)
        if status & mx.MAC_PARSE_ERROR:
            raise ConfigError("dictionary mail_dict: macro processing error")
        return text

    def _setting(self, name: str) -> str | None:
        if self.show_defs or name not in self.main:
            return None
        return self.dict_eval(self.main[name])

    def _host_default(self, name: str) -> str | None:
        if name in self._computed:
            return self._computed[name]
        if name == "myhostname":
            value = default_myhostname(self.facts, self._setting("mydomain"))
        elif name == "mydomain":
            host = self._setting("myhostname")
            value = default_mydomain(host if host is not None else self._host_default("myhostname"))
        elif name == "mynetworks":
            style = self._setting("mynetworks_style")
            if style is None:
                style = self.expand(PARAMS["mynetworks_style"].default, defs=self.show_defs)
            interfaces = self._setting("inet_interfaces")
            protocols = self._setting("inet_protocols")
            value = default_mynetworks(
                self.facts, style,
                PARAMS["inet_interfaces"].default if interfaces is None else interfaces,
                PARAMS["inet_protocols"].default if protocols is None else protocols)
        elif name == "process_id":
            value = str(self.facts.pid)
        elif name == "process_name":
            value = self.facts.process_name
        else:
            return None
        self._computed[name] = value
        return value

    def default(self, name: str) -> str | None:
        """The built-in or service default text of ``name`` (None: not a parameter)."""
        node = self.table.get(name)
        if node is None:
            return service_default(name) if self.dynamic_services else None
        if node.cls in (USER, LEGACY) or node.param is None:
            return ""
        computed = self._host_default(name)
        return node.param.default if computed is None else computed

    def lookup(self, name: str, *, defs: bool = False, nondef: bool = False,
               local: LocalScope | None = None) -> str | None:
        """pcf_lookup_parameter_value(): local -o, then main.cf, then default."""
        if not defs:
            if local is not None and name in local.params:
                return local.params[name]
            if name in self.main:
                return self.main[name]
            if nondef:
                return None
        return self.default(name)

    def expand(self, value: str, *, defs: bool = False, local: LocalScope | None = None) -> str:
        """pcf_expand_parameter_value(): recursive $name expansion or fatal error."""
        text, status = mx.mac_expand(
            value, mx.FLAG_RECURSE,
            lambda n, _m: self.lookup(n, defs=defs, local=local), self.warn)
        if status & mx.MAC_PARSE_ERROR:
            raise ConfigError("macro processing error")
        return text

    def scope_of(self, entry: MasterEntry) -> LocalScope | None:
        for scope in self.scopes:
            if scope.entry is entry:
                return scope
        return None

    # -- user-defined parameters ---------------------------------------

    def _flag_user(self, name: str, local: LocalScope | None, dbms: bool = False) -> None:
        source = "master.cf" if local is not None else "main.cf"
        supplied = False
        if local is not None and name in local.params:
            supplied = True
            local.valid.add(name)
        elif name in self.main:
            supplied = True
            self.table.setdefault(name, Node(USER))
        if local is None:
            for scope in self.scopes:
                if name in scope.params:
                    supplied = True
                    scope.valid.add(name)
        if not supplied and not dbms and name not in self.table:
            self.warn(f"{self.config_dir}/{source}: undefined parameter: {name}")

    def _scan(self, value: str, local: LocalScope | None) -> None:
        mx.scan_names(value, lambda n: self._flag_user(n, local), self.warn)

    def _dbms(self, value: str, local: LocalScope | None) -> None:
        expanded = self.expand(value, local=local)
        if local is not None and local.entry is not None:
            blame = f"master.cf:{local.entry.name_space}"
        else:
            blame = "main.cf"
        register_dbms(expanded, blame, lambda name: self._flag_user(name, local, dbms=True),
                      self.read_file, self.warn, self._dbms_visited)

    def _scan_namespace(self, values: dict[str, str], local: LocalScope | None) -> None:
        if "smtpd_restriction_classes" in values:
            classes = values["smtpd_restriction_classes"]
            if local is None:
                classes = self.dict_eval(classes)
            else:
                classes = self._local_eval(classes, local)
            for word in classes.replace(",", " ").split():
                if local is None:
                    self.rest_classes.add(word)
                self._flag_user(word, local)
        for name in reversed(list(values)):
            if name not in values:
                continue
            value = values[name]
            if local is not None and name in self.rest_classes:
                local.valid.add(name)
            node = self.table.get(name)
            if node is not None:
                if node.param is not None and node.param.readonly:
                    source = "master.cf" if local is not None else "main.cf"
                    self.warn(f"{self.config_dir}/{source}: read-only parameter assignment: "
                              f"{name}={value}")
                    del values[name]
                    continue
                if node.cls == LEGACY:
                    node.cls = USER
                if node.param is not None and node.param.raw:
                    continue
            self._scan(value, local)
            if node is not None and node.param is not None:
                self._dbms(value, local)

    def _local_eval(self, value: str, local: LocalScope) -> str:
        text, status = mx.mac_expand(value, mx.FLAG_RECURSE,
                                     lambda n, _m: local.params.get(n), self.warn)
        if status & mx.MAC_PARSE_ERROR:
            space = local.entry.name_space if local.entry is not None else "local"
            raise ConfigError(f"dictionary {space}: macro processing error")
        return text

    def register_user(self) -> None:
        """pcf_register_user_parameters()."""
        self.scopes = [LocalScope(e, e.params) for e in self.entries if e.params]
        for scope in self.scopes:
            self._scan_namespace(scope.params, scope)
        for name, node in list(self.table.items()):
            if node.param is None or node.param.raw or name in self.main:
                continue
            default = self.default(name)
            if default:
                self._scan(default, None)
        self._scan_namespace(self.main, None)

    # -- unused parameters ---------------------------------------------

    def flag_unused_main(self, before: Callable[[], None] = lambda: None) -> None:
        for name in reversed(list(self.main)):
            if name not in self.table:
                before()
                self.warn(f"{self.config_dir}/main.cf: unused parameter: {name}={self.main[name]}")

    def flag_unused_master(self, before: Callable[[], None] = lambda: None) -> None:
        for scope in self.scopes:
            for name in reversed(list(scope.params)):
                if name not in self.table and name not in scope.valid:
                    before()
                    self.warn(f"{self.config_dir}/master.cf: unused parameter: "
                              f"{name}={scope.params[name]}")


def service_default(name: str) -> str | None:
    """"$default_x" for <transport>_<suffix> names, as qmgr(8) resolves them at run time."""
    for suffix in sorted(SERVICE_SUFFIXES, key=len, reverse=True):
        source = SERVICE_SUFFIXES[suffix]
        if name.endswith(suffix) and len(name) > len(suffix) and name != source:
            return "$" + source
    return None


def _read_host_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        if not os.path.isfile(path):
            raise IsADirectoryError(path)
        return fh.read()
