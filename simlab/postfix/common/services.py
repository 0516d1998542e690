"""NAME
    services - the master.cf entries of an instance, as programs look them up

SUMMARY
    master_services(ctx)                      # [MasterService, ...], read once per configuration
    find_service(ctx, "cleanup")              # the unix service named "cleanup", or None
    service_settings(ctx, "cleanup")          # main.cf plus that service's -o overrides

DESCRIPTION
    A Postfix daemon reads main.cf and then the ``-o name=value`` options
    of its own master.cf entry, which win. Programs that hand work to
    another service by name (smtpd and pickup to $cleanup_service_name,
    qmgr to a transport) find that entry here. As with Postfix, whose
    daemons learn master.cf from master(8) at start and at ``postfix
    reload``, master.cf is read once per configuration: the entries are
    kept until the instance's Config object is replaced (``postfix
    reload``, ``ctx.reload()``).

PARAMETERS
    config_directory (where master.cf is).

SEE ALSO
    master(5), postconf(5)
"""

from __future__ import annotations

import os
from typing import Any


class _Services:
    """master.cf as read for one Config object, with lookups by name."""

    def __init__(self, cfg: Any) -> None:
        self.config = cfg
        self.services = _read(cfg)
        self.by_key: dict[tuple[str, str], Any] = {}
        for svc in self.services:
            self.by_key.setdefault((svc.name, svc.type), svc)
        self.settings: dict[tuple[str, str], Any] = {}


def _read(cfg: Any) -> list[Any]:
    try:
        path = os.path.join(str(cfg.config_dir), "master.cf")
    except AttributeError:
        return []
    if not os.path.exists(path):
        return []
    try:
        return list(cfg.services)
    except (OSError, AttributeError):
        return []


def _current(ctx: Any) -> _Services:
    cfg = ctx.config
    shared = ctx.shared     # the context's own state (a WeakKeyDictionary would make a weakref per call)
    hit = shared.get("services:master.cf")
    if hit is None or hit.config is not cfg:
        hit = shared["services:master.cf"] = _Services(cfg)
    return hit


def master_services(ctx: Any) -> list[Any]:
    """master.cf's services (an empty list when there is no master.cf)."""
    return _current(ctx).services


def find_service(ctx: Any, name: str, type: str = "unix") -> Any | None:
    """The master.cf entry named ``name`` of that type."""
    return _current(ctx).by_key.get((name, type))


def service_settings(ctx: Any, name: str, type: str = "unix") -> Any:
    """main.cf with the -o overrides of service ``name`` (main.cf alone when there is none)."""
    known = _current(ctx)
    key = (name, type)
    hit = known.settings.get(key)
    if hit is None:
        svc = known.by_key.get(key)
        cfg = known.config
        if svc is None or not hasattr(cfg, "for_service"):
            hit = cfg
        else:
            hit = cfg.for_service(svc)
        known.settings[key] = hit
    return hit
