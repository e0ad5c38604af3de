"""Broker-side storage ports: the replayable stream log, developers and single-use tokens.

Every adapter of a port here passes the same contract suite (wearstream.testing.contracts).
"""

from __future__ import annotations

from typing import Protocol, Sequence

from ..domain.identity import Developer, Token
from ..domain.stream import Payload, ReplayRange


class StreamLog(Protocol):
    """The per-developer log of payloads, in seq order, readable by exclusive ranges."""

    async def append(self, payloads: Sequence[Payload]) -> None:
        """Store a batch (any developers, seqs increasing per developer); durable on return."""
        ...

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        """At most ``limit`` payloads with ``rng.after < seq < rng.before``, ascending."""
        ...

    async def last_seq(self, developer_id: str) -> int:
        """The highest seq ever stored for this developer, 0 when none."""
        ...

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        """The highest idempotency counter stored per (user id, key source), for dedupe."""
        ...

    async def aclose(self) -> None: ...


class DeveloperStore(Protocol):
    async def add(self, developer: Developer) -> None:
        """Store a new developer; raises KeyError when the id exists."""
        ...

    async def get(self, developer_id: str) -> Developer | None: ...

    async def list(self) -> list[Developer]: ...

    async def revoke(self, developer_id: str) -> bool:
        """Mark revoked; False when unknown."""
        ...


class TokenStore(Protocol):
    async def put(self, token: Token) -> None: ...

    async def take(self, value: str) -> Token | None:
        """Remove and return the token: whoever takes it first gets it, nobody gets it twice."""
        ...
