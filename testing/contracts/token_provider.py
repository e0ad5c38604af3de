"""The token-provider contract: what the producer and consumer links rely on from every
``TokenProvider`` (``wearstream.ports.producer``).

Subclass ``TokenProviderContract`` as ``Test…`` and implement the factories. A provider gives a
fresh single-word token per call (or, ``single_use = True``, exactly one and then
``CredentialsError``), raises ``CredentialsError`` when retrying cannot help and
``TokenUnavailable`` when it may help later; both carry a message for the user.
"""

from __future__ import annotations

import abc

import trio

from ...domain.errors import CredentialsError, TokenUnavailable
from ...ports.producer import TokenProvider


class TokenProviderContract(abc.ABC):
    single_use: bool = False
    """True for a provider that holds one token (``--token``): a second call must refuse."""

    wait_s: float = 10.0

    @abc.abstractmethod
    async def make_provider(self, nursery: trio.Nursery) -> TokenProvider:
        """A provider that can give tokens."""

    @abc.abstractmethod
    async def make_refused(self, nursery: trio.Nursery) -> TokenProvider:
        """A provider whose next call cannot succeed however often it is retried."""

    async def make_unavailable(self, nursery: trio.Nursery) -> TokenProvider | None:
        """A provider whose source is down for now; None when it has no such state."""
        return None

    async def _token(self, provider: TokenProvider) -> str:
        with trio.fail_after(self.wait_s):
            return await provider.token()

    async def test_a_token_is_one_word(self, nursery: trio.Nursery) -> None:
        token = await self._token(await self.make_provider(nursery))
        assert isinstance(token, str) and len(token.split()) == 1 and token == token.strip(), (
            f"a token is one word without blanks: {token!r}"
        )

    async def test_each_call_gives_a_fresh_token(self, nursery: trio.Nursery) -> None:
        provider = await self.make_provider(nursery)
        first = await self._token(provider)
        if self.single_use:
            try:
                second = await self._token(provider)
            except CredentialsError as error:
                assert str(error).strip()
                return
            raise AssertionError(f"a single-use provider gave a second token: {second!r}")
        second = await self._token(provider)
        assert first != second, "tokens are single use: each call must give a new one"

    async def test_refused_raises_credentials_error(self, nursery: trio.Nursery) -> None:
        provider = await self.make_refused(nursery)
        try:
            token = await self._token(provider)
        except CredentialsError as error:
            assert str(error).strip(), "CredentialsError needs a message for the user"
        else:
            raise AssertionError(f"a refused provider gave a token: {token!r}")

    async def test_unavailable_raises_token_unavailable(self, nursery: trio.Nursery) -> None:
        provider = await self.make_unavailable(nursery)
        if provider is None:
            return
        try:
            token = await self._token(provider)
        except TokenUnavailable as error:
            assert str(error).strip(), "TokenUnavailable needs a message for the user"
        else:
            raise AssertionError(f"an unavailable provider gave a token: {token!r}")
