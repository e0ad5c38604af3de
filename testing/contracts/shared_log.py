"""The contracts of a backend shared by several broker nodes: the SharedStreamLog, the
ConsumerLeases, and tokens taken by many nodes at once.

A "node" here is one client of the backend: ``make_node(path)`` called twice on one ``path`` must
give two independent clients (own connections) of one backend, as two broker processes would have.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import trio

from ...domain.stream import Payload, ReplayRange, SubmitKey
from ...ports.storage import ConsumerLeases, SharedStreamLog, Submission, TokenStore
from .token_store import producer_token


def submission(dev: str = "dev_a", n: int = 0, *, uid: str = "u1", key: SubmitKey | None = None) -> Submission:
    return Submission(dev, uid, "HEART_RATE", {"ts": "2025-01-01T00:00:00Z", "val": n}, key)


class SharedStreamLogContract(abc.ABC):
    """Subclass as ``Test…`` and implement ``make_node``."""

    @abc.abstractmethod
    async def make_node(self, path: Path) -> SharedStreamLog:
        """A new client of the one shared log kept under ``path``."""

    @pytest.fixture
    async def nodes(self, tmp_path: Path) -> AsyncIterator[tuple[SharedStreamLog, SharedStreamLog]]:
        a = await self.make_node(tmp_path)
        try:
            b = await self.make_node(tmp_path)
            try:
                yield a, b
            finally:
                await b.aclose()
        finally:
            await a.aclose()

    async def test_seqs_continue_from_the_log_on_every_node(self, nodes: Any) -> None:
        a, b = nodes
        first = await a.append_new([submission(n=1), submission(n=2), submission("dev_b", 1)], {})
        second = await b.append_new([submission(n=3)], {})
        assert [(p.developer_id, p.seq, p.d["val"]) for p in first + second] == [
            ("dev_a", 1, 1), ("dev_a", 2, 2), ("dev_b", 1, 1), ("dev_a", 3, 3)
        ]
        got = await b.read_range("dev_a", ReplayRange(0, 10), 10)
        assert got == [p for p in first + second if p.developer_id == "dev_a"]
        assert await a.last_seq("dev_a") == 3

    async def test_two_nodes_appending_at_once_never_share_a_seq(self, nodes: Any) -> None:
        a, b = nodes
        numbered: dict[str, list[Payload]] = {"a": [], "b": []}

        async def write(name: str, log: SharedStreamLog) -> None:
            for batch in range(20):
                subs = [submission(uid=name, n=batch * 5 + i) for i in range(5)]
                numbered[name] += [p for p in await log.append_new(subs, {}) if p is not None]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(write, "a", a)
            nursery.start_soon(write, "b", b)
        seqs = sorted(p.seq for p in numbered["a"] + numbered["b"])
        assert seqs == list(range(1, 201))
        for name in "ab":  # each node's own order is kept
            assert [p.d["val"] for p in numbered[name]] == list(range(100))
            assert [p.seq for p in numbered[name]] == sorted(p.seq for p in numbered[name])
        stored = await a.read_range("dev_a", ReplayRange(0, 1000), 1000)
        assert [p.seq for p in stored] == list(range(1, 201))

    async def test_a_resend_is_dropped_whichever_node_gets_it(self, nodes: Any) -> None:
        a, b = nodes
        key = SubmitKey("outbox-1", 7)
        [stored] = await a.append_new([submission(key=key)], {})
        assert stored is not None and stored.seq == 1 and stored.key == key
        again = await b.append_new(
            [submission(key=key), submission(key=SubmitKey("outbox-1", 8)), submission(n=9)], {}
        )
        assert [None if p is None else p.seq for p in again] == [None, 2, 3]
        assert await a.last_keys("dev_a") == {("u1", "outbox-1"): 8}
        huge = SubmitKey("outbox-2", 2**70)  # counters of any size compare exactly
        assert (await a.append_new([submission(key=huge)], {}))[0] is not None
        assert (await b.append_new([submission(key=SubmitKey("outbox-2", 2**70 - 1))], {})) == [None]

    async def test_new_seqs_are_above_the_node_floor(self, nodes: Any) -> None:
        a, _ = nodes
        await a.append_new([submission()], {})
        [p] = await a.append_new([submission()], {"dev_a": 41, "dev_z": 99})
        assert p is not None and p.seq == 42
        assert await a.last_seq("dev_a") == 42

    async def test_follow_delivers_what_another_node_appends_in_order(self, nodes: Any) -> None:
        a, b = nodes
        await a.append_new([submission(n=0)], {})
        positions = {"dev_a": 1}
        seen: list[Payload] = []
        done = trio.Event()

        def deliver(payloads: list[Payload]) -> None:
            seen.extend(payloads)
            positions["dev_a"] = payloads[-1].seq
            if len(seen) >= 30:
                done.set()

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b.follow, lambda: dict(positions), deliver)
                for n in range(1, 31):
                    await a.append_new([submission(n=n), submission("dev_other", n)], {})
                await done.wait()
                nursery.cancel_scope.cancel()
        assert [(p.seq, p.d["val"]) for p in seen] == [(n + 1, n) for n in range(1, 31)]

    async def test_follow_delivers_what_was_stored_before_it_started(self, nodes: Any) -> None:
        """Nothing is appended while it follows: what it must deliver is already there (a
        notifying log must still read once on start, and after losing its notifications)."""
        a, b = nodes
        for n in range(5):
            await a.append_new([submission(n=n)], {})
        seen: list[Payload] = []
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(b.follow, lambda: {"dev_a": 2}, seen.extend)
                while len(seen) < 3:
                    await trio.sleep(0.01)
                nursery.cancel_scope.cancel()
        assert [p.seq for p in seen[:3]] == [3, 4, 5]

    async def test_follow_with_nothing_to_follow_waits(self, nodes: Any) -> None:
        _, b = nodes
        with trio.move_on_after(0.3):
            await b.follow(dict, lambda payloads: pytest.fail(f"delivered {payloads}"))


class ConsumerLeasesContract(abc.ABC):
    """Subclass as ``Test…``; ``make_leases`` twice on one path gives two nodes' clients."""

    @abc.abstractmethod
    async def make_leases(self, path: Path, ttl: float) -> ConsumerLeases:
        """A client of the leases kept under ``path``; leases expire ``ttl`` s after renewal."""

    async def close(self, leases: ConsumerLeases) -> None:
        aclose = getattr(leases, "aclose", None)
        if aclose is not None:
            await aclose()

    async def test_the_cap_holds_across_nodes_and_a_release_frees_a_slot(self, tmp_path: Path) -> None:
        a, b = await self.make_leases(tmp_path, 30), await self.make_leases(tmp_path, 30)
        try:
            assert await a.acquire("dev_1", "node-a/1", cap=1)
            assert not await b.acquire("dev_1", "node-b/1", cap=1)
            assert await b.acquire("dev_2", "node-b/2", cap=1)  # other developers unaffected
            assert await b.acquire("dev_1", "node-b/1", cap=2)  # a higher cap admits more
            await a.release("dev_1", "node-a/1")
            assert await a.acquire("dev_1", "node-a/3", cap=2)
            assert not await a.acquire("dev_1", "node-a/4", cap=2)
            assert await a.acquire("dev_1", "node-a/3", cap=2)  # a holder re-acquiring is fine
        finally:  # newest first: a client may hold a task group of the task that opened it
            await self.close(b)
            await self.close(a)

    async def test_a_lease_not_renewed_expires(self, tmp_path: Path) -> None:
        a, b = await self.make_leases(tmp_path, 0.2), await self.make_leases(tmp_path, 0.2)
        try:
            assert await a.acquire("dev_1", "dead-node/1", cap=1)
            assert await b.acquire("dev_2", "live-node/1", cap=1)
            for _ in range(4):
                await trio.sleep(0.1)
                await b.renew([("dev_2", "live-node/1")])
            assert await b.acquire("dev_1", "live-node/2", cap=1)  # the dead node's slot is free
            assert not await a.acquire("dev_2", "other/1", cap=1)  # the renewed one is still held
        finally:  # newest first: a client may hold a task group of the task that opened it
            await self.close(b)
            await self.close(a)


class SharedTokenStoreContract(abc.ABC):
    """Tokens on a shared backend: many takers on two nodes, each token handed out once."""

    @abc.abstractmethod
    async def make_tokens(self, path: Path) -> TokenStore: ...

    async def test_many_takers_on_two_nodes_take_each_token_once(self, tmp_path: Path) -> None:
        a, b = await self.make_tokens(tmp_path), await self.make_tokens(tmp_path)
        try:
            values = [f"tok-{n}" for n in range(100)]
            for value in values:
                await a.put(producer_token(value))
            taken: list[str] = []

            async def take(store: TokenStore, value: str) -> None:
                token = await store.take(value)
                if token is not None:
                    taken.append(token.value)

            async with trio.open_nursery() as nursery:
                for value in values:
                    for store in (a, b, a, b):
                        nursery.start_soon(take, store, value)
            assert sorted(taken) == sorted(values)
        finally:
            for store in (b, a):  # newest first, as above
                await store.aclose()  # type: ignore[attr-defined]
