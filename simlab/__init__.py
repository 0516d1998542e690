"""simlab - an email lab in a notebook.

A Postfix-like MTA, MDAs, POP3/IMAP stores and DNS on a virtual network in
virtual time; the same servers also listen on real loopback sockets.
"""

from __future__ import annotations

from .sim.loop import VirtualLoop
from .sim.network import Host, Network
from .sim.trace import Event, Trace

__all__ = ["Event", "Host", "Network", "Trace", "VirtualLoop"]
__version__ = "0.1.0"
