"""The test suite's own settings: the Hypothesis profile that is defined for CI is the one CI gets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

CHILD = "WEARSTREAM_TEST_HYGIENE_CHILD"


def test_the_ci_profile_is_loaded_under_ci_true() -> None:
    if os.environ.get(CHILD):  # the child runs: report what it got
        expected = os.environ[CHILD] == "ci"
        assert settings.default.derandomize is expected
        return
    for ci, profile in (("true", "ci"), ("false", "default"), (None, "default")):
        env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
        env.update({CHILD: profile} if ci is None else {"CI": ci, CHILD: profile})
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:randomly", f"{Path(__file__)}::{test_the_ci_profile_is_loaded_under_ci_true.__name__}"],
            capture_output=True, text=True, timeout=120, env=env, cwd=Path(__file__).parents[1],
        )
        assert result.returncode == 0, result.stdout + result.stderr
