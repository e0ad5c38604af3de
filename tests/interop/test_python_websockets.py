"""The broker driven by Python's `websockets` (asyncio client, default options: it offers
permessage-deflate and pings every 20 s), as Terra users' Python consumers are written."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .conftest import CONSUMER, PRODUCER, Interop, check_round_trip, readings_for

pytestmark = pytest.mark.e2e

TIMEOUT_S = 5.0
HEARTBEAT = json.dumps({"op": 0})


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT_S)))


async def until(ws: ClientConnection, op: int, counts: dict[int, int], uid: str | None = None) -> dict[str, Any]:
    """The next frame of ``op`` (and ``uid``), counting the ops of the frames read before it."""
    while (frame := await recv(ws))["op"] != op or (uid is not None and frame.get("uid") != uid):
        counts[frame["op"]] = counts.get(frame["op"], 0) + 1
    return frame


async def identify(ws: ClientConnection, token: str, role: int, counts: dict[int, int]) -> int:
    await ws.send(json.dumps({"op": 3, "d": {"token": token, "type": role}}))
    frame = await recv(ws)
    while frame["op"] == 1:
        counts[1] = counts.get(1, 0) + 1
        frame = await recv(ws)
    return int(frame["op"])


async def round_trip(broker: Interop, sent: dict[str, Any]) -> dict[str, Any]:
    dev = broker.shared
    consumer_token, producer_token = broker.mint(dev), broker.mint(dev, sent["user"])
    c_counts: dict[int, int] = {}
    p_counts: dict[int, int] = {}
    result: dict[str, Any] = {}
    async with connect(broker.ws_url, ssl=broker.client_ssl()) as consumer:
        result["hello"] = await recv(consumer)
        await consumer.send(HEARTBEAT)  # at HELLO, before IDENTIFY, as Terra clients do
        consumer_ready = await identify(consumer, consumer_token, CONSUMER, c_counts)
        async with connect(broker.ws_url, ssl=broker.client_ssl()) as producer:
            await recv(producer)
            result["ready"] = [consumer_ready, await identify(producer, producer_token, PRODUCER, p_counts)]
            for reading in sent["readings"]:
                await producer.send(json.dumps({"op": 6, **reading}))
            result["dispatches"] = [await until(consumer, 5, c_counts, sent["user"]) for _ in sent["readings"]]
            await producer.send(HEARTBEAT)
            await until(producer, 1, {})
            p_counts[1] = p_counts.get(1, 0) + 1
        producer_close = producer.close_code
        for _ in range(3):
            await asyncio.sleep(0.3)
            await consumer.send(HEARTBEAT)
            await until(consumer, 1, c_counts)
            c_counts[1] += 1
    result["acks"] = [c_counts.get(1, 0), p_counts.get(1, 0)]
    result["closes"] = [producer_close, consumer.close_code]
    async with connect(broker.ws_url, ssl=broker.client_ssl()) as again:
        await recv(again)
        await again.send(json.dumps({"op": 3, "d": {"token": producer_token, "type": PRODUCER}}))
        try:
            await asyncio.wait_for(again.recv(), TIMEOUT_S)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "the server closed without a close frame"
            result["spent"] = [closed.rcvd.code, closed.rcvd.reason]
    return result


def test_round_trip_with_python_websockets(any_broker: Interop) -> None:
    sent = readings_for("websockets")
    check_round_trip(asyncio.run(round_trip(any_broker, sent)), sent)
