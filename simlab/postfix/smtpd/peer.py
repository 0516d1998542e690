"""NAME
    peer - who is the SMTP client: its verified name

SUMMARY
    name = await client_name(session, "127.0.0.1")   # "localhost"; also session.reverse_name,
                                                    # session.name_status, session.reverse_name_status

DESCRIPTION
    smtpd logs its client as ``name[address]``. The name comes from the
    host's /etc/hosts (127.0.0.1 and ::1 are "localhost" when the root has
    none), else from a reverse DNS lookup that is accepted only when the
    forward lookup of that name gives the address back; otherwise the
    client is "unknown", with the warning "hostname X does not resolve to
    address Y" (": Name or service not known" when the name has no
    address at all). The PTR name is kept as the reverse client name
    (check_reverse_client_hostname_access, reject_unknown_reverse_client_hostname).

SEE ALSO
    smtpd(8), hosts(5)
"""

from __future__ import annotations

import os
import time
from typing import Any

from ...dns.zone import DNSError, reverse_name
from .tokens import valid_hostname


async def client_name(session: Any, addr: str) -> str:
    """The verified client name: hosts file, else DNS reverse + forward lookup.

    Also sets session.reverse_name (the PTR name, unverified) and
    session.name_status / session.reverse_name_status: "ok", "temp" (the
    lookup failed for now), "perm" (no name) or "forged" (the name does not
    give the address back), for reject_unknown_*client_hostname.
    """
    session.reverse_name, session.name_status, session.reverse_name_status = "unknown", "perm", "perm"
    hosts = _hosts_table(session.ctx)
    if addr in hosts:
        session.reverse_name, session.name_status, session.reverse_name_status = hosts[addr], "ok", "ok"
        return hosts[addr]
    net = getattr(session.ctx, "net", None)
    resolver = getattr(net, "resolver", None)
    if resolver is None:
        return "unknown"
    name, status = _ptr(resolver, addr)
    if name is None or not valid_hostname(name):
        session.name_status = session.reverse_name_status = status if name is None else "perm"
        return "unknown"
    session.reverse_name, session.reverse_name_status = name, "ok"
    try:
        forward = await resolver.addresses(name)
    except Exception as exc:
        temp = getattr(exc, "transient", False)
        why = "Temporary failure in name resolution" if temp else "Name or service not known"
        session.log_warning(f"hostname {name} does not resolve to address {addr}: {why}")
        session.name_status = "temp" if temp else "forged"
        return "unknown"
    if addr not in forward:
        session.log_warning(f"hostname {name} does not resolve to address {addr}")
        session.name_status = "forged"
        return "unknown"
    session.name_status = "ok"
    return name


def _ptr(resolver: Any, addr: str) -> tuple[str | None, str]:
    """(PTR name or None, "ok" / "perm" / "temp")."""
    lookup = getattr(resolver, "lookup", None)
    if lookup is None:
        try:
            name = resolver.reverse(addr)
        except Exception:
            name = None
        return (name.rstrip(".") if name else None), ("ok" if name else "perm")
    try:
        recs = [r for r in lookup(reverse_name(addr), "PTR") if r.rtype == "PTR"]
    except DNSError as exc:
        return None, "temp" if getattr(exc, "transient", False) else "perm"
    except ValueError:
        return None, "perm"
    return (recs[0].data.rstrip(".") if recs else None), ("ok" if recs else "perm")


# file -> (its stat key, whether that key can be trusted, its bytes, the table they give)
_HOSTS: dict[str, tuple[tuple[int, ...], bool, bytes, dict[str, str]]] = {}

# A file whose timestamps are this much older than the moment it was read gets new
# ones on any later change (file times come from the kernel's coarse clock, which
# lags by at most a tick): its stat() key then stands for its contents.
_SETTLED_NS = 100_000_000

_NO_HOSTS = {"127.0.0.1": "localhost", "::1": "localhost"}
_ABSENT: set[str] = set()      # hosts files that were not there at the last look


def hosts_file(ctx: Any) -> dict[str, str]:
    """/etc/hosts of the host root: address -> first name (localhost when absent)."""
    return dict(_hosts_table(ctx))


def _hosts_table(ctx: Any) -> dict[str, str]:
    """hosts_file() without the copy (callers only read it).

    Checked with one stat() per connection; read again when it changed, or
    while it is too recent for its timestamps to tell a change.
    """
    path = str(ctx.path("/etc/hosts"))
    if path in _ABSENT:
        # Most roots have no /etc/hosts: access() says so without an exception made per connection.
        if not os.access(path, os.F_OK):
            return _NO_HOSTS
        _ABSENT.discard(path)
    now = time.time_ns()
    try:
        st = os.stat(path)
    except OSError:
        if len(_ABSENT) > 256:
            _ABSENT.clear()
        _ABSENT.add(path)
        return _NO_HOSTS
    key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)
    hit = _HOSTS.get(path)
    if hit is not None and hit[1] and hit[0] == key:
        return hit[3]
    try:
        data = _read_file(path)
    except OSError:
        return _NO_HOSTS
    settled = max(st.st_mtime_ns, st.st_ctime_ns) < now - _SETTLED_NS
    if hit is None or hit[2] != data:
        out: dict[str, str] = {}
        for line in data.decode("utf-8", "replace").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2:
                out.setdefault(words[0], words[1])
        if len(_HOSTS) > 256:
            _HOSTS.clear()
        table = out
    else:
        table = hit[3]
    _HOSTS[path] = (key, settled, data, table)
    return table


def _read_file(path: str) -> bytes:
    """The whole file (os-level calls)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        part = os.read(fd, 1 << 16)
        if len(part) < 1 << 16:
            return part  # a short read of a regular file is its end: no second read for the EOF
        parts = [part]
        while True:
            part = os.read(fd, 1 << 16)
            if not part:
                return b"".join(parts)
            parts.append(part)
    finally:
        os.close(fd)
