"""The systems under test, each started in its own process: wearstream (memory or SQLite) and Mosquitto."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Callable, Protocol

import attrs

from wearstream.testing.broker_process import BrokerProcess, broker_arguments, create_developers
from wearstream.testing.mosquitto_server import (  # noqa: F401  (the harness names them targets.*)
    MosquittoProcess,
    mosquitto_binary,
    mosquitto_version,
    start_mosquitto,
)

from .memory_broker import DEVELOPERS_PREFIX

START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


class Target(Protocol):
    pid: int

    def stop(self) -> None: ...


@attrs.define
class WearstreamTarget:
    process: BrokerProcess
    developers: list[tuple[str, str]]

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def stop(self) -> None:
        try:
            self.process.stop(timeout=STOP_TIMEOUT)
        finally:
            self.process.kill()


def start_wearstream(
    workdir: Path, developers: int, heartbeat_ms: int, *, sqlite: bool,
    wrap: Callable[[list[str]], list[str]] | None = None,
) -> WearstreamTarget:
    """`wearstream broker --data-dir` (developers made by the CLI), or the memory launcher;
    ``wrap`` (bench/instructions.py) puts the broker's command under another (callgrind)."""
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    wrap = wrap or (lambda command: command)
    if sqlite:
        data = workdir / "data"
        made = create_developers(data, [f"bench{i}" for i in range(developers)])
        command = broker_arguments(data, heartbeat_interval=heartbeat_ms)
        process = BrokerProcess(wrap(command), logs)
        process.start(timeout=START_TIMEOUT)
        return WearstreamTarget(process, [(d.dev_id, d.api_key) for d in made])
    args = [
        sys.executable, "-m", "bench.memory_broker",
        "--developers", str(developers), "--heartbeat-interval", str(heartbeat_ms),
    ]
    process = BrokerProcess(wrap(args), logs)
    process.start(timeout=START_TIMEOUT)
    return WearstreamTarget(process, _memory_developers(process))


def _memory_developers(process: BrokerProcess) -> list[tuple[str, str]]:
    for line in process.stdout_path.read_text().splitlines():
        if line.startswith(DEVELOPERS_PREFIX):
            return [(d["dev_id"], d["api_key"]) for d in json.loads(line)["developers"]]
    raise RuntimeError(f"the memory broker printed no developers\n{process.output()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
