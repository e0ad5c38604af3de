"""The broker driven by Node.js with the `ws` package (tests/interop/node/roundtrip.mjs), the
library Terra users' Node consumers are written with; tokens are minted by the script itself with
Node's fetch, over ws:// and, trusting the test's CA through NODE_EXTRA_CA_CERTS, over wss://.
`ws` is installed into tests/interop/node/ from its lock file when missing (`.ci/run`
does it up front); the test is skipped only where there is no `node` at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Interop, check_round_trip, readings_for

NODE_DIR = Path(__file__).with_name("node")
SCRIPT = NODE_DIR / "roundtrip.mjs"
RUN_TIMEOUT_S = 30.0
INSTALL_TIMEOUT_S = 180.0

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="no `node` on PATH (apt-get install nodejs npm)"),
]


def install_ws() -> None:
    """`npm ci` into tests/interop/node/ unless `ws` is already there."""
    if (NODE_DIR / "node_modules" / "ws" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "node is installed but npm is not (apt-get install npm)"
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"


def test_round_trip_with_node_ws(any_broker: Interop) -> None:
    install_ws()
    sent = readings_for("node-ws")
    broker, dev = any_broker, any_broker.shared
    env = dict(os.environ)
    if broker.ca_file is not None:  # how a Node program is told to trust a private CA
        env["NODE_EXTRA_CA_CERTS"] = str(broker.ca_file)
    result = subprocess.run(
        ["node", str(SCRIPT), broker.ws_url, broker.http_url, dev.dev_id, dev.api_key],
        input=json.dumps(sent), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env,
    )
    assert result.returncode == 0, f"node exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    check_round_trip(json.loads(result.stdout.strip().splitlines()[-1]), sent)
