"""docs/security.md lists every limit with its flag: a bound added to `wearstream broker` without
a row there fails here, and so does a row naming a flag the broker no longer has."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from wearstream.testing.broker_process import clean_environment, wearstream_command

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
# A flag that bounds something a client can make the broker hold or wait for, by its name.
BOUND = re.compile(r"^--(max-[a-z-]+|[a-z-]+-(bytes|timeout|interval|ttl|lease|grace|limit|size))$")


def broker_flags() -> set[str]:
    result = subprocess.run(
        [*wearstream_command(), "broker", "--help"], capture_output=True, text=True, timeout=60,
        env=clean_environment(),
    )
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?m)^\s+(--[a-z][a-z-]+)", result.stdout))


def test_every_bound_of_the_broker_is_in_the_limits_table() -> None:
    table = DOC.read_text().split("## Every limit", 1)[1].split("\n## ", 1)[0]
    bounds = {flag for flag in broker_flags() if BOUND.match(flag)}
    assert bounds, "no bound flags found: has --help changed its layout?"
    missing = sorted(flag for flag in bounds if f"`{flag}`" not in table)
    assert not missing, f"docs/security.md's limits table lacks {missing}"


def test_every_flag_the_page_names_exists() -> None:
    named = set(re.findall(r"`(--[a-z][a-z-]+)", DOC.read_text()))
    flags = broker_flags() | {"--api-key"}  # the consumer's and producer's, named for its advice
    assert not sorted(named - flags), f"docs/security.md names flags the broker lacks: {sorted(named - flags)}"
