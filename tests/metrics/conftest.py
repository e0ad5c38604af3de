"""An in-process broker with one developer, and a scrape of its /metrics."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from trio_websocket import ConnectionClosed, WebSocketConnection

from wearstream.entrypoints.broker import BrokerSettings, RunningBroker, serve_broker
from wearstream.entrypoints.state import NewDeveloper, create_developer


@pytest.fixture
async def running(nursery: trio.Nursery) -> RunningBroker:
    return await nursery.start(serve_broker, BrokerSettings(port=0, http_port=0))


@pytest.fixture
async def developer(running: RunningBroker) -> NewDeveloper:
    return await create_developer(running.stores.developers, "metrics-tests")


async def mint(running: RunningBroker, developer: NewDeveloper, path: str) -> str:
    headers = {"dev-id": developer.dev_id, "x-api-key": developer.api_key}
    async with httpx.AsyncClient(base_url=running.api_url) as client:
        response = await client.post(path, headers=headers)
    response.raise_for_status()
    return str(response.json()["token"])


async def receive(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(5):
        return dict(orjson.loads(await ws.get_message()))


async def send(ws: WebSocketConnection, frame: dict[str, Any]) -> None:
    await ws.send_message(orjson.dumps(frame).decode())


async def identify(ws: WebSocketConnection, token: str, role: int) -> dict[str, Any]:
    """HELLO, IDENTIFY, and the answer: READY, or ``{"close": code}``."""
    await receive(ws)
    await send(ws, {"op": 3, "d": {"token": token, "type": role}})
    try:
        return await receive(ws)
    except ConnectionClosed as closed:
        return {"close": closed.reason.code}


async def scrape(running: RunningBroker) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, by name and label set."""
    async with httpx.AsyncClient(base_url=running.api_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
