"""A ``TokenProvider`` for tests: numbered tokens, or the failure the test asks for.

    tokens = FakeTokenProvider()
    await tokens.token()                  # "fake-token-1", then "fake-token-2", …
    tokens.unavailable = "backend down"   # the next calls raise TokenUnavailable("backend down")
    tokens.refused = "key revoked"        # … or CredentialsError("key revoked")

It passes ``testing/contracts/token_provider.py`` as the real providers do.
"""

from __future__ import annotations

import trio

from ..domain.errors import CredentialsError, TokenUnavailable


class FakeTokenProvider:
    def __init__(self, prefix: str = "fake-token") -> None:
        self.prefix = prefix
        self.given = 0
        self.refused: str | None = None
        self.unavailable: str | None = None

    async def token(self) -> str:
        await trio.lowlevel.checkpoint()
        if self.refused is not None:
            raise CredentialsError(self.refused)
        if self.unavailable is not None:
            raise TokenUnavailable(self.unavailable)
        self.given += 1
        return f"{self.prefix}-{self.given}"
