"""How the Redis log's follower gets other nodes' appends: from the payloads their append
notifications carry (no read of the log), from the log when a notification had no room for
them or leaves a gap, and never by reading back the appends of its own node."""

from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest
import trio

from wearstream.adapters.storage import redis as redis_storage
from wearstream.adapters.storage.redis import RedisStreamLog
from wearstream.domain.stream import Payload, SubmitKey
from wearstream.ports.storage import Submission
from wearstream.testing.redis_server import RedisServer

from .test_storage_redis import prefix_for


@pytest.fixture
async def nodes(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[tuple[RedisStreamLog, RedisStreamLog]]:
    a = await RedisStreamLog.open(redis_server.url, prefix=prefix_for(tmp_path))
    b = await RedisStreamLog.open(redis_server.url, prefix=prefix_for(tmp_path))
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


def submissions(first: int, count: int, *, size: int = 10) -> list[Submission]:
    """Readings with everything a payload may hold: keys, synthetic flags, text JSON escapes."""
    return [
        Submission(
            "dev_a", f"u/{n}\"é", "HEART_RATE", {"val": n, "note": "x" * size, "nested": [1, {"a": None}]},
            SubmitKey(f"outbox/{n % 3}", 10**20 + n) if n % 2 else None, synthetic=n % 5 == 0,
        )
        for n in range(first, first + count)
    ]


async def xreads(log: RedisStreamLog) -> int:
    stats = (await log.redis.execute("stats", "INFO", "commandstats")).decode()
    line = next((line for line in stats.splitlines() if line.startswith("cmdstat_xread:")), "calls=0,")
    return int(line.split("calls=", 1)[1].split(",", 1)[0])


async def follow_while(
    follower: RedisStreamLog, positions: dict[str, int], until: int, act: Callable[[], Awaitable[None]]
) -> list[Payload]:
    """``follower`` follows from ``positions`` while ``act()`` appends; returns what it delivered
    once the position reaches ``until``."""
    seen: list[Payload] = []

    def deliver(payloads: list[Payload]) -> None:
        seen.extend(payloads)
        positions["dev_a"] = payloads[-1].seq

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(follower.follow, lambda: dict(positions), deliver)
            await trio.sleep(0.2)  # subscribed and caught up
            await act()
            while positions.get("dev_a", 0) < until:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    return seen


async def test_other_nodes_appends_come_with_their_notifications(nodes: tuple[RedisStreamLog, ...]) -> None:
    a, b = nodes
    stored: list[Payload | None] = []
    reads: list[int] = []

    async def act() -> None:
        before = await xreads(b)
        for first in range(0, 40, 4):
            stored.extend(await a.append_new(submissions(first, 4), {}))
        reads.append(await xreads(b) - before)

    seen = await follow_while(b, {"dev_a": 0}, 40, act)
    assert seen == stored
    assert reads[0] <= 1  # (at most a catch-up read, once a second)


async def test_payloads_past_the_publish_limit_are_read_from_the_log(nodes: tuple[RedisStreamLog, ...]) -> None:
    a, b = nodes
    stored: list[Payload | None] = []

    async def act() -> None:
        stored.extend(await a.append_new(submissions(0, 3, size=redis_storage.PUBLISH_LIMIT // 2), {}))
        stored.extend(await a.append_new(submissions(3, 2), {}))

    seen = await follow_while(b, {"dev_a": 0}, 5, act)
    assert seen == stored


async def test_a_gap_before_the_notified_payloads_is_read_from_the_log(nodes: tuple[RedisStreamLog, ...]) -> None:
    """The follower's caller is behind what the notification carries (it was not told of the
    first appends): it gets them all, in order, from the log."""
    a, b = nodes
    early = await a.append_new(submissions(0, 3), {})
    stored: list[Payload | None] = []
    positions: dict[str, int] = {}  # not followed when the follower starts (no catch-up read)

    async def act() -> None:
        positions["dev_a"] = 0
        stored.extend(await a.append_new(submissions(3, 2), {}))

    seen = await follow_while(b, positions, 5, act)
    assert seen == [*early, *stored]


async def test_a_node_does_not_read_its_own_appends_back(nodes: tuple[RedisStreamLog, ...]) -> None:
    """What it delivers of them (a message that came in before append_new returned) is what
    append_new stored, once; the rest the caller dispatched from append_new's answer."""
    a, _ = nodes
    positions = {"dev_a": 0}
    reads: list[int] = []

    async def act() -> None:
        before = await xreads(a)
        for first in range(0, 20, 2):
            stored = await a.append_new(submissions(first, 2), dict(positions))
            positions["dev_a"] = stored[-1].seq  # type: ignore[union-attr]
        await trio.sleep(0.1)  # the notifications are in
        reads.append(await xreads(a) - before)

    delivered = await follow_while(a, positions, 20, act)
    assert len({p.seq for p in delivered}) == len(delivered) and all(p.seq <= 20 for p in delivered)
    assert reads[0] <= 1  # (at most a catch-up read, once a second)
