"""Fixtures for the producer tests: a real broker in this process (serve_broker on 127.0.0.1 port
0, memory stores), one developer, a plain WebSocket consumer, and samples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import attrs
import httpx
import orjson
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from wearstream.domain.identity import Role
from wearstream.domain.samples import Sample
from wearstream.entrypoints.broker import BrokerSettings, RunningBroker, serve_broker
from wearstream.entrypoints.state import create_developer

T0 = datetime(2024, 5, 4, 10, 26, 11, tzinfo=timezone.utc)
USER = "user-1"
RECV_TIMEOUT = 10.0


def hr(n: int, device: str = "sim:hr") -> Sample:
    """The n-th heart-rate sample; its value and timestamp both identify it."""
    return Sample("HEART_RATE", T0 + timedelta(milliseconds=20 * n), 60 + n % 100, USER, device)


@attrs.frozen
class LiveBroker:
    running: RunningBroker
    dev_id: str
    api_key: str

    @property
    def url(self) -> str:
        return self.running.ws_url

    @property
    def api_url(self) -> str:
        return self.running.api_url

    async def mint(self, path: str = "/auth/user", user: str | None = USER) -> str:
        params = {"id": user} if path == "/auth/user" else None
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                self.api_url + path, params=params,
                headers={"dev-id": self.dev_id, "x-api-key": self.api_key},
            )
        response.raise_for_status()
        return response.json()["token"]

    def producer_connections(self) -> list[Any]:
        return [
            c for c in self.running.broker.connections
            if c.principal is not None and c.principal.role is Role.PRODUCER
        ]


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    settings = BrokerSettings(port=0, http_port=0)
    running: RunningBroker = await nursery.start(serve_broker, settings)
    created = await create_developer(running.stores.developers, "producer tests")
    return LiveBroker(running, created.dev_id, created.api_key)


class Consumer:
    """A plain Terra consumer: IDENTIFY type 1, then collect DISPATCH frames."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def collect(self, count: int) -> list[dict[str, Any]]:
        """Wait until ``count`` payloads in all have arrived; returns them all."""
        with trio.fail_after(RECV_TIMEOUT):
            while len(self.received) < count:
                frame = orjson.loads(await self.ws.get_message())
                if frame["op"] == 5:
                    self.received.append(frame)
        return self.received


@pytest.fixture
async def consumer(broker: LiveBroker) -> AsyncIterator[Consumer]:
    token = await broker.mint("/auth/developer", None)
    async with open_websocket_url(broker.url) as ws:
        assert orjson.loads(await ws.get_message())["op"] == 2
        await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": 1}}).decode())
        assert orjson.loads(await ws.get_message())["op"] == 4
        yield Consumer(ws)
