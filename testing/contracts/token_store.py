"""The TokenStore contract: single-use tokens, taken at most once even under concurrency."""

from __future__ import annotations

import abc
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import AsyncIterator

import pytest
import trio

from ...domain.identity import Role, Token
from ...ports.storage import TokenStore

NOW = datetime(2025, 3, 1, 12, 0, 0, 500000, tzinfo=timezone.utc)
"""A fixed time for tests that drive a store's clock themselves."""
TTL = timedelta(minutes=5)


def _now() -> datetime:
    # Tokens in the suite are minted at the real time, so that a store which drops expired
    # tokens by itself (a Redis TTL, a periodic purge) keeps them for the test's few milliseconds.
    return datetime.now(timezone.utc)


def producer_token(
    value: str = "tok-p", developer_id: str = "dev_1", user_id: str = "u1", *, now: datetime | None = None
) -> Token:
    return Token.mint(value, Role.PRODUCER, developer_id, user_id, now or _now(), TTL)


def consumer_token(
    value: str = "tok-c", developer_id: str = "dev_1", *, now: datetime | None = None
) -> Token:
    return Token.mint(value, Role.CONSUMER, developer_id, None, now or _now(), TTL)


class TokenStoreContract(abc.ABC):
    """Subclass as ``Test…`` and implement ``make_tokens``; set ``persistent`` if durable."""

    persistent: bool = False

    @abc.abstractmethod
    async def make_tokens(self, path: Path) -> TokenStore:
        """A store keeping its files (if any) under the existing directory ``path``."""

    async def close(self, store: TokenStore) -> None:
        """Release ``store``; the port has no aclose, so adapters that hold files override this."""
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()

    @pytest.fixture
    async def tokens(self, tmp_path: Path) -> AsyncIterator[TokenStore]:
        store = await self.make_tokens(tmp_path)
        try:
            yield store
        finally:
            await self.close(store)

    async def test_tokens_read_back_exactly(self, tokens: TokenStore) -> None:
        producer, consumer = producer_token(), consumer_token()
        await tokens.put(producer)
        await tokens.put(consumer)
        got_c, got_p = await tokens.take("tok-c"), await tokens.take("tok-p")
        assert (got_p, got_c) == (producer, consumer)
        assert got_p is not None and got_p.role is Role.PRODUCER and got_p.user_id == "u1"
        assert got_c is not None and got_c.role is Role.CONSUMER and got_c.user_id is None
        assert got_p.expires_at.utcoffset() == timedelta(0)

    async def test_peek_reads_without_spending(self, tokens: TokenStore) -> None:
        token = consumer_token()
        await tokens.put(token)
        assert await tokens.peek("tok-c") == token
        assert await tokens.peek("tok-c") == token
        assert await tokens.peek("never-issued") is None
        assert await tokens.take("tok-c") == token
        assert await tokens.peek("tok-c") is None

    async def test_a_token_is_taken_once(self, tokens: TokenStore) -> None:
        await tokens.put(producer_token())
        assert await tokens.take("tok-p") is not None
        assert await tokens.take("tok-p") is None

    async def test_an_unknown_token_is_none(self, tokens: TokenStore) -> None:
        assert await tokens.take("never-issued") is None

    async def test_taking_one_token_leaves_the_others(self, tokens: TokenStore) -> None:
        put = [producer_token(f"tok-{n}") for n in range(3)]
        for token in put:
            await tokens.put(token)
        assert await tokens.take("tok-1") is not None
        assert await tokens.take("tok-0") == put[0]
        assert await tokens.take("tok-2") == put[2]

    async def test_a_duplicate_value_is_refused_and_the_first_kept(self, tokens: TokenStore) -> None:
        await tokens.put(producer_token("same", user_id="first"))
        with pytest.raises(KeyError):
            await tokens.put(producer_token("same", user_id="second"))
        got = await tokens.take("same")
        assert got is not None and got.user_id == "first"

    async def test_an_expired_token_is_still_handed_out_for_check_to_refuse(
        self, tokens: TokenStore
    ) -> None:
        # Expiry is Token.check's business: the store must not turn "just expired" into "unknown"
        # (it may forget tokens some grace time after they expire; a second is within any grace).
        expired = consumer_token("old", now=_now() - TTL - timedelta(seconds=1))
        await tokens.put(expired)
        assert await tokens.take("old") == expired

    async def test_concurrent_takes_of_one_token_have_exactly_one_winner(
        self, tokens: TokenStore
    ) -> None:
        token = consumer_token()
        await tokens.put(token)
        winners: list[Token] = []

        async def take() -> None:
            token = await tokens.take("tok-c")
            if token is not None:
                winners.append(token)

        async with trio.open_nursery() as nursery:
            for _ in range(16):
                nursery.start_soon(take)
        assert winners == [token]

    async def test_concurrent_takes_of_many_tokens_hand_each_out_once(
        self, tokens: TokenStore
    ) -> None:
        values = [f"tok-{n}" for n in range(20)]
        for value in values:
            await tokens.put(producer_token(value))
        taken: list[str] = []

        async def take(value: str) -> None:
            token = await tokens.take(value)
            if token is not None:
                taken.append(token.value)

        async with trio.open_nursery() as nursery:
            for value in values * 3:
                nursery.start_soon(take, value)
        assert sorted(taken) == sorted(values)

    @pytest.fixture
    def persistent_only(self) -> None:
        """Skip, with a reason ``pytest -rs`` shows, a test this one cannot pass by design
        (a skip raised inside an async test reaches pytest without its reason)."""
        if not self.persistent:
            pytest.skip("this store keeps nothing once closed (persistent = False)")

    async def test_reopening_keeps_tokens_not_yet_taken(self, tmp_path: Path, persistent_only: None) -> None:
        store = await self.make_tokens(tmp_path)
        try:
            kept = producer_token("kept")
            await store.put(kept)
            await store.put(consumer_token("used"))
            assert await store.take("used") is not None
        finally:
            await self.close(store)
        store = await self.make_tokens(tmp_path)
        try:
            assert await store.take("used") is None
            assert await store.take("kept") == kept
        finally:
            await self.close(store)
