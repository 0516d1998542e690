"""NAME
    pipe - Postfix's pipe(8) delivery agent: deliver to an external command

SUMMARY
    from simlab.postfix.pipe import deliver
    statuses = await deliver(ctx, service, request)

DESCRIPTION
        attrs   master.cf attributes (flags=, user=, argv=, ...) and ${macro} expansion
        agent   running the command, mail_copy() headers, sysexits verdicts

    The command itself comes from simlab.postfix.commands_registry: a Python
    callable registered on a simulated host, a real program under serve.
    See pipe(8), master(5).
"""

from __future__ import annotations

from .agent import SYS_EXITS, PipeAgent, deliver, judge, mail_copy
from .attrs import PipeAttrs, PipeConfigError, expand_argv, parse_attrs

__all__ = ["PipeAgent", "PipeAttrs", "PipeConfigError", "SYS_EXITS", "deliver", "expand_argv",
           "judge", "mail_copy", "parse_attrs"]
