"""Hypothesis profiles of the fuzz tests: small in CI, long locally.

    TOOLKIT_FUZZ=long python -m pytest -q tests/test_fuzz_api.py tests/test_fuzz_wire.py

``ci`` (the default) keeps the fuzz files to well under a minute on a quiet machine;
``long`` runs ~50x as many examples and sequences.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, derandomize=False, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                      HealthCheck.data_too_large, HealthCheck.filter_too_much])
settings.register_profile("fuzz-ci", max_examples=25, **_COMMON)
settings.register_profile("fuzz-long", max_examples=1_500, **_COMMON)

PROFILE = "fuzz-long" if os.environ.get("TOOLKIT_FUZZ", "").lower() == "long" else "fuzz-ci"


def fuzz_settings(scale: float = 1.0) -> settings:
    """Return the active profile's settings, with ``scale`` times its examples (at least 5)."""
    base = settings.get_profile(PROFILE)
    return settings(base, max_examples=max(5, int(base.max_examples * scale)))
