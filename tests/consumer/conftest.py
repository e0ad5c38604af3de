"""An in-process broker (the real one: serve_broker on 127.0.0.1 port 0, memory stores) with a
developer, and a plain WebSocket producer that submits numbered readings."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import AsyncIterator

import attrs
import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection, open_websocket_url

from wearstream.adapters.websocket.consumer_link import LinkSettings
from wearstream.entrypoints.broker import BrokerSettings, RunningBroker, serve_broker
from wearstream.entrypoints.state import create_developer

TS = "2022-05-04T10:26:11.268507+01:00"


@attrs.frozen
class LiveBroker:
    running: RunningBroker
    dev_id: str
    api_key: str

    def link_settings(self, **overrides: object) -> LinkSettings:
        settings = LinkSettings(self.running.api_url, self.running.ws_url, self.dev_id, self.api_key)
        return attrs.evolve(settings, **overrides)

    def consumers(self) -> set[object]:
        return {c for c in self.running.broker.connections if c.queue is not None}

    async def wait_new_consumer(self, old: set[object] = frozenset()) -> None:  # type: ignore[assignment]
        """Wait until a consumer other than those in ``old`` has identified."""
        with trio.fail_after(10):
            while not self.consumers() - old:
                await trio.sleep(0.01)

    async def drop_consumers(self, code: int = 1011, reason: str = "test drop") -> int:
        """Close every identified consumer connection from the broker's side."""
        closing = list(self.consumers())
        for connection in closing:
            await connection.close(code, reason)  # type: ignore[arg-type]
        return len(closing)


async def start_broker(nursery: trio.Nursery, **settings: object) -> LiveBroker:
    options = {"port": 0, "http_port": 0, **settings}
    running: RunningBroker = await nursery.start(serve_broker, BrokerSettings(**options))
    dev = await create_developer(running.stores.developers, "consumer tests")
    return LiveBroker(running, dev.dev_id, dev.api_key)


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery)


@attrs.define
class Producer:
    ws: WebSocketConnection
    user: str
    sent: int = 0

    async def submit(self, n: int, t: str = "HEART_RATE") -> None:
        """Submit ``n`` readings whose value is their running number for this producer."""
        for _ in range(n):
            self.sent += 1
            frame = {"op": 6, "t": t, "d": {"ts": TS, "val": self.sent}}
            await self.ws.send_message(json.dumps(frame))


@asynccontextmanager
async def producer(broker: LiveBroker, user: str = "u1") -> AsyncIterator[Producer]:
    """A producer identified for ``user``; it heartbeats rarely, so keep tests short."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{broker.running.api_url}/auth/user",
            params={"id": user},
            headers={"dev-id": broker.dev_id, "x-api-key": broker.api_key},
        )
        token = response.json()["token"]
    async with open_websocket_url(broker.running.ws_url) as ws:
        await ws.get_message()  # HELLO
        await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 0}}))
        await ws.get_message()  # READY
        yield Producer(ws, user)
