"""A private redis-server for the Redis contract runs, started once per test session."""

from __future__ import annotations

from typing import Iterator

import pytest

from wearstream.testing.redis_server import RedisServer, redis_server_binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed (apt package redis-server): Redis backend untested")
    with RedisServer.create() as server:
        yield server
