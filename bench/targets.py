"""The systems under test, each started in its own process: wearstream (memory or SQLite) and Mosquitto."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

import attrs

from wearstream.testing.broker_process import BrokerProcess, create_developers

from .memory_broker import DEVELOPERS_PREFIX

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
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
    workdir: Path, developers: int, heartbeat_ms: int, *, sqlite: bool
) -> WearstreamTarget:
    """`wearstream broker --data-dir` (developers made by the CLI), or the memory launcher."""
    logs = workdir / "logs"
    if sqlite:
        data = workdir / "data"
        made = create_developers(data, [f"bench{i}" for i in range(developers)])
        process = BrokerProcess.create(data, log_dir=logs, heartbeat_interval=heartbeat_ms)
        process.start(timeout=START_TIMEOUT)
        return WearstreamTarget(process, [(d.dev_id, d.api_key) for d in made])
    args = [
        sys.executable, "-m", "bench.memory_broker",
        "--developers", str(developers), "--heartbeat-interval", str(heartbeat_ms),
    ]
    logs.mkdir(parents=True, exist_ok=True)
    process = BrokerProcess(args, logs)
    process.start(timeout=START_TIMEOUT)
    return WearstreamTarget(process, _memory_developers(process))


def _memory_developers(process: BrokerProcess) -> list[tuple[str, str]]:
    for line in process.stdout_path.read_text().splitlines():
        if line.startswith(DEVELOPERS_PREFIX):
            return [(d["dev_id"], d["api_key"]) for d in json.loads(line)["developers"]]
    raise RuntimeError(f"the memory broker printed no developers\n{process.output()}")


def mosquitto_binary() -> str | None:
    for path in MOSQUITTO_PATHS:
        if Path(path).exists():
            return path
    return shutil.which("mosquitto")


def mosquitto_version(binary: str) -> str:
    result = subprocess.run([binary, "-h"], capture_output=True, text=True)
    first = (result.stdout or result.stderr).splitlines()
    return first[0] if first else "unknown"


@attrs.define
class MosquittoTarget:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def mosquitto_config(port: int) -> str:
    """Defaults, except: loopback only, no persistence, and no queue limit, so nothing is dropped
    for a subscriber that lags (wearstream drops nothing either: a slow consumer catches up)."""
    return "\n".join(
        [
            f"listener {port} 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            "max_queued_messages 0",
            "max_connections -1",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "",
        ]
    )


def start_mosquitto(workdir: Path, binary: str) -> MosquittoTarget:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "mosquitto.conf"
    config.write_text(mosquitto_config(port))
    with open(workdir / "mosquitto.log", "wb") as log:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited {process.returncode}: {(workdir / 'mosquitto.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return MosquittoTarget(process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mosquitto did not listen in time")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
