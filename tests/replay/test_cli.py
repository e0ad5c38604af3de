"""`wearstream producer --device replay:PATH` as a user runs it: a recording played to its end is
a success (exit 0, one info line), not a device failure (issue 15.8)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from wearstream.testing.broker_process import (
    BrokerProcess,
    clean_environment,
    create_developer,
    wearstream_command,
)

pytestmark = pytest.mark.e2e


def recording(path: Path, count: int) -> Path:
    lines = [
        {"uid": "alice", "seq": n + 1, "t": "HEART_RATE",
         "d": {"ts": f"2024-03-09T07:30:{n:02d}.000000Z", "val": 60 + n}}
        for n in range(count)
    ]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def producer(broker: BrokerProcess, data: Path, device: str, outbox: Path) -> subprocess.CompletedProcess[str]:
    dev = create_developer(data, "replayer")
    command = [
        *wearstream_command(), "producer", "--user-id", "bob", "--device", device,
        "--broker-url", broker.ws_url, "--api-url", broker.http_url,
        "--dev-id", dev.dev_id, "--api-key", dev.api_key, "--outbox", str(outbox),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=clean_environment(),
                          timeout=60, stdin=subprocess.DEVNULL)


def test_a_finished_recording_exits_0_with_one_info_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_developer(data, "first")  # the store exists before the broker opens it
    path = recording(tmp_path / "run.jsonl", 5)
    with BrokerProcess.create(data, log_dir=tmp_path / "logs") as broker:
        done = producer(broker, data, f"replay:{path}?speed=100", tmp_path / "outbox.db")
    assert done.returncode == 0, done.stderr
    assert "ERROR" not in done.stderr and "every device has stopped" not in done.stderr
    finished = [line for line in done.stderr.splitlines() if " finished after " in line]
    assert len(finished) == 1 and " INFO " in finished[0] and "after 5 samples" in finished[0]
    assert "added=5" in done.stdout and "pending=0" in done.stdout


def test_a_recording_with_nothing_to_play_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_developer(data, "first")
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with BrokerProcess.create(data, log_dir=tmp_path / "logs") as broker:
        done = producer(broker, data, f"replay:{empty}", tmp_path / "outbox.db")
    assert done.returncode == 1
    assert "holds no reading to play" in done.stderr
