"""The Redis stores pass the storage contracts on a real redis-server; plus what only a shared
backend promises: seqs allocated atomically across clients (nodes), resends dropped whichever
node gets them, tokens taken once under a race of two clients, consumer leases, and following
what other clients append."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest

from wearstream.adapters.storage.redis import (
    RedisConsumerLeases,
    RedisDeveloperStore,
    RedisStreamLog,
    RedisTokenStore,
)
from wearstream.testing.contracts import (
    ConsumerLeasesContract,
    DeveloperStoreContract,
    SharedStreamLogContract,
    SharedTokenStoreContract,
    StreamLogContract,
    TokenStoreContract,
)
from wearstream.testing.redis_server import RedisServer


def prefix_for(path: Path) -> str:
    """One key prefix per test directory: tests share the server, never each other's keys."""
    return "t" + hashlib.sha1(str(path).encode()).hexdigest()[:16] + ":"


_server: list[RedisServer] = []


@pytest.fixture(autouse=True, scope="module")
def _use_redis(redis_server: RedisServer) -> None:
    _server[:] = [redis_server]


class RedisContract:
    persistent = True

    @property
    def url(self) -> str:
        return _server[0].url


class TestRedisStreamLog(RedisContract, StreamLogContract):
    async def make_log(self, path: Path) -> RedisStreamLog:
        return await RedisStreamLog.open(self.url, prefix=prefix_for(path))


class TestRedisDeveloperStore(RedisContract, DeveloperStoreContract):
    async def make_developers(self, path: Path) -> RedisDeveloperStore:
        return await RedisDeveloperStore.open(self.url, prefix=prefix_for(path))


class TestRedisTokenStore(RedisContract, TokenStoreContract):
    async def make_tokens(self, path: Path) -> RedisTokenStore:
        return await RedisTokenStore.open(self.url, prefix=prefix_for(path))


class TestRedisSharedStreamLog(RedisContract, SharedStreamLogContract):
    async def make_node(self, path: Path) -> RedisStreamLog:
        return await RedisStreamLog.open(self.url, prefix=prefix_for(path))


class TestRedisConsumerLeases(RedisContract, ConsumerLeasesContract):
    async def make_leases(self, path: Path, ttl: float) -> RedisConsumerLeases:
        return await RedisConsumerLeases.open(
            self.url, prefix=prefix_for(path), ttl=timedelta(seconds=ttl)
        )


class TestRedisSharedTokenStore(RedisContract, SharedTokenStoreContract):
    async def make_tokens(self, path: Path) -> RedisTokenStore:
        return await RedisTokenStore.open(self.url, prefix=prefix_for(path))
