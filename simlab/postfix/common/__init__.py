"""NAME
    common - what every simlab Postfix program shares (Postfix's "global")

SUMMARY
    from simlab.postfix.common import PostfixContext, MailLog

DESCRIPTION
    The per-instance context (configuration, clock, maillog, trace, network
    access, pid numbers, the wake-up bus between daemons), the maillog line
    format and, in ``queue``, the queue file format.

SEE ALSO
    postconf(5), maillog(5)
"""

from __future__ import annotations

from .context import (Clock, EventBus, PasswdEntry, PidAllocator, PidPool, PostfixContext,
                      RealClock, TraceSink, VirtualClock, HostTrace, NullTrace, read_passwd)
from .maillog import MailLog
from .netaccess import NetAccess, RealNetAccess, VirtualNetAccess

__all__ = [
    "Clock", "EventBus", "HostTrace", "MailLog", "NetAccess", "NullTrace", "PasswdEntry",
    "PidAllocator", "PidPool", "PostfixContext", "RealClock", "RealNetAccess", "TraceSink", "VirtualClock",
    "VirtualNetAccess", "read_passwd",
]
