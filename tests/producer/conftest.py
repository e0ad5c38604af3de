"""Fixtures for the producer tests: a real broker in this process (serve_broker on 127.0.0.1 port
0, memory stores), one developer, a plain WebSocket consumer, and samples."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator

import orjson
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from wearstream.domain.identity import Role
from wearstream.domain.samples import Sample
from wearstream.testing.fixtures import LiveBroker, start_broker

T0 = datetime(2024, 5, 4, 10, 26, 11, tzinfo=timezone.utc)
USER = "user-1"
RECV_TIMEOUT = 10.0


def hr(n: int, device: str = "sim:hr") -> Sample:
    """The n-th heart-rate sample; its value and timestamp both identify it."""
    return Sample("HEART_RATE", T0 + timedelta(milliseconds=20 * n), 60 + n % 100, USER, device)


def producer_connections(broker: LiveBroker) -> list[Any]:
    """The broker's identified producer connections (to drop them from the broker's side)."""
    return [
        c for c in broker.running.broker.connections
        if c.principal is not None and c.principal.role is Role.PRODUCER
    ]


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery, "producer tests")


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
    token = await broker.developer_token()
    async with open_websocket_url(broker.ws_url) as ws:
        assert orjson.loads(await ws.get_message())["op"] == 2
        await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": 1}}).decode())
        assert orjson.loads(await ws.get_message())["op"] == 4
        yield Consumer(ws)
