"""Producer-link stores (memory, SQLite, Redis) pass the LinkCodeStore contract; plus the purge of
expired links, and a SQLite table beside the broker's schema rather than in it."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wearstream.adapters.storage.memory import PURGE_GRACE, MemoryLinkCodeStore
from wearstream.adapters.storage.redis_links import RedisLinkCodeStore
from wearstream.adapters.storage.sqlite import DB_FILENAME, SCHEMA_VERSION, SqliteTokenStore
from wearstream.adapters.storage.sqlite_links import SqliteLinkCodeStore
from wearstream.domain.producer_links import LinkCode
from wearstream.testing.contracts import LinkCodeStoreContract
from wearstream.testing.contracts.link_code_store import TTL, link
from wearstream.testing.redis_server import RedisServer

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)


class TestMemoryLinkCodeStore(LinkCodeStoreContract):
    async def make_links(self, path: Path) -> MemoryLinkCodeStore:
        return MemoryLinkCodeStore()


class TestSqliteLinkCodeStore(LinkCodeStoreContract):
    persistent = True

    async def make_links(self, path: Path) -> SqliteLinkCodeStore:
        return await SqliteLinkCodeStore.open(path / DB_FILENAME)


_server: list[RedisServer] = []


class TestRedisLinkCodeStore(LinkCodeStoreContract):
    persistent = True

    @pytest.fixture(autouse=True)
    def _use_redis(self, redis_server: RedisServer) -> None:
        _server[:] = [redis_server]

    async def make_links(self, path: Path) -> RedisLinkCodeStore:
        prefix = "t" + hashlib.sha1(str(path).encode()).hexdigest()[:16] + ":"
        return await RedisLinkCodeStore.open(_server[0].url, prefix=prefix)


class StoppedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
async def test_links_expired_past_the_grace_are_purged_every_few_puts(tmp_path: Path, kind: str) -> None:
    clock = StoppedClock(NOW)
    if kind == "memory":
        links: MemoryLinkCodeStore | SqliteLinkCodeStore = MemoryLinkCodeStore(clock, purge_every=3)
    else:
        links = await SqliteLinkCodeStore.open(tmp_path / DB_FILENAME, clock=clock, purge_every=3)
    try:
        await links.put(link("old", now=NOW))
        await links.put(link("late", now=NOW + TTL))
        clock.at = NOW + TTL + PURGE_GRACE + timedelta(seconds=1)
        await links.put(link("fresh", now=clock.at))  # the 3rd put purges
        assert await links.count() == 2
        assert await links.redeem("old") is None
        assert await links.redeem("late") is not None  # expired, but within the grace
    finally:
        if isinstance(links, SqliteLinkCodeStore):
            await links.aclose()


async def test_the_sqlite_table_sits_beside_the_broker_schema_without_changing_its_version(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    tokens = await SqliteTokenStore.open(path)
    links = await SqliteLinkCodeStore.open(path)
    try:
        await links.put(LinkCode.mint("c", "dev_1", "u1", datetime.now(timezone.utc), TTL))
    finally:
        await links.aclose()
        await tokens.aclose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert connection.execute("SELECT code, user_id FROM producer_links").fetchall() == [("c", "u1")]
