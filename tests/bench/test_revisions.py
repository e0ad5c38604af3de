"""wearstream at another git revision in the same run (bench/revisions.py): the revision's own code
runs, and the runs alternate. No timing is asserted."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bench import relay, revisions
from bench.run import SYSTEMS, System
from wearstream.testing.broker_process import clean_environment

from .conftest import ROOT, run_relay

pytestmark = pytest.mark.e2e

IN_GIT = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode == 0
needs_git = pytest.mark.skipif(not IN_GIT, reason="not a git checkout: no revision to export")


@needs_git
def test_a_revision_runs_its_own_code_not_this_checkouts() -> None:
    with revisions.exported(["HEAD"]) as exported:
        code = exported["HEAD"].code
        env = {**clean_environment(), **revisions.environment(code)}
        probe = "import wearstream, bench.memory_broker; print(wearstream.__file__); print(bench.memory_broker.__file__)"
        result = subprocess.run(
            [sys.executable, "-m", "bench.stacks", "--help"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr  # `python -m` from the repository root still works
        result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    package, launcher = result.stdout.split()
    assert Path(package) == code / "wearstream" / "__init__.py"
    assert Path(launcher) == code / "wearstream" / "bench" / "memory_broker.py"


@needs_git
def test_an_unknown_revision_is_one_line() -> None:
    with pytest.raises(SystemExit, match="git knows no revision 'no-such-rev'"):
        revisions.resolve("no-such-rev")


def test_repeated_runs_alternate_abba() -> None:
    a, b = SYSTEMS["wearstream"], System("wearstream@abc1234", "wearstream@abc1234", "wearstream")
    args = argparse.Namespace(
        scenarios="a", producers=None, rate=None, idle_connections=None, abusers=None,
        abuse_behaviours=None, repeat=3, sqlite_scenarios="c",
    )
    order = [(system.name, number) for _, system, number in relay.plan(args, None, [a, b])]
    assert order == [
        ("wearstream", 1), ("wearstream@abc1234", 1),
        ("wearstream@abc1234", 2), ("wearstream", 2),
        ("wearstream", 3), ("wearstream@abc1234", 3),
    ]


@needs_git
def test_before_and_after_meet_in_one_table(tmp_path: Path) -> None:
    table, data = run_relay(
        tmp_path, "--scenarios", "a", "--systems", "wearstream,wearstream@HEAD,wearstream-sqlite@HEAD",
        "--sqlite-scenarios", "a", "--rate", "50", "--duration", "1", "--warmup", "0.2",
    )
    short = revisions.resolve("HEAD")[:7]
    assert f"| wearstream / wearstream@{short} |" in table
    assert f"wearstream+SQLite@{short}" in table
    runs = {r["system"]: r for r in data["results"]}
    assert set(runs) == {"wearstream", f"wearstream@{short}", f"wearstream-sqlite@{short}"}
    assert data["header"]["revisions"] == {"HEAD": revisions.resolve("HEAD")}
    for run in runs.values():
        assert run["sent"] > 0 and run["losses"] == 0
