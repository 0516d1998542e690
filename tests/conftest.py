"""Test-suite settings shared by every test file."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# CI must not depend on luck: property tests run derandomized there (the same examples every
# run); on a developer's machine they explore new examples each time. No deadlines: the
# machine has 2 cores shared with browser and notebook tests, and slowness is not a failure.
settings.register_profile("ci", derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
