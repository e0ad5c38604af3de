"""An in-process broker with one developer, and producers sending chosen heart rates."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import WebSocketConnection

from wearstream.domain.overlay_token import OverlayClaims, mint_overlay_token
from wearstream.testing.fixtures import LiveBroker, start_broker

TS = "2026-12-06T10:26:11.268507+00:00"


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery, "overlay-tests", max_overlay_streams=2)


async def send_value(ws: WebSocketConnection, value: float, t: str = "HEART_RATE") -> None:
    await ws.send_message(json.dumps({"op": 6, "t": t, "d": {"ts": TS, "val": value}}))


async def overlay_token(broker: LiveBroker, user: str, **params: Any) -> str:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            broker.api_url + "/auth/overlay",
            params={"id": user, **params},
            headers={"dev-id": broker.dev_id, "x-api-key": broker.api_key},
        )
    answer.raise_for_status()
    return answer.json()["token"]


async def token_expiring(broker: LiveBroker, user: str, after: timedelta) -> str:
    """A token signed as the broker signs them, expiring ``after`` from now (past if negative)."""
    developer = await broker.running.stores.developers.get(broker.dev_id)
    assert developer is not None
    claims = OverlayClaims(broker.dev_id, user, datetime.now(timezone.utc) + after)
    return mint_overlay_token(claims, developer.key_hash)
