"""Smoke test of the relay benchmark harness: scenario (a) at a tiny rate for about a second, through
the real CLI in a subprocess, must write its Markdown table and JSON. No timing is asserted: speed
is what the harness reports, not what a test checks. Mosquitto runs when its binary is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_relay

pytestmark = pytest.mark.e2e

MOSQUITTO = any(Path(p).exists() for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto"))


def test_scenario_a_writes_its_table(tmp_path: Path) -> None:
    systems = "wearstream,mosquitto-qos0" if MOSQUITTO else "wearstream"
    table, data = run_relay(
        tmp_path, "--scenarios", "a", "--systems", systems, "--rate", "50", "--duration", "1", "--warmup", "0.2"
    )
    assert "| **a** 1 producer -> 1 consumer" in table
    assert "delivered samples/s" in table and "latency p99 ms" in table
    assert "instructions" not in table  # only with --callgrind (test_instructions_smoke.py)
    if MOSQUITTO:
        assert "wearstream / Mosquitto QoS 0" in table

    runs = {r["system"]: r for r in data["results"]}
    assert set(runs) == set(systems.split(","))
    for run in runs.values():
        assert run["sent"] > 0
        assert run["losses"] == 0
        assert run["received"] == run["sent"]
