"""The kit's in-memory shared backend passes the suites Redis passes (shared log, consumer
leases), and those suites fail a log or a lease table that breaks the ports' rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from wearstream.domain.stream import Payload
from wearstream.ports.storage import ConsumerLeases, SharedStreamLog, Submission
from wearstream.testing.contracts.shared_log import ConsumerLeasesContract, SharedStreamLogContract
from wearstream.testing.fake_shared import MemoryConsumerLeases, MemorySharedLog, SharedMemory

_backends: dict[Path, SharedMemory] = {}


def backend(path: Path) -> SharedMemory:
    """One backend per test directory: ``make_node(path)`` twice gives two clients of it."""
    return _backends.setdefault(path, SharedMemory())


class TestMemorySharedLog(SharedStreamLogContract):
    async def make_node(self, path: Path) -> SharedStreamLog:
        return backend(path).log()


class TestMemoryConsumerLeases(ConsumerLeasesContract):
    async def make_leases(self, path: Path, ttl: float) -> ConsumerLeases:
        return backend(path).leases(ttl)


# Broken backends: the suites must fail each ---------------------------------------------------


class NodeLocalSeqs(MemorySharedLog):
    """Numbers from its own counter, as a per-process Stream would: nodes collide."""

    def __init__(self, backend: SharedMemory) -> None:
        super().__init__(backend)
        self.given: dict[str, int] = {}

    async def append_new(
        self, submissions: list[Submission], floors: dict[str, int]  # type: ignore[override]
    ) -> list[Payload | None]:
        result: list[Payload | None] = []
        for s in submissions:
            seq = self.given[s.developer_id] = self.given.get(s.developer_id, 0) + 1
            result.append(Payload(s.developer_id, seq, s.uid, s.t, s.d, s.synthetic, s.key))
        return result


class ForgetsResends(MemorySharedLog):
    async def append_new(
        self, submissions: list[Submission], floors: dict[str, int]  # type: ignore[override]
    ) -> list[Payload | None]:
        unkeyed = [Submission(s.developer_id, s.uid, s.t, s.d) for s in submissions]
        return await super().append_new(unkeyed, floors)


class NoCap(MemoryConsumerLeases):
    async def acquire(self, developer_id: str, holder: str, cap: int) -> bool:
        return await super().acquire(developer_id, holder, cap + 100)


class NeverExpires(MemoryConsumerLeases):
    async def acquire(self, developer_id: str, holder: str, cap: int) -> bool:
        await self.renew([(d, h) for d, held in self.backend.holders.items() for h in held])
        return await super().acquire(developer_id, holder, cap)


async def test_a_log_numbering_per_node_fails(tmp_path: Path) -> None:
    class Suite(SharedStreamLogContract):
        async def make_node(self, path: Path) -> SharedStreamLog:
            return NodeLocalSeqs(backend(path))

    suite = Suite()
    a, b = await suite.make_node(tmp_path), await suite.make_node(tmp_path)
    with pytest.raises(AssertionError):
        await suite.test_seqs_continue_from_the_log_on_every_node((a, b))


async def test_a_log_that_stores_resends_fails(tmp_path: Path) -> None:
    class Suite(SharedStreamLogContract):
        async def make_node(self, path: Path) -> SharedStreamLog:
            return ForgetsResends(backend(path))

    suite = Suite()
    a, b = await suite.make_node(tmp_path), await suite.make_node(tmp_path)
    with pytest.raises(AssertionError):
        await suite.test_a_resend_is_dropped_whichever_node_gets_it((a, b))


async def test_leases_without_a_cap_fail(tmp_path: Path) -> None:
    class Suite(ConsumerLeasesContract):
        async def make_leases(self, path: Path, ttl: float) -> ConsumerLeases:
            return NoCap(backend(path), ttl)

    with pytest.raises(AssertionError):
        await Suite().test_the_cap_holds_across_nodes_and_a_release_frees_a_slot(tmp_path)


async def test_leases_that_never_expire_fail(tmp_path: Path) -> None:
    class Suite(ConsumerLeasesContract):
        async def make_leases(self, path: Path, ttl: float) -> ConsumerLeases:
            return NeverExpires(backend(path), ttl)

    with pytest.raises(AssertionError):
        await Suite().test_a_lease_not_renewed_expires(tmp_path)
