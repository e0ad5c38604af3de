"""Every TokenProvider (fixed, command, API for users and for the developer, and the kit's fake)
passes one contract; the contract fails providers that break it."""

from __future__ import annotations

import pytest
import trio

from wearstream.adapters.http.token_providers import (
    ApiTokenProvider,
    CommandTokenProvider,
    DeveloperTokenProvider,
    FixedTokenProvider,
)
from wearstream.ports.producer import TokenProvider
from wearstream.testing.contracts.token_provider import TokenProviderContract
from wearstream.testing.fake_tokens import FakeTokenProvider
from wearstream.testing.fixtures import start_broker


class TestFixed(TokenProviderContract):
    single_use = True

    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        return FixedTokenProvider("tok-1")

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        provider = FixedTokenProvider("tok-1")
        await provider.token()
        return provider


class TestCommand(TokenProviderContract):
    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        return CommandTokenProvider("echo tok-$$", "u1")  # each run has its own shell pid

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        return CommandTokenProvider("exit 127", "u1")  # as a command not found

    async def make_unavailable(self, nursery: trio.Nursery) -> TokenProvider:
        return CommandTokenProvider("echo backend down >&2; exit 3", "u1")


class TestApiUser(TokenProviderContract):
    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        broker = await start_broker(nursery)
        return ApiTokenProvider(broker.api_url, broker.dev_id, broker.api_key, "u1")

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        broker = await start_broker(nursery)
        return ApiTokenProvider(broker.api_url, broker.dev_id, "not-the-key", "u1")


class TestApiDeveloper(TokenProviderContract):
    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        broker = await start_broker(nursery)
        return DeveloperTokenProvider(broker.api_url, broker.dev_id, broker.api_key)

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        broker = await start_broker(nursery)
        return DeveloperTokenProvider(broker.api_url, broker.dev_id, "not-the-key")


class TestFake(TokenProviderContract):
    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        return FakeTokenProvider()

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        provider = FakeTokenProvider()
        provider.refused = "key revoked"
        return provider

    async def make_unavailable(self, nursery: trio.Nursery) -> TokenProvider:
        provider = FakeTokenProvider()
        provider.unavailable = "backend down"
        return provider


# Broken providers: the contract must fail each --------------------------------------------------


class SameToken:
    async def token(self) -> str:
        return "always-this"


class RefusalAsUnavailable(FakeTokenProvider):
    async def token(self) -> str:
        if self.refused is not None:
            self.unavailable, self.refused = self.refused, None
        return await super().token()


class Broken(TestFake):
    def __init__(self, provider: object) -> None:
        self.provider = provider

    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        return self.provider  # type: ignore[return-value]

    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        provider = RefusalAsUnavailable()
        provider.refused = "key revoked"
        return provider


async def test_a_provider_repeating_its_token_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="single use"):
        await Broken(SameToken()).test_each_call_gives_a_fresh_token(nursery)


async def test_a_refusal_reported_as_retryable_fails(nursery: trio.Nursery) -> None:
    from wearstream.domain.errors import TokenUnavailable

    with pytest.raises(TokenUnavailable):
        await Broken(SameToken()).test_refused_raises_credentials_error(nursery)
