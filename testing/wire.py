"""The wire protocol spoken frame by frame, for tests of what the broker answers to each frame.

``LiveBroker.producer()`` and ``consumer()`` hide the protocol behind the real clients; a test of
the broker's own behaviour (a refused IDENTIFY, a read-only role, a close code) needs to send
one frame and read the next, which these helpers do with a hang guard on every read.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from .fixtures import LiveBroker

READ_TIMEOUT_S = 5.0  # a hang guard: a broker that should answer and does not fails the test


async def mint(broker: LiveBroker, path: str) -> str:
    """A token from any mint endpoint, by path: ``/auth/dashboard``, ``/auth/user?id=alice``."""
    headers = {"dev-id": broker.dev_id, "x-api-key": broker.api_key}
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        response = await client.post(path, headers=headers)
    response.raise_for_status()
    return str(response.json()["token"])


async def receive(ws: WebSocketConnection) -> dict[str, Any]:
    """The next frame, decoded."""
    with trio.fail_after(READ_TIMEOUT_S):
        return dict(orjson.loads(await ws.get_message()))


async def send(ws: WebSocketConnection, frame: dict[str, Any]) -> None:
    await ws.send_message(orjson.dumps(frame).decode())


async def identify(ws: WebSocketConnection, token: str, role: int) -> dict[str, Any]:
    """HELLO, IDENTIFY, and the answer: READY, or ``{"close": code, "reason": reason}``."""
    assert (await receive(ws))["op"] == 2
    await send(ws, {"op": 3, "d": {"token": token, "type": role}})
    try:
        return await receive(ws)
    except ConnectionClosed as closed:
        return {"close": closed.reason.code, "reason": closed.reason.reason or ""}
