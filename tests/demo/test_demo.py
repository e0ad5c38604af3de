"""`wearstream demo` as a user runs it: one command, no hardware, no service, a summary at the end."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from wearstream.testing.broker_process import clean_environment

DEMO = [sys.executable, "-m", "wearstream.entrypoints.cli", "demo"]


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


SUMMARY = re.compile(r"\d+ payloads from \d+ users in [\d.]+ s")


def _stop_with_sigint(command: list[str], pid_from_first_line: bool) -> tuple[int, str, str]:
    """Start ``command``, wait until the demo runs, send it SIGINT; (status, stdout, stderr)."""
    import signal
    import time

    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_environment()
    )
    assert process.stdout is not None
    pid = int(process.stdout.readline()) if pid_from_first_line else process.pid
    started = process.stdout.readline()
    assert started.startswith("wearstream demo: broker"), started
    time.sleep(1.5)
    os.kill(pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return process.returncode, started + out, err


@pytest.mark.e2e
def test_ctrl_c_ends_the_demo_with_its_summary_and_status_0() -> None:
    status, out, err = _stop_with_sigint([*DEMO], pid_from_first_line=False)
    assert status == 0, err
    assert SUMMARY.search(out), out
    assert "Traceback" not in err, err


@pytest.mark.e2e
def test_a_demo_started_in_the_background_still_stops_on_sigint() -> None:
    # A non-interactive shell starts `cmd &` with SIGINT ignored; the demo must still obey it.
    shell = f"{shlex.join(DEMO)} & echo $!; wait"
    status, out, err = _stop_with_sigint(["sh", "-c", shell], pid_from_first_line=True)
    assert status == 0, err
    assert SUMMARY.search(out), out


@pytest.mark.parametrize("rate", ["0", "5000", "nan", "-1", "x"])
def test_a_rate_out_of_range_is_one_line_and_status_2(rate: str) -> None:
    result = subprocess.run(
        [*DEMO, "--rate", rate], capture_output=True, text=True, timeout=30, env=clean_environment()
    )
    assert result.returncode == 2
    assert "--rate" in result.stderr and "Traceback" not in result.stderr
