"""The dashboard role (extension): minted over HTTP, IDENTIFY type 2, read-only, outside the cap."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from wearstream.adapters.websocket.dashboard import DashboardQueue
from wearstream.testing.fixtures import LiveBroker
from wearstream.testing.wire import identify, mint, receive, send

TS = "2024-05-04T10:26:11.268507+00:00"


async def closed_with(ws: WebSocketConnection) -> tuple[int, str]:
    with trio.fail_after(5):
        while True:
            try:
                await ws.get_message()
            except ConnectionClosed as closed:
                return closed.reason.code, closed.reason.reason or ""


async def next_of(ws: WebSocketConnection, op: int) -> dict[str, Any]:
    while (frame := await receive(ws))["op"] != op:
        pass
    return frame


async def test_the_dashboard_token_needs_the_same_credentials_as_a_consumer_token(
    broker: LiveBroker
) -> None:
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        good = await client.post(
            "/auth/dashboard", headers={"dev-id": broker.dev_id, "x-api-key": broker.api_key}
        )
        wrong = await client.post(
            "/auth/dashboard", headers={"dev-id": broker.dev_id, "x-api-key": "nope"}
        )
        missing = await client.post("/auth/dashboard")
    assert good.status_code == 200 and good.headers["cache-control"] == "no-store"
    assert len(good.json()["token"]) == 43
    assert (wrong.status_code, missing.status_code) == (403, 400)


async def test_a_dashboard_watches_beside_a_capped_consumer_and_sees_data_and_presence(
    broker: LiveBroker
) -> None:
    url = broker.ws_url
    async with open_websocket_url(url) as consumer, open_websocket_url(url) as dashboard:
        assert (await identify(consumer, await mint(broker, "/auth/developer"), 1))["op"] == 4
        assert (await identify(dashboard, await mint(broker, "/auth/dashboard"), 2))["op"] == 4
        async with open_websocket_url(url) as second:  # the cap of 1 still holds for consumers
            refused = await identify(second, await mint(broker, "/auth/developer"), 1)
            assert refused["close"] == 4002

        token = await mint(broker, "/auth/user?id=alice")
        async with open_websocket_url(url) as producer:
            assert (await identify(producer, token, 0))["op"] == 4
            online = await next_of(dashboard, 10)
            assert online["d"] == {"uid": "alice", "online": True, "devices": []}
            await send(producer, {"op": 8, "d": {"connected": True, "device_id": "strap-1"}})
            device = (await next_of(dashboard, 10))["d"]["devices"]
            assert device == [{"device_id": "strap-1", "connected": True, "source": None, "reason": None}]
            await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 61}})
            seen = await next_of(dashboard, 5)
            assert (seen["uid"], seen["t"], seen["d"]["val"]) == ("alice", "HEART_RATE", 61)
            assert (await next_of(consumer, 5))["seq"] == seen["seq"]
        offline = await next_of(dashboard, 10)
        # The devices of a producer connection go with it: a later run reports its own.
        assert offline["d"] == {"uid": "alice", "online": False, "devices": []}


async def test_a_new_dashboard_is_told_who_is_around(
    broker: LiveBroker
) -> None:
    async with open_websocket_url(broker.ws_url) as producer:
        await identify(producer, await mint(broker, "/auth/user?id=bob"), 0)
        async with open_websocket_url(broker.ws_url) as dashboard:
            await identify(dashboard, await mint(broker, "/auth/dashboard"), 2)
            assert (await next_of(dashboard, 10))["d"]["uid"] == "bob"


@pytest.mark.parametrize(
    "frame",
    [
        {"op": 7, "d": {"after": 0, "before": 10}},
        {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": 60}},
        {"op": 8, "d": {"connected": True}},
    ],
    ids=["REPLAY", "SUBMIT", "STATUS"],
)
async def test_a_dashboard_is_read_only(
    broker: LiveBroker, frame: dict[str, Any]
) -> None:
    async with open_websocket_url(broker.ws_url) as dashboard:
        await identify(dashboard, await mint(broker, "/auth/dashboard"), 2)
        await send(dashboard, frame)
        code, reason = await closed_with(dashboard)
    assert code == 4004 and "dashboard" in reason


@pytest.mark.parametrize(
    ("path", "role", "named"),
    [("/auth/dashboard", 1, "dashboard (type 2)"), ("/auth/developer", 2, "developer (type 1)")],
)
async def test_a_dashboard_token_opens_only_a_dashboard_session(
    broker: LiveBroker, path: str, role: int, named: str
) -> None:
    async with open_websocket_url(broker.ws_url) as ws:
        refused = await identify(ws, await mint(broker, path), role)
    assert refused["close"] == 4001 and named in refused["reason"]


def test_a_full_dashboard_queue_drops_instead_of_waiting() -> None:
    queue = DashboardQueue("dev", str, max_pending=2)
    for seq in range(1, 6):
        queue.offer(seq, f"frame {seq}")
    assert (queue.depth, queue.dropped) == (2, 3)


def test_a_dashboard_queue_is_bounded_in_bytes_too() -> None:
    queue = DashboardQueue("dev", str, max_bytes=1000)
    for seq in range(1, 6):
        queue.offer(seq, "x" * 400)
    assert (queue.depth, queue.dropped) == (2, 3)
