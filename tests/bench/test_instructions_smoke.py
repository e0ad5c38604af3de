"""``--callgrind``: the broker under callgrind, its instructions counted over the window only,
through the real CLI (skipped without valgrind). The count itself is not asserted: what a change
buys is read from the harness's tables, never checked by a test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import instructions

from .conftest import run_relay

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not instructions.available(), reason="valgrind is not installed"),
]


def test_instructions_per_sample_are_counted_over_the_window(tmp_path: Path) -> None:
    dumps = tmp_path / "callgrind"
    table, data = run_relay(
        tmp_path / "out", "--scenarios", "b", "--producers", "5", "--systems", "wearstream",
        "--duration", "1", "--warmup", "0.5", "--callgrind", str(dumps),
    )
    (run,) = data["results"]
    assert run["losses"] == 0 and run["received"] > 0
    assert run["broker_instructions_per_sample"] > 0
    assert "broker instructions/sample (callgrind)" in table
    assert len(list(dumps.glob("callgrind.b-wearstream.*.1"))) == 1  # the window's dump

