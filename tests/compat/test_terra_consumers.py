"""Consumers written for Terra's hosted API, run unchanged against a live broker with a simulated
strap streaming (issue 13): only their URLs and credentials point at us.

Each program is a separate process, as the real ones are: a Python one on asyncio and `websockets`
(tests/compat/programs/terra_consumer.py) and a Node one on `ws` and fetch (tests/compat/node).
They heartbeat at HELLO before IDENTIFY and then with jitter, parse ``ts`` with a literal ``Z``
(dropping silently what does not parse, as one real program did with every sample), derive both
endpoints from one base URL where the broker serves one origin, and know only Terra's data types.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.client import connect

from .conftest import (
    NODE_DIR,
    PRODUCER_USER,
    TERRA_TYPES,
    Compat,
    node_environment,
    python_consumer,
    run_program,
    wait_for_consumers,
)

pytestmark = pytest.mark.e2e

SECONDS = 3.5  # three heartbeat intervals and a half
EXTENSION_READINGS = [("BATTERY", 80), ("OXYGEN_SATURATION", 97), ("RUNNING_OXYGEN_SATURATION", 96)]


def submit_extension_types(compat: Compat) -> None:
    """While a consumer runs: a producer of another user sends our extension types, then one
    heart rate as a marker that the consumer was listening."""
    wait_for_consumers(compat, lambda n: n >= 1)  # the program under test is in
    token = _mint_user(compat, "ext-user")
    endpoints = compat.endpoints()
    ws_url = endpoints.get("ws_url") or endpoints["base_url"].replace("http", "ws", 1) + "/connect"
    with connect(ws_url) as ws:
        assert json.loads(ws.recv(timeout=5))["op"] == 2
        ws.send(json.dumps({"op": 3, "d": {"token": token, "type": 0}}))
        assert json.loads(ws.recv(timeout=5))["op"] == 4
        for t, val in [*EXTENSION_READINGS, ("HEART_RATE", 70)]:
            ws.send(json.dumps({"op": 6, "t": t, "d": {"val": val}}))  # the broker stamps ts
        ws.send(json.dumps({"op": 0}))
        assert json.loads(ws.recv(timeout=5))["op"] == 1


def _mint_user(compat: Compat, user: str) -> str:
    import httpx

    api = compat.endpoints().get("api_url") or compat.endpoints()["base_url"]
    response = httpx.post(f"{api}/auth/user", params={"id": user}, headers=compat.dev.headers(), timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


def check_summary(summary: dict[str, Any]) -> None:
    """What every Terra program must see: a session the broker kept (heartbeats answered, no
    close), live samples of the simulated strap, every ``ts`` parsed with a literal Z, Terra's
    types only, and the marker of the extension producer (so it was listening when they came)."""
    assert summary["close"] is None, f"the broker closed the session: {summary['close']}"
    assert summary["heartbeats"] >= 3 and summary["acks"] >= summary["heartbeats"] - 1, summary
    assert summary["ready"]["op"] == 4
    assert summary["unparsed"] == [], "timestamps a literal-Z parser drops"
    samples = summary["samples"]
    assert {s["uid"] for s in samples if s["t"] == "HEART_RATE"} >= {PRODUCER_USER, "ext-user"}
    assert len([s for s in samples if s["uid"] == PRODUCER_USER]) >= 20, "live DISPATCH from the strap"
    types = {s["t"] for s in samples}
    assert types <= TERRA_TYPES, f"extension types reached a plain Terra client: {types - TERRA_TYPES}"
    seqs = [s["seq"] for s in samples]
    assert seqs == sorted(set(seqs))


def test_python_websockets_consumer(compat: Compat) -> None:
    wait_for_consumers(compat, lambda n: n == 0)  # the previous program has gone
    command = python_consumer(compat, SECONDS, "--heartbeat-at-hello")
    summary = run_program(command, SECONDS, during=lambda: submit_extension_types(compat))
    check_summary(summary)


def test_node_ws_consumer(compat: Compat) -> None:
    env = node_environment()
    if env is None:
        pytest.skip("node or its `ws` package is missing (.ci/run installs both)")
    options = {
        "apiUrl": compat.endpoints().get("api_url"), "wsUrl": compat.endpoints().get("ws_url"),
        "baseUrl": compat.endpoints().get("base_url"), "devId": compat.dev.dev_id,
        "apiKey": compat.dev.api_key, "seconds": SECONDS,
    }
    options = {k: v for k, v in options.items() if v is not None}
    wait_for_consumers(compat, lambda n: n == 0)
    command = ["node", str(NODE_DIR / "consumer.mjs"), json.dumps(options)]
    summary = run_program(command, SECONDS, during=lambda: submit_extension_types(compat), env=env)
    check_summary(summary)
