"""A failure met by one connection closes that connection with 1011; the broker carries on."""

from __future__ import annotations

from datetime import timedelta

import orjson
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from wearstream.adapters.clock import SystemClock
from wearstream.adapters.storage.memory import MemoryDeveloperStore, MemoryStreamLog, MemoryTokenStore
from wearstream.adapters.websocket.broker import Broker
from wearstream.adapters.websocket.hub import Hub
from wearstream.domain.identity import Developer, Role, Token


class BrokenDeveloperStore(MemoryDeveloperStore):
    """The real memory store, whose lookup fails (a database gone away) for one developer."""

    async def get(self, developer_id: str) -> Developer | None:
        if developer_id == "dev_broken":
            raise OSError("database unreachable")
        return await super().get(developer_id)


async def identify(url: str, token: str) -> str:
    """IDENTIFY as a producer; the first frame after HELLO (READY), or the close code."""
    async with open_websocket_url(url) as ws:
        await ws.get_message()  # HELLO
        await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": 0}}).decode())
        try:
            return await ws.get_message()
        except ConnectionClosed as closed:
            return f"closed {closed.reason.code}"


async def test_a_store_failure_closes_one_connection_with_1011_and_others_carry_on(
    nursery: trio.Nursery,
) -> None:
    clock = SystemClock()
    tokens = MemoryTokenStore()
    hub = Hub(MemoryStreamLog())
    broker = Broker(hub, BrokenDeveloperStore(), tokens, clock)
    await nursery.start(hub.run)
    port = await nursery.start(broker.serve, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{port}/connect"
    ttl = timedelta(minutes=1)
    for value, developer in (("t-broken", "dev_broken"), ("t-good", "dev_good")):
        await tokens.put(Token.mint(value, Role.PRODUCER, developer, "alice", clock.now(), ttl))
    await broker.developers.add(Developer("dev_good", "good", "hash", clock.now()))

    assert await identify(url, "t-broken") == "closed 1011"
    ready = orjson.loads(await identify(url, "t-good"))
    assert ready["op"] == 4  # READY: the broker is still serving
