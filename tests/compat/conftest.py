"""One real `wearstream broker` and one real `wearstream producer` streaming a simulated heart-rate
strap, for the compatibility suite: consumer programs written the way Terra's users write them
(tests/compat/programs, tests/compat/node) run against it unchanged, given only URLs and
credentials.

The broker's heartbeat interval is 1 s, so a few seconds of a run cover several heartbeats, the
client's jitter and the broker's leeway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import attrs
import pytest

from wearstream.domain.datatypes import DataType, is_extension_type
from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    wearstream_command,
)

HEARTBEAT_INTERVAL_MS = 1000
PRODUCER_USER = "runner-1"
PROGRAMS = Path(__file__).parent / "programs"
NODE_DIR = Path(__file__).parent / "node"
# Where the Node tests' `ws` package is installed (.ci/run runs `npm ci` there).
NODE_MODULES = Path(__file__).parent.parent / "interop" / "node" / "node_modules"
TERRA_TYPES = {dt.value for dt in DataType if not is_extension_type(dt.value)}


@attrs.define
class Compat:
    broker: BrokerProcess
    dev: DeveloperCredentials

    def endpoints(self) -> dict[str, str]:
        """How a Terra program is pointed at us: one base URL when the broker serves both on one
        origin (as Terra does: ws.tryterra.co), else the two URLs it announced."""
        ws, http = urlsplit(self.broker.ws_url), urlsplit(self.broker.http_url)
        if ws.netloc == http.netloc:
            return {"base_url": self.broker.http_url.rstrip("/")}
        return {"api_url": self.broker.http_url.rstrip("/"), "ws_url": self.broker.ws_url}


@pytest.fixture(scope="session")
def compat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compat]:
    data = tmp_path_factory.mktemp("compat-data")
    dev = create_developer(data, "compat")
    logs = tmp_path_factory.mktemp("compat-logs")
    broker = BrokerProcess.create(
        data, log_dir=logs, heartbeat_interval=HEARTBEAT_INTERVAL_MS, max_consumers=8
    )
    with broker:
        producer = subprocess.Popen(
            [*wearstream_command(), "producer", "--user-id", PRODUCER_USER,
             "--device", "sim:hr-strap?rate=20&seed=3", "--broker-url", broker.ws_url,
             "--api-url", broker.http_url, "--dev-id", dev.dev_id, "--api-key", dev.api_key,
             "--outbox", str(logs / "outbox.db")],
            stdout=open(logs / "producer.stdout", "wb"), stderr=open(logs / "producer.stderr", "wb"),
            stdin=subprocess.DEVNULL, env=clean_environment(),
        )
        try:
            yield Compat(broker, dev)
        finally:
            producer.terminate()
            producer.wait(10)
        assert broker.running, f"the broker died during the suite\n{broker.output()}"


def run_program(
    command: list[str], seconds: float, during: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one consumer program for ``seconds`` (``during`` runs meanwhile) and return the
    summary it printed."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        if during is not None:
            during()
        out, err = process.communicate(timeout=seconds + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, f"{command[:2]} exited {process.returncode}\n{err}"
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert lines, f"no summary printed\nstdout:\n{out}\nstderr:\n{err}"
    return json.loads(lines[-1])


def python_consumer(compat: Compat, seconds: float, *flags: str) -> list[str]:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in compat.endpoints().items()]
    return [
        sys.executable, str(PROGRAMS / "terra_consumer.py"), *options,
        "--dev-id", compat.dev.dev_id, "--api-key", compat.dev.api_key,
        "--seconds", str(seconds), *flags,
    ]


def node_environment() -> dict[str, str] | None:
    """The environment for `node` with `ws` found, or None when Node or `ws` is missing."""
    env = dict(os.environ)
    paths = [p for p in [str(NODE_MODULES), env.get("NODE_PATH", "")] if p]
    env["NODE_PATH"] = os.pathsep.join(paths)
    try:
        found = subprocess.run(
            ["node", "-e", "require.resolve('ws')"], env=env, capture_output=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return env if found.returncode == 0 else None


def wait_for_consumers(compat: Compat, ready: Callable[[int], bool], timeout: float = 20.0) -> None:
    """Until the broker's consumer count (/healthz) satisfies ``ready``."""
    import httpx

    api = compat.broker.http_url.rstrip("/")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready(httpx.get(f"{api}/healthz", timeout=5).json().get("consumers", 0)):
            return
        time.sleep(0.05)
    raise AssertionError("the consumer count never came right")
