"""A backend shared by several broker nodes, in memory: fakes of ``SharedStreamLog`` and
``ConsumerLeases`` for tests of scale-out logic without Redis.

    backend = SharedMemory()
    node_a, node_b = backend.log(), backend.log()          # two nodes' clients of one log
    leases_a = backend.leases(ttl=30.0)

They keep the ports' promises (``testing/contracts/shared_log.py`` checks them against these and
against Redis): one seq sequence per developer across nodes, resends dropped whichever node gets
them, ``follow`` seeing every node's appends, a consumer cap that holds across nodes and leases
that expire. Nothing here awaits between reading and writing the shared state, and trio runs one
task at a time, so each call is atomic, as a Redis script is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

import trio

from ..adapters.storage.memory import MemoryStreamLog
from ..domain.stream import Payload, ReplayRange
from ..ports.storage import Retention, Submission

FOLLOW_PAGE = 1000


class SharedMemory:
    """The shared backend: one stream log and one lease table, any number of node clients."""

    def __init__(self) -> None:
        self.stream_log = MemoryStreamLog()
        self.holders: dict[str, dict[str, float]] = {}  # developer -> holder -> expiry (trio time)
        self.grew = trio.Event()  # set (and replaced) on every append: take it before reading

    def log(self) -> "MemorySharedLog":
        return MemorySharedLog(self)

    def leases(self, ttl: float) -> "MemoryConsumerLeases":
        return MemoryConsumerLeases(self, ttl)

    def appended(self) -> None:
        self.grew.set()
        self.grew = trio.Event()


class MemorySharedLog:
    """One node's client of the shared log (the SharedStreamLog port)."""

    commit_window = 0.0

    def __init__(self, backend: SharedMemory) -> None:
        self.backend = backend
        self._log = backend.stream_log

    async def append_new(
        self, submissions: Sequence[Submission], floors: dict[str, int]
    ) -> list[Payload | None]:
        keys: dict[str, dict[tuple[str, str], int]] = {}
        last: dict[str, int] = {}
        result: list[Payload | None] = []
        for s in submissions:
            dev = s.developer_id
            if dev not in last:
                last[dev] = max(await self._log.last_seq(dev), floors.get(dev, 0))
                keys[dev] = await self._log.last_keys(dev)
            if s.key is not None:
                slot = (s.uid, s.key.source)
                if slot in keys[dev] and s.key.counter <= keys[dev][slot]:
                    result.append(None)  # a resend of what is stored
                    continue
                keys[dev][slot] = s.key.counter
            last[dev] += 1
            result.append(Payload(dev, last[dev], s.uid, s.t, s.d, s.synthetic, s.key))
        await self._log.append([p for p in result if p is not None])
        self.backend.appended()
        return result

    async def follow(
        self,
        positions: Callable[[], Mapping[str, int]],
        deliver: Callable[[list[Payload]], None],
    ) -> None:
        while True:
            grew = self.backend.grew
            delivered = False
            for dev, after in positions().items():
                payloads = await self._log.read_range(dev, ReplayRange(after, 2**62), FOLLOW_PAGE)
                if payloads:
                    deliver(payloads)
                    delivered = True
            if not delivered:
                await grew.wait()
            await trio.lowlevel.checkpoint()

    async def append(self, payloads: Sequence[Payload]) -> None:
        await self._log.append(payloads)
        self.backend.appended()

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        return await self._log.read_range(developer_id, rng, limit)

    async def last_seq(self, developer_id: str) -> int:
        return await self._log.last_seq(developer_id)

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        return await self._log.last_keys(developer_id)

    async def trim(self, retention: Retention, now: datetime) -> int:
        return await self._log.trim(retention, now)

    async def trimmed_upto(self, developer_id: str) -> int:
        return await self._log.trimmed_upto(developer_id)

    async def aclose(self) -> None:
        """Nothing to release: the backend outlives its clients."""


class MemoryConsumerLeases:
    """One node's client of the shared lease table (the ConsumerLeases port); time is trio's."""

    def __init__(self, backend: SharedMemory, ttl: float) -> None:
        self.backend = backend
        self.ttl = timedelta(seconds=ttl)

    async def acquire(self, developer_id: str, holder: str, cap: int) -> bool:
        now = trio.current_time()
        held = self.backend.holders.setdefault(developer_id, {})
        for name in [name for name, expiry in held.items() if expiry <= now]:
            del held[name]
        if holder not in held and len(held) >= cap:
            return False
        held[holder] = now + self.ttl.total_seconds()
        return True

    async def renew(self, leases: Sequence[tuple[str, str]]) -> None:
        expiry = trio.current_time() + self.ttl.total_seconds()
        for developer_id, holder in leases:
            held = self.backend.holders.get(developer_id, {})
            if holder in held:
                held[holder] = expiry

    async def release(self, developer_id: str, holder: str) -> None:
        self.backend.holders.get(developer_id, {}).pop(holder, None)
