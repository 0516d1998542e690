"""NAME
    services - the master.cf entries of an instance, as programs look them up

SUMMARY
    master_services(ctx)                      # [MasterService, ...], re-read when master.cf changes
    find_service(ctx, "cleanup")              # the unix service named "cleanup", or None
    service_settings(ctx, "cleanup")          # main.cf plus that service's -o overrides

DESCRIPTION
    A Postfix daemon reads main.cf and then the ``-o name=value`` options
    of its own master.cf entry, which win. Programs that hand work to
    another service by name (smtpd and pickup to $cleanup_service_name,
    qmgr to a transport) find that entry here. master.cf is parsed again
    only when the file or the instance's configuration (``postfix
    reload``) changed.

PARAMETERS
    config_directory (where master.cf is).

SEE ALSO
    master(5), postconf(5)
"""

from __future__ import annotations

import os
import weakref
from typing import Any

# ctx -> (master.cf stamp, Config, services, master.cf path as a string or None)
_CACHE: "weakref.WeakKeyDictionary[Any, tuple[Any, Any, list[Any], str | None]]" = weakref.WeakKeyDictionary()


def _master_cf(cfg: Any) -> str | None:
    try:
        return os.path.join(str(cfg.config_dir), "master.cf")
    except AttributeError:
        return None


def _stamp(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def master_services(ctx: Any) -> list[Any]:
    """master.cf's services (an empty list when there is no master.cf)."""
    cfg = ctx.config
    hit = _CACHE.get(ctx)
    path = hit[3] if hit is not None and hit[1] is cfg else _master_cf(cfg)
    stamp = _stamp(path)
    if hit is None or hit[0] != stamp or hit[1] is not cfg:
        try:
            services = list(cfg.services) if stamp is not None else []
        except (OSError, AttributeError):
            services = []
        hit = (stamp, cfg, services, path)
        _CACHE[ctx] = hit
    return hit[2]


def find_service(ctx: Any, name: str, type: str = "unix") -> Any | None:
    """The master.cf entry named ``name`` of that type."""
    for svc in master_services(ctx):
        if svc.name == name and svc.type == type:
            return svc
    return None


def service_settings(ctx: Any, name: str, type: str = "unix") -> Any:
    """main.cf with the -o overrides of service ``name`` (main.cf alone when there is none)."""
    svc = find_service(ctx, name, type)
    if svc is None or not hasattr(ctx.config, "for_service"):
        return ctx.config
    return ctx.config.for_service(svc)
