"""NAME
    agents - which delivery agent serves a transport

SUMMARY
    svc = transport_service(services, "relay")   # the master.cf entry named "relay" (command smtp)
    deliver = agent_for(svc.command)             # async def deliver(ctx, service, req) -> [RecipientStatus]

DESCRIPTION
    A transport name from trivial-rewrite is a master.cf service name of
    type unix (local, virtual, smtp, relay, lmtp, error, retry, discard, or
    a pipe service such as labpipe); the service's command picks the
    program (smtp and relay both run smtp(8), retry runs error(8)). Agent
    modules are imported when first needed, so a missing one only makes
    its transport unavailable (mail for it is deferred with "mail transport
    unavailable").

SEE ALSO
    master(5), qmgr(8)
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

# master.cf command -> (module, function); tests may put callables here.
AGENTS: dict[str, Any] = {
    "local": ("simlab.postfix.local", "deliver"),
    "virtual": ("simlab.postfix.virtual", "deliver"),
    "error": ("simlab.postfix.error", "deliver"),
    "discard": ("simlab.postfix.discard", "deliver"),
    "smtp": ("simlab.postfix.smtp", "deliver"),
    "lmtp": ("simlab.postfix.smtp", "deliver"),
    "pipe": ("simlab.postfix.pipe", "deliver"),
}


# command -> (the AGENTS entry it was loaded for, its module): one import_module() per agent.
_LOADED: dict[str, tuple[Any, Any]] = {}


def agent_for(command: str) -> Callable[..., Any] | None:
    spec = AGENTS.get(command)
    if spec is None:
        return None
    if not isinstance(spec, tuple):
        return spec
    hit = _LOADED.get(command)
    if hit is not None and hit[0] is spec:
        return getattr(hit[1], spec[1], None)
    try:
        module = importlib.import_module(spec[0])
    except ImportError:
        return None
    _LOADED[command] = (spec, module)
    return getattr(module, spec[1], None)


def transport_service(services: list[Any], transport: str) -> Any | None:
    """The unix-type master.cf service named ``transport``."""
    for svc in services:
        if svc.name == transport and svc.type == "unix":
            return svc
    return None
