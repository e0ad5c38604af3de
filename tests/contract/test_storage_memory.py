"""The memory stores pass the storage contracts; plus the token purge, which is theirs alone."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from wearstream.adapters.storage.memory import (
    PURGE_GRACE,
    MemoryDeveloperStore,
    MemoryStreamLog,
    MemoryTokenStore,
)
from wearstream.domain.identity import Role, Token
from wearstream.domain.stream import Payload, ReplayRange, SubmitKey
from wearstream.testing.contracts import (
    DeveloperStoreContract,
    StreamLogContract,
    TokenStoreContract,
)
from wearstream.testing.contracts.token_store import NOW, TTL


class TestMemoryStreamLog(StreamLogContract):
    async def make_log(self, path: Path) -> MemoryStreamLog:
        return MemoryStreamLog()


class TestMemoryDeveloperStore(DeveloperStoreContract):
    async def make_developers(self, path: Path) -> MemoryDeveloperStore:
        return MemoryDeveloperStore()


class TestMemoryTokenStore(TokenStoreContract):
    async def make_tokens(self, path: Path) -> MemoryTokenStore:
        return MemoryTokenStore()


class StoppedClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


async def test_expired_tokens_are_purged_every_few_puts() -> None:
    clock = StoppedClock(NOW)
    tokens = MemoryTokenStore(clock, purge_every=4)
    for n in range(3):
        await tokens.put(Token.mint(f"old-{n}", Role.CONSUMER, "dev_1", None, NOW, TTL))
    clock.at = NOW + TTL + PURGE_GRACE + timedelta(seconds=1)
    await tokens.put(Token.mint("fresh", Role.CONSUMER, "dev_1", None, clock.at, TTL))  # 4th put
    assert await tokens.count() == 1
    assert await tokens.take("old-0") is None
    assert await tokens.take("fresh") is not None


async def test_tokens_within_the_grace_are_kept() -> None:
    clock = StoppedClock(NOW + TTL + PURGE_GRACE - timedelta(seconds=1))
    tokens = MemoryTokenStore(clock, purge_every=1)
    await tokens.put(Token.mint("late", Role.CONSUMER, "dev_1", None, NOW, TTL))
    assert await tokens.take("late") is not None


async def test_kept_scalar_payloads_leave_the_cyclic_collector_alone() -> None:
    """A broker's memory log is most of what it holds; what the collector tracks it walks, in
    pauses that grow with the log (docs/benchmarks.md, "On an AMD EPYC (2 vCPUs): the collector
    and the memory log").
    Counted with the collector off, so that none of its passes untracks anything meanwhile."""
    log = MemoryStreamLog()
    d = b'{"ts":"2026-12-07T10:00:00Z","val":72}'
    gc.collect()
    gc.disable()
    try:
        tracked_before = len(gc.get_objects())
        payloads = [
            Payload("dev_1", seq, "user-1", "HEART_RATE", orjson.loads(d),
                    key=SubmitKey("outbox-1", seq) if seq % 2 else None)
            for seq in range(1, 10_001)
        ]
        log.append_now(payloads)
        del payloads
        assert len(gc.get_objects()) - tracked_before < 100
    finally:
        gc.enable()
    replayed = await log.read_range("dev_1", ReplayRange(after=4, before=7), limit=10)
    assert [(p.seq, p.key, p.d["val"]) for p in replayed] == [
        (5, SubmitKey("outbox-1", 5), 72), (6, None, 72)
    ]
