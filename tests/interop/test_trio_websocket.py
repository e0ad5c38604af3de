"""The broker driven by trio-websocket, the client library of wearstream's own producer and
consumer links, here spoken frame by frame as a third-party client would."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from .conftest import CONSUMER, PRODUCER, Interop, check_round_trip, readings_for

pytestmark = pytest.mark.e2e

TIMEOUT_S = 5.0
HEARTBEAT = json.dumps({"op": 0})


async def recv(ws: WebSocketConnection) -> dict[str, Any]:
    with trio.fail_after(TIMEOUT_S):
        return dict(json.loads(await ws.get_message()))


async def until(ws: WebSocketConnection, op: int, acks: list[int], uid: str | None = None) -> dict[str, Any]:
    """The next frame of ``op`` (and ``uid``); HEARTBEAT_ACKs on the way are counted in acks[0]."""
    while (frame := await recv(ws))["op"] != op or (uid is not None and frame.get("uid") != uid):
        acks[0] += frame["op"] == 1
    return frame


async def mint(http: httpx.AsyncClient, broker: Interop, user: str | None = None) -> str:
    path, params = ("/auth/developer", {}) if user is None else ("/auth/user", {"id": user})
    response = await http.post(path, params=params, headers=broker.shared.headers())
    response.raise_for_status()
    return str(response.json()["token"])


async def identify(ws: WebSocketConnection, token: str, role: int, acks: list[int]) -> int:
    await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": role}}))
    frame = await recv(ws)
    while frame["op"] == 1:
        acks[0] += 1
        frame = await recv(ws)
    return int(frame["op"])


async def round_trip(broker: Interop, sent: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=broker.http_url, timeout=10) as http:
        consumer_token, producer_token = await mint(http, broker), await mint(http, broker, sent["user"])
    c_acks, p_acks = [0], [0]
    result: dict[str, Any] = {}
    async with open_websocket_url(broker.ws_url) as consumer:
        result["hello"] = await recv(consumer)
        await consumer.send_message(HEARTBEAT)
        consumer_ready = await identify(consumer, consumer_token, CONSUMER, c_acks)
        async with open_websocket_url(broker.ws_url) as producer:
            await recv(producer)
            result["ready"] = [consumer_ready, await identify(producer, producer_token, PRODUCER, p_acks)]
            for reading in sent["readings"]:
                await producer.send_message(json.dumps({"op": 6, **reading}))
            result["dispatches"] = [await until(consumer, 5, c_acks, sent["user"]) for _ in sent["readings"]]
            await producer.send_message(HEARTBEAT)
            await until(producer, 1, p_acks)
            p_acks[0] += 1
        for _ in range(3):
            await trio.sleep(0.3)
            await consumer.send_message(HEARTBEAT)
            await until(consumer, 1, c_acks)
            c_acks[0] += 1
    assert producer.closed is not None and consumer.closed is not None
    result["acks"] = [c_acks[0], p_acks[0]]
    # trio-websocket reports 1000 for a close it started, not the code echoed (the raw-socket
    # tests check the echo); the server's own close below is reported as received.
    result["closes"] = [producer.closed.code, consumer.closed.code]
    async with open_websocket_url(broker.ws_url) as again:
        await recv(again)
        await again.send_message(json.dumps({"op": 3, "d": {"token": producer_token, "type": PRODUCER}}))
        try:
            await recv(again)
        except ConnectionClosed as closed:
            result["spent"] = [closed.reason.code, closed.reason.reason]
    return result


async def test_round_trip_with_trio_websocket(broker: Interop) -> None:
    sent = readings_for("trio-websocket")
    check_round_trip(await round_trip(broker, sent), sent)
