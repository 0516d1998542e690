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

import weakref
from typing import Any

_CACHE: "weakref.WeakKeyDictionary[Any, tuple[Any, Any, list[Any]]]" = weakref.WeakKeyDictionary()


def _stamp(cfg: Any) -> tuple[int, int] | None:
    try:
        st = (cfg.config_dir / "master.cf").stat()
    except (OSError, AttributeError):
        return None
    return (st.st_mtime_ns, st.st_size)


def master_services(ctx: Any) -> list[Any]:
    """master.cf's services (an empty list when there is no master.cf)."""
    cfg = ctx.config
    stamp = _stamp(cfg)
    hit = _CACHE.get(ctx)
    if hit is None or hit[0] != stamp or hit[1] is not cfg:
        try:
            services = list(cfg.services) if stamp is not None else []
        except (OSError, AttributeError):
            services = []
        hit = (stamp, cfg, services)
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
