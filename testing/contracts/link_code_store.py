"""The LinkCodeStore contract: producer links, spent at most once even under concurrency."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

import pytest
import trio

from ...domain.producer_links import LinkCode
from ...ports.storage import LinkCodeStore

TTL = timedelta(minutes=15)


def link(code: str = "code-1", developer_id: str = "dev_1", user_id: str = "u1", *, now: datetime | None = None) -> LinkCode:
    # Minted at the real time, so that a store which forgets expired links by itself (a Redis
    # TTL, a periodic purge) keeps them for the test's few milliseconds.
    return LinkCode.mint(code, developer_id, user_id, now or datetime.now(timezone.utc), TTL)


class LinkCodeStoreContract(abc.ABC):
    """Subclass as ``Test…`` and implement ``make_links``; set ``persistent`` if durable."""

    persistent: bool = False

    @abc.abstractmethod
    async def make_links(self, path: Path) -> LinkCodeStore:
        """A store keeping its files (if any) under the existing directory ``path``."""

    async def close(self, store: LinkCodeStore) -> None:
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()

    @pytest.fixture
    async def links(self, tmp_path: Path) -> AsyncIterator[LinkCodeStore]:
        store = await self.make_links(tmp_path)
        try:
            yield store
        finally:
            await self.close(store)

    async def test_a_link_reads_back_exactly_once(self, links: LinkCodeStore) -> None:
        put = link()
        await links.put(put)
        got = await links.redeem("code-1")
        assert got == put
        assert got is not None and got.expires_at.utcoffset() == timedelta(0)
        assert await links.redeem("code-1") is None

    async def test_an_unknown_code_is_none(self, links: LinkCodeStore) -> None:
        assert await links.redeem("never-issued") is None

    async def test_redeeming_one_link_leaves_the_others(self, links: LinkCodeStore) -> None:
        put = [link(f"code-{n}", user_id=f"u{n}") for n in range(3)]
        for each in put:
            await links.put(each)
        assert await links.redeem("code-1") == put[1]
        assert await links.redeem("code-0") == put[0]
        assert await links.redeem("code-2") == put[2]

    async def test_a_duplicate_code_is_refused_and_the_first_kept(self, links: LinkCodeStore) -> None:
        await links.put(link("same", user_id="first"))
        with pytest.raises(KeyError):
            await links.put(link("same", user_id="second"))
        got = await links.redeem("same")
        assert got is not None and got.user_id == "first"

    async def test_an_expired_link_is_still_handed_out_for_check_to_refuse(self, links: LinkCodeStore) -> None:
        old = link("old", now=datetime.now(timezone.utc) - TTL - timedelta(seconds=1))
        await links.put(old)
        assert await links.redeem("old") == old

    async def test_concurrent_redeems_of_one_link_have_exactly_one_winner(self, links: LinkCodeStore) -> None:
        put = link()
        await links.put(put)
        winners: list[LinkCode] = []

        async def redeem() -> None:
            got = await links.redeem("code-1")
            if got is not None:
                winners.append(got)

        async with trio.open_nursery() as nursery:
            for _ in range(16):
                nursery.start_soon(redeem)
        assert winners == [put]

    @pytest.fixture
    def persistent_only(self) -> None:
        if not self.persistent:
            pytest.skip("this store keeps nothing once closed (persistent = False)")

    async def test_reopening_keeps_links_not_yet_redeemed(self, tmp_path: Path, persistent_only: None) -> None:
        store = await self.make_links(tmp_path)
        try:
            kept = link("kept")
            await store.put(kept)
            await store.put(link("used"))
            assert await store.redeem("used") is not None
        finally:
            await self.close(store)
        store = await self.make_links(tmp_path)
        try:
            assert await store.redeem("used") is None
            assert await store.redeem("kept") == kept
        finally:
            await self.close(store)
