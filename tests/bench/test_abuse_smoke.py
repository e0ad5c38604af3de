"""Smoke test of the abuse scenario: b's honest load (a few producers) beside one hostile client
of each behaviour for about a second, through the real CLI, must write its table with what the
hostile clients did, and lose no honest reading. No timing is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_relay

pytestmark = pytest.mark.e2e

SMOKE_BEHAVIOURS = ["handshake-abort", "bad-token", "status-flood", "huge-submit", "never-read", "replay-flood"]


def test_abuse_scenario_writes_its_table(tmp_path: Path) -> None:
    table, data = run_relay(
        tmp_path, "--scenarios", "b,abuse", "--systems", "wearstream", "--producers", "20",
        "--abusers", "1",
        "--duration", "1", "--warmup", "0.2",
    )
    assert "| **abuse** 1,000 producers at 1 Hz" in table
    assert "hostile rounds (connections or bursts)" in table

    runs = {r["scenario"]: r for r in data["results"]}
    assert set(runs) == {"b", "abuse"}
    for run in runs.values():
        assert not run.get("failed"), run.get("failed")
        assert run["sent"] > 0 and run["losses"] == 0
    rounds = runs["abuse"]["abuse"]["rounds"]
    assert {b for b, n in rounds.items() if n > 0} == set(SMOKE_BEHAVIOURS)
