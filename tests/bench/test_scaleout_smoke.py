"""Smoke test of the harness's scale-out scenario: 1 and 2 broker nodes on a private Redis, about a
second each, through the real CLI in a subprocess; the table and JSON must show both node counts
with nothing lost. No timing is asserted: speed is what the harness reports, not what a test checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from wearstream.testing.redis_server import redis_server_binary

from .conftest import run_relay

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(redis_server_binary() is None, reason="redis-server is not installed"),
]


def test_scaleout_writes_one_row_group_per_node_count(tmp_path: Path) -> None:
    table, data = run_relay(
        tmp_path, "--scenarios", "scaleout", "--nodes", "1,2", "--producers", "4", "--rate", "20",
        "--duration", "1", "--warmup", "0.2",
    )
    assert "| **n1** scale-out: 1 node on one Redis" in table
    assert "| **n2** scale-out: 2 nodes on one Redis" in table
    for figure in (
        "delivered samples/s", "broker CPU µs/sample, all nodes", "Redis CPU %", "latency p99 ms",
        "broker CPU µs/reading, each node", "Redis CPU µs/reading",
    ):
        assert figure in table

    runs = {r["scenario"]: r for r in data["results"]}
    assert set(runs) == {"n1", "n2"}
    for name, run in runs.items():
        assert run["system"] == "wearstream-redis"
        assert run["nodes"] == int(name[1:])
        assert len(run["node_cpu_pct"]) == run["nodes"]
        assert len(run["node_cpu_us_per_reading"]) == run["nodes"]
        assert run["redis_cpu_us_per_reading"] is not None
        assert run["sent"] > 0
        assert run["losses"] == 0
        assert run["received"] == run["sent"]
