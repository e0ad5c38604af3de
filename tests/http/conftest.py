"""Fixtures for the HTTP adapter tests: the real memory stores (the token store behind a recorder
that sees every put), a controllable clock, and the real API served by real hypercorn on
127.0.0.1 port 0."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Collection

import attrs
import httpx
import pytest
import trio

from wearstream.adapters.http.api import build_app
from wearstream.adapters.http.server import serve_http
from wearstream.adapters.storage.memory import MemoryDeveloperStore, MemoryTokenStore
from wearstream.domain.identity import Developer, Token, hash_api_key

NOW = datetime(2024, 5, 4, 10, 26, 11, tzinfo=timezone.utc)
TTL = timedelta(minutes=5)


@attrs.define
class FixedClock:
    at: datetime = NOW

    def now(self) -> datetime:
        return self.at


class DictDeveloperStore:
    """DeveloperStore in a dict: a fake at the port, for tests that must make the store misbehave."""

    def __init__(self) -> None:
        self.developers: dict[str, Developer] = {}

    async def add(self, developer: Developer) -> None:
        if developer.id in self.developers:
            raise KeyError(developer.id)
        self.developers[developer.id] = developer

    async def get(self, developer_id: str) -> Developer | None:
        return self.developers.get(developer_id)

    async def list(self) -> list[Developer]:
        return list(self.developers.values())

    async def revoke(self, developer_id: str) -> bool:
        developer = self.developers.get(developer_id)
        if developer is None:
            return False
        self.developers[developer_id] = attrs.evolve(developer, revoked=True)
        return True

    async def revoked_among(self, developer_ids: Collection[str]) -> set[str]:
        return {i for i in developer_ids if i in self.developers and self.developers[i].revoked}


class RecordingTokenStore:
    """The real MemoryTokenStore, recording every token put into it (what the API minted)."""

    def __init__(self, clock: FixedClock) -> None:
        self.inner = MemoryTokenStore(clock)
        self.tokens: dict[str, Token] = {}

    async def put(self, token: Token) -> None:
        await self.inner.put(token)
        self.tokens[token.value] = token

    async def peek(self, value: str) -> Token | None:
        return await self.inner.peek(value)

    async def take(self, value: str) -> Token | None:
        return await self.inner.take(value)


@attrs.frozen
class Credentials:
    dev_id: str
    api_key: str

    def headers(self) -> dict[str, str]:
        return {"dev-id": self.dev_id, "x-api-key": self.api_key}


@attrs.define
class Api:
    """A running token API and what is behind it."""

    url: str
    port: int
    developers: MemoryDeveloperStore
    tokens: RecordingTokenStore
    clock: FixedClock
    dev: Credentials
    health: dict[str, Any]

    async def add_developer(self, dev_id: str, api_key: str, *, revoked: bool = False) -> Credentials:
        await self.developers.add(Developer(dev_id, dev_id, hash_api_key(api_key), NOW, revoked))
        return Credentials(dev_id, api_key)


@pytest.fixture
async def api(nursery: trio.Nursery) -> Api:
    clock = FixedClock()
    developers, tokens = MemoryDeveloperStore(), RecordingTokenStore(clock)
    health: dict[str, Any] = {"connections": 3, "consumers": 1}
    app = build_app(developers, tokens, token_ttl=TTL, clock=clock, health=lambda: health)
    port = await nursery.start(serve_http, app, "127.0.0.1", 0)
    running = Api(f"http://127.0.0.1:{port}", port, developers, tokens, clock,
                  Credentials("", ""), health)
    running.dev = await running.add_developer("dev_test", "the-right-key")
    return running


@pytest.fixture
async def http(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=10) as client:
        yield client
