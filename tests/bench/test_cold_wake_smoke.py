"""bench/cold_wake.py runs: one line per gap, each a cost in µs (the figures are the machine's)."""

from __future__ import annotations

import pytest

from bench import cold_wake


def test_it_prints_one_cost_per_gap(capsys: pytest.CaptureFixture[str]) -> None:
    cold_wake.main(["--calls", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(cold_wake.GAPS)
    assert all(line.startswith("sleep ") and line.endswith(" µs") for line in lines)
