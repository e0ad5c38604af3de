"""`wearstream demo` as a user runs it: one command, no hardware, no service, a summary at the end."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from wearstream.testing.broker_process import clean_environment


@pytest.mark.e2e
def test_the_demo_streams_four_users_and_ends_by_itself_with_a_summary() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wearstream.entrypoints.cli", "demo", "--duration", "6"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    for user in ("alice", "bob", "carol", "dave"):
        assert user in result.stdout
    summary = re.search(
        r"(\d+) payloads from 4 users in [\d.]+ s \(\d+/s\); end-to-end latency p50 [\d.]+ ms, p99 [\d.]+ ms",
        result.stdout,
    )
    assert summary, result.stdout
    assert int(summary.group(1)) > 100  # the watch alone sends 100 IMU samples a second


def test_a_duration_that_is_not_positive_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wearstream.entrypoints.cli", "demo", "--duration", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_environment(),
    )
    assert result.returncode == 2
    assert "--duration" in result.stderr
