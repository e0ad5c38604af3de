"""Smoke test of bench/idle_memory.py: a few idle producers must give the per-connection
breakdown (with tracemalloc, the fuller path). No figure is asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from wearstream.testing.broker_process import clean_environment

from .conftest import ROOT

pytestmark = pytest.mark.e2e


def test_idle_memory_reports_per_connection() -> None:
    command = [sys.executable, "-m", "bench.idle_memory", "--connections", "20", "--warm", "2", "--top", "5"]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True,
        timeout=120, env=clean_environment(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RSS per connection" in result.stdout and "tasks per connection" in result.stdout
    assert "connections open in the broker at the second look: 22 (expected 22)" in result.stdout
    assert "innermost line of ours" in result.stdout
