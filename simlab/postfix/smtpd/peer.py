"""NAME
    peer - who is the SMTP client: its verified name, and DNS questions about names

SUMMARY
    name = await client_name(session, "127.0.0.1")   # "localhost"
    session.host_lookup("example.com")              # records, or None

DESCRIPTION
    smtpd logs its client as ``name[address]``. The name comes from the
    host's /etc/hosts (127.0.0.1 and ::1 are "localhost" when the root has
    none), else from a reverse DNS lookup that is accepted only when the
    forward lookup of that name gives the address back; otherwise the
    client is "unknown", with the warning "hostname X does not resolve to
    address Y".

SEE ALSO
    smtpd(8), hosts(5)
"""

from __future__ import annotations

from typing import Any


async def client_name(session: Any, addr: str) -> str:
    """The verified client name: hosts file, else DNS reverse + forward lookup."""
    hosts = hosts_file(session.ctx)
    if addr in hosts:
        return hosts[addr]
    net = getattr(session.ctx, "net", None)
    resolver = getattr(net, "resolver", None)
    if resolver is None:
        return "unknown"
    try:
        name = resolver.reverse(addr)
    except Exception:
        name = None
    if not name:
        return "unknown"
    name = name.rstrip(".")
    try:
        forward = await resolver.addresses(name)
    except Exception:
        forward = []
    if addr not in forward:
        session.log_warning(f"hostname {name} does not resolve to address {addr}")
        return "unknown"
    return name


class PeerMixin:
    """DNS questions of the restrictions (reject_unknown_*)."""

    ctx: Any

    def host_lookup(self, name: str) -> list[str] | None:
        """Does name have an address or MX record? (reject_unknown_*); None when not."""
        net = getattr(self.ctx, "net", None)
        resolver = getattr(net, "resolver", None)
        lookup = getattr(resolver, "lookup", None)
        if lookup is None:
            return []
        for rtype in ("A", "AAAA", "MX"):
            try:
                recs = lookup(name, rtype)
            except Exception:
                continue
            if recs:
                return [str(r) for r in recs]
        return None


# file -> (its bytes, the table they give): read on every connection, parsed when changed
_HOSTS: dict[str, tuple[bytes, dict[str, str]]] = {}


def hosts_file(ctx: Any) -> dict[str, str]:
    """/etc/hosts of the host root: address -> first name (localhost when absent)."""
    path = str(ctx.path("/etc/hosts"))
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return {"127.0.0.1": "localhost", "::1": "localhost"}
    hit = _HOSTS.get(path)
    if hit is None or hit[0] != data:
        out: dict[str, str] = {}
        for line in data.decode("utf-8", "replace").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2:
                out.setdefault(words[0], words[1])
        if len(_HOSTS) > 256:
            _HOSTS.clear()
        hit = _HOSTS[path] = (data, out)
    return dict(hit[1])
