"""Shared test settings: hypothesis without per-example deadlines (no timing assertions in unit
tests: a slow CI box must not fail a property), and a `ci` profile with more examples."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=100)
settings.register_profile(
    "ci", deadline=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("default")
