"""NAME
    services - which Python code runs a master.cf command

SUMMARY
    kind = service_kind(svc)                 # "listener", "daemon" or "on-demand"
    factory = listener_factory(ctx, svc)     # smtpd: a protocol factory
    daemon = make_daemon(ctx, svc)           # qmgr, pickup: an object with run()

DESCRIPTION
    A master.cf entry names a command (``smtpd``, ``qmgr``, ``pickup``,
    ``cleanup``, ``local``, ``smtp``, ...). Three kinds exist here:

    listener   an inet service whose command serves network clients
               (smtpd): master accepts connections and hands each to a
               process of the service.
    daemon     a long-running program with its own work loop (qmgr,
               pickup): master starts it at once and sends it wake-ups
               every ``wakeup`` seconds.
    on-demand  everything else (cleanup, trivial-rewrite, local, virtual,
               smtp, lmtp, pipe, bounce, error, discard, showq, ...): other
               programs call into them and master only keeps the process
               table (see master.use_service).

    Implementations are imported when first needed, so a missing program
    only disables its own services.

SEE ALSO
    master(5), master(8)
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

# command -> (module, attribute), or the object itself (tests register stand-ins here).
LISTENERS: dict[str, Any] = {
    "smtpd": ("simlab.postfix.smtpd", "make_smtpd_protocol"),
}
DAEMONS: dict[str, Any] = {
    "qmgr": ("simlab.postfix.qmgr", "QueueManager"),
    "pickup": ("simlab.postfix.pickup", "Pickup"),
}

# Well-known inet service names (/etc/services).
PORTS = {"smtp": 25, "submission": 587, "smtps": 465, "submissions": 465, "lmtp": 24,
         "qmqp": 628, "pop3": 110, "imap": 143}


def service_kind(svc: Any) -> str:
    if svc.type == "inet" and svc.command in LISTENERS:
        return "listener"
    if svc.command in DAEMONS and svc.type != "inet":
        return "daemon"
    return "on-demand"


def _load(spec: Any) -> Any:
    if not isinstance(spec, tuple):
        return spec
    module = importlib.import_module(spec[0])
    try:
        return getattr(module, spec[1])
    except AttributeError:
        raise ImportError(f"cannot import name {spec[1]!r} from {spec[0]!r}") from None


def listener_factory(ctx: Any, svc: Any) -> Callable[[], Any]:
    """The protocol factory for an inet service (ImportError when not available)."""
    make = _load(LISTENERS[svc.command])
    return make(ctx, svc)


def daemon_class(svc: Any) -> Any:
    """The class of a daemon program (ImportError when not available)."""
    return _load(DAEMONS[svc.command])


def make_daemon(ctx: Any, svc: Any, cls: Any = None) -> Any:
    """An instance of a daemon program; constructed with (ctx, service) or (ctx)."""
    cls = cls if cls is not None else daemon_class(svc)
    try:
        params = [p for p in inspect.signature(cls).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return cls(ctx, svc) if len(params) >= 2 else cls(ctx)


def inet_endpoints(ctx: Any, svc: Any, host_ip: str | None) -> list[tuple[str, int]]:
    """The (address, port) pairs of an inet service: ``[host:]port`` and inet_interfaces."""
    name = svc.name
    host = ""
    if name.startswith("["):
        host, _, port_s = name[1:].partition("]")
        port_s = port_s.lstrip(":")
    elif ":" in name:
        host, _, port_s = name.rpartition(":")
    else:
        port_s = name
    port = int(port_s) if (port_s.isascii() and port_s.isdigit()) else PORTS.get(port_s.lower(), -1)
    if port < 0:
        raise ValueError(f"unknown service: {port_s}/tcp")
    if host and host != "*":
        return [(_address(host, ctx, host_ip), port)]
    return [(a, port) for a in interface_addresses(ctx, host_ip)]


def interface_addresses(ctx: Any, host_ip: str | None) -> list[str]:
    """inet_interfaces as addresses ("*" for all)."""
    cfg = ctx.config
    items = [i.lower() for i in cfg.get_list("inet_interfaces")] or ["all"]
    protos = {p.lower() for p in cfg.get_list("inet_protocols")} or {"all"}
    v4 = bool(protos & {"all", "ipv4"})
    v6 = bool(protos & {"all", "ipv6"})
    if "all" in items:
        return ["*"]
    out: list[str] = []
    for item in items:
        if item == "loopback-only":
            out += (["127.0.0.1"] if v4 else []) + (["::1"] if v6 else [])
        else:
            out.append(_address(item, ctx, host_ip))
    seen: list[str] = []
    for a in out:
        if a not in seen:
            seen.append(a)
    return seen


def _address(name: str, ctx: Any, host_ip: str | None) -> str:
    name = name.strip("[]")
    if name == "localhost":
        return "127.0.0.1"
    if name and (name[0].isdigit() or ":" in name):
        return name
    if host_ip and name.rstrip(".").lower() in (ctx.hostname.lower(), str(ctx.config["myhostname"]).lower()):
        return host_ip
    return name
