"""NAME
    scenarios - ready-made networks for the notebooks and ``simlab demo``

SUMMARY
    from simlab.scenarios import tour, internet, lab
    t = tour(seed=1)            # two domains, two mail servers, three mail clients
    w = internet(seed=1)        # chapter 1: MUAs, MTAs, a message store, DNS
    l = lab(seed=1)             # one host with the reference lab's configuration

DESCRIPTION
    Each scenario is ONE call that returns a ``Scenario``: the Network
    (``.net``), its hosts and mail clients by name (``t.mail_example``,
    ``t.alice``), ``describe()`` for a table of who is who, ``run()`` and
    ``close()``. The same seed always builds the same network and, with the
    same actions, the same trace byte for byte.

        base      Scenario and the host helpers (postconf -e, postconf -Me, start)
        tour      the tour notebook's network
        internet  the Internet of chapter 1
        lab       the reference lab host (simlab/data/lab)
        demos     the demonstrations of ``simlab demo NAME``
"""

from __future__ import annotations

from .base import Scenario
from .internet import internet
from .lab import lab
from .tour import tour

SCENARIOS = {"tour": tour, "internet": internet, "lab": lab}

__all__ = ["SCENARIOS", "Scenario", "internet", "lab", "tour"]
