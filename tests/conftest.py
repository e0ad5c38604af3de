"""Shared test settings: hypothesis without per-example deadlines (no timing assertions in unit
tests: a slow CI box must not fail a property), and a `ci` profile, loaded when CI=true (as CI
services and .ci/run set it) or HYPOTHESIS_PROFILE=ci: the same bounded example counts, but
derandomized, so a CI failure is the same failure on a developer's machine, and printed with the
blob that reproduces it."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# derandomize is explicit: Hypothesis' own CI detection (any CI variable) would otherwise make it
# the parent's value, and this file alone decides which profile a run gets.
settings.register_profile("default", deadline=None, max_examples=100, derandomize=False)
settings.register_profile(
    "ci",
    settings.get_profile("default"),
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def hypothesis_profile(environ: os._Environ[str] | dict[str, str] = os.environ) -> str:
    if environ.get("HYPOTHESIS_PROFILE"):
        return environ["HYPOTHESIS_PROFILE"]
    return "ci" if environ.get("CI", "").strip().lower() in ("true", "1") else "default"


settings.load_profile(hypothesis_profile())
