"""A real broker (memory, SQLite or Redis stores) with one developer, and the producer-link steps
as the page takes them: redeem the link, mint a producer token, IDENTIFY on /connect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import trio

from wearstream.testing.broker_process import clean_environment
from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.redis_server import RedisServer, redis_server_binary


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """BrokerSettings fields choosing the stores."""
    if request.param == "memory":
        yield {}
    elif request.param == "sqlite":
        yield {"data_dir": str(tmp_path / "data")}
    else:
        if redis_server_binary() is None:
            pytest.skip("redis-server is not installed (apt package redis-server)")
        with RedisServer(tmp_path / "redis") as server:
            yield {"backend": server.url}


@pytest.fixture
async def broker(nursery: trio.Nursery, backend: dict[str, Any]) -> LiveBroker:
    return await start_broker(nursery, "web-producer", **backend)


async def producer_link(broker: LiveBroker, *args: str, creds: bool = True) -> subprocess.CompletedProcess[bytes]:
    """``wearstream producer-link ARGS`` run as a user runs it (credentials from the environment)."""
    env = clean_environment()
    if creds:
        env.update(WEARSTREAM_DEV_ID=broker.dev_id, WEARSTREAM_API_KEY=broker.api_key)
    command = [sys.executable, "-m", "wearstream.entrypoints.cli", "producer-link", *args, "--api-url", broker.api_url]
    return await trio.run_process(command, env=env, capture_stdout=True, capture_stderr=True, check=False)


async def redeem(broker: LiveBroker, code: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(broker.api_url + "/produce/session", json={"link": code})


async def producer_token(broker: LiveBroker, session: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(broker.api_url + "/produce/token", headers={"Authorization": f"Bearer {session}"})


async def mint_link(broker: LiveBroker, user: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            broker.api_url + "/auth/producer-link",
            params={"id": user},
            headers={"dev-id": broker.dev_id, "x-api-key": broker.api_key},
        )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def session_for(broker: LiveBroker, user: str) -> str:
    answer = await redeem(broker, (await mint_link(broker, user))["link"])
    assert answer.status_code == 200, answer.text
    return str(answer.json()["session"])

