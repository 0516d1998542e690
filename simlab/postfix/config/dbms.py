"""NAME
    dbms - postconf's legacy support for database-defined parameter names

SUMMARY
    register_dbms(expanded_value, blame, flag, read_file, warn, visited)

DESCRIPTION
    Postfix 3.7's postconf_dbms.c, as measured on 3.7.11: after a known
    parameter's value is expanded, it is split into words (commas and
    whitespace separate them, {...} groups them). For each word:

    {text}              text is examined the same way (also for
                        type:{text}, except inside regexp:/pcre:)
    type:/file          for ldap, mysql, pgsql, sqlite and memcache, the
                        client configuration file is read (once per
                        type:file) and every name that the table type does
                        not know is reported: 'mysql:/file: unused
                        parameter: name=value'
    type:prefix         for the same types, prefix_suffix names in main.cf
                        (or the service's -o settings) become valid

    An unbalanced brace gives 'main.cf: missing '}' in "{..."' (or
    'master.cf:service/type: ...'), text after the closing brace 'syntax
    error after '}' in "..."'. A file that cannot be read gives 'open
    "mysql" configuration "/file": REASON' (permission problems are
    silent). mongodb is not in 3.7's table.

    The suffix lists are the ones real postconf 3.7.11 accepted in client
    files (everything else it reported as unused).

    See postconf(1), ldap_table(5), mysql_table(5), pgsql_table(5),
    sqlite_table(5), memcache_table(5).
"""

from __future__ import annotations

import errno
import os
from typing import Callable

from .maincf import parse_main_cf

_SQL = ("additional_conditions", "domain", "expansion_limit", "query", "result_format",
        "select_field", "table", "where_field")
SUFFIXES: dict[str, tuple[str, ...]] = {
    "ldap": ("bind", "bind_dn", "bind_pw", "cache", "cache_expiry", "cache_size",
             "chase_referrals", "debuglevel", "dereference", "domain", "expansion_limit",
             "leaf_result_attribute", "query_filter", "recursion_limit", "result_attribute",
             "result_filter", "result_format", "sasl_authz_id", "sasl_mechs", "sasl_minssf",
             "sasl_realm", "scope", "search_base", "server_host", "server_port", "size_limit",
             "special_result_attribute", "start_tls", "terminal_result_attribute", "timeout",
             "tls_ca_cert_dir", "tls_ca_cert_file", "tls_cert", "tls_cipher_suite", "tls_key",
             "tls_random_file", "tls_require_cert", "version"),
    "mysql": _SQL + ("dbname", "hosts", "option_file", "option_group", "password",
                     "require_result_set", "tls_CAfile", "tls_CApath", "tls_cert_file",
                     "tls_ciphers", "tls_key_file", "tls_verify_cert", "user"),
    "pgsql": _SQL + ("dbname", "hosts", "password", "select_function", "user"),
    "sqlite": _SQL + ("dbpath",),
    "memcache": ("backup", "data_size_limit", "domain", "flags", "key_format",
                 "line_size_limit", "max_try", "memcache", "retry_pause", "timeout", "ttl"),
}
REGEX_TYPES = ("regexp", "pcre")
SEPARATORS = ", \t\r\n"

Warn = Callable[[str], None]
Flag = Callable[[str], None]
ReadFile = Callable[[str], bytes]


def _strtokq(text: str, pos: int) -> tuple[str | None, int]:
    """mystrtokq(3) with separators ", \\t\\r\\n" and {} grouping."""
    n = len(text)
    while pos < n and text[pos] in SEPARATORS:
        pos += 1
    if pos >= n:
        return None, n
    start, level = pos, 0
    while pos < n:
        ch = text[pos]
        if ch == "{":
            level += 1
        elif level > 0 and ch == "}":
            level -= 1
        elif level == 0 and ch in SEPARATORS:
            return text[start:pos], pos + 1
        pos += 1
    return text[start:], n


def extpar(text: str) -> tuple[str, str | None]:
    """extpar(3) for "{...}": (inner text, error text or None)."""
    level = 0
    for i, ch in enumerate(text):
        if ch == "}":
            level -= 1
            if level == 0:
                if i + 1 < len(text):
                    return text[1:i], f"syntax error after '}}' in \"{text}\""
                return text[1:i], None
        elif ch == "{":
            level += 1
    return text[1:], f"missing '}}' in \"{text}\""


def register_dbms(value: str, blame: str, flag: Flag, read_file: ReadFile, warn: Warn,
                  visited: set[str], recurse: bool = True) -> None:
    """pcf_register_dbms_helper() on an expanded parameter value."""
    pos = 0
    while True:
        word, pos = _strtokq(value, pos)
        if word is None:
            return
        if word.startswith("{"):
            inner, err = extpar(word)
            if err:
                warn(f"{blame}: {err}")
            if recurse:
                register_dbms(inner, blame, flag, read_file, warn, visited, recurse)
            continue
        db_type, sep, prefix = word.partition(":")
        while sep and db_type == "proxy":
            db_type, sep, prefix = prefix.partition(":")
        if not sep:
            continue
        if prefix.startswith("/"):
            if db_type in SUFFIXES:
                _check_client(db_type, prefix, read_file, warn, visited)
            continue
        if prefix.startswith("."):
            continue
        if prefix.startswith("{"):
            inner, err = extpar(prefix)
            if err:
                warn(f"{blame}: {err}")
            register_dbms(inner, blame, flag, read_file, warn, visited,
                          recurse and db_type not in REGEX_TYPES)
        elif db_type in SUFFIXES:
            for suffix in SUFFIXES[db_type]:
                flag(f"{prefix}_{suffix}")


def _check_client(db_type: str, path: str, read_file: ReadFile, warn: Warn,
                  visited: set[str]) -> None:
    spec = f"{db_type}:{path}"
    if spec in visited:
        return
    visited.add(spec)
    try:
        data = read_file(path)
    except IsADirectoryError:
        warn(f'open "{db_type}" configuration "{path}": not a regular file')
        return
    except OSError as exc:
        if exc.errno != errno.EACCES:
            warn(f'open "{db_type}" configuration "{path}": {os.strerror(exc.errno or 0)}')
        return
    entries = parse_main_cf(data.decode("utf-8", "surrogateescape"), path, warn)
    for name, entry in entries.items():
        if name not in SUFFIXES[db_type]:
            warn(f"{spec}: unused parameter: {name}={entry.value}")
