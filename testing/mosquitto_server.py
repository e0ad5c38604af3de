"""A private Mosquitto for tests and the benchmark: loopback only, a free port, its own temp dir.

The MQTT sink's tests publish through it and subscribe with a real client; the benchmark harness
(bench/) measures it beside wearstream. Debian's package installs the binary in /usr/sbin.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import attrs

from .redis_server import free_port

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0


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
class MosquittoProcess:
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


def start_mosquitto(workdir: Path, binary: str) -> MosquittoProcess:
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
            return MosquittoProcess(process, port)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("mosquitto did not listen in time")
