"""Running the benchmark harness as a user does: ``python -m bench.relay`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from wearstream.testing.broker_process import clean_environment

ROOT = Path(__file__).resolve().parents[2]


def run_relay(out: Path, *arguments: str) -> tuple[str, dict[str, Any]]:
    """Run the harness with ``arguments``, writing to ``out``; its one Markdown table and JSON."""
    command = [sys.executable, "-m", "bench.relay", *arguments, "--out", str(out)]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=60, env=clean_environment()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tables = list(out.glob("relay-*.md"))
    assert len(tables) == 1
    return tables[0].read_text(), json.loads(tables[0].with_suffix(".json").read_text())
