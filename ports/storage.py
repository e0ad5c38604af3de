"""Broker-side storage ports: the replayable stream log, developers, single-use tokens and
producer links.

Every adapter of a port here passes the same contract suite (wearstream.testing.contracts).

Two kinds of log. An embedded log (memory, SQLite) has one broker process writing it: the hub
numbers payloads itself and appends them with their seqs (``StreamLog.append``), which keeps the
hot path free of round trips. A shared log (Redis) is written by several broker nodes at once, so
it numbers payloads itself, atomically (``SharedStreamLog.append_new``), tells every node what the
others appended (``follow``), and holds the consumer leases that make the consumer cap hold across
nodes (``ConsumerLeases``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Collection, Mapping, Protocol, Sequence, runtime_checkable

import attrs

from ..domain.identity import Developer, Token
from ..domain.producer_links import LinkCode
from ..domain.stream import Payload, ReplayRange, SubmitKey


class StorageUnavailable(Exception):
    """The backend cannot store right now, for a reason outside the request: a full disk, a
    write lock another process holds longer than the busy timeout, a Redis out of memory or
    refusing writes. Nothing of the failed call was stored; the same call may succeed later.

    Every store of this module raises it (and nothing storage-specific) for such conditions, so
    that the broker can refuse new work, keep serving what is stored, and retry."""


@attrs.frozen
class Retention:
    """How much of each developer's log to keep: payloads younger than ``max_age`` and/or the
    newest ``max_length``; None means no limit of that kind. Age counts from when the payload was
    stored (the broker's clock for embedded logs, the Redis server's for Redis)."""

    max_age: timedelta | None = None
    max_length: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.max_age is not None and self.max_age <= timedelta(0):
            raise ValueError(f"retention age must be positive, got {self.max_age}")
        if self.max_length is not None and (
            not isinstance(self.max_length, int) or self.max_length < 1
        ):
            raise ValueError(f"retention length must be a positive integer, got {self.max_length!r}")

    @property
    def unlimited(self) -> bool:
        return self.max_age is None and self.max_length is None


class StreamLog(Protocol):
    """The per-developer log of payloads, in seq order, readable by exclusive ranges.

    ``commit_window`` (seconds) is how long the hub's writer may gather readings into one
    ``append`` after the first arrives: a log whose every call costs a commit or a round trip
    (SQLite, Redis) says a few milliseconds, so that at 1,000 producers × 1 Hz one call stores
    many readings instead of one; a log in memory says 0 (no wait)."""

    commit_window: float

    async def append(self, payloads: Sequence[Payload]) -> None:
        """Store a batch (any developers); durable on return.

        Raises ValueError, storing nothing of the batch, when a developer's seqs in it do not
        rise strictly above what is stored (or are not positive integers), and
        StorageUnavailable, storing nothing, when the backend cannot store now.
        """
        ...

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        """At most ``limit`` payloads with ``rng.after < seq < rng.before``, ascending."""
        ...

    async def last_seq(self, developer_id: str) -> int:
        """The highest seq ever stored for this developer, 0 when none (retention keeps it)."""
        ...

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        """The highest idempotency counter stored per (user id, key source), for dedupe."""
        ...

    async def trim(self, retention: Retention, now: datetime) -> int:
        """Remove, from every developer's log, what ``retention`` no longer keeps at ``now``;
        returns how many payloads went. ``last_seq`` and ``last_keys`` are not affected."""
        ...

    async def trimmed_upto(self, developer_id: str) -> int:
        """Every payload with a seq up to this one was removed by retention (0: none was).

        A REPLAY that starts at or below it is told that part of its range is gone."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class AppendsNow(Protocol):
    """A log that stores without I/O (in memory): ``append_now`` is ``append`` that never waits,
    with its rules and errors. The broker then appends in the producer's own task with no
    coroutine per call (the hub's inline path, adapters/websocket/writer.py); a log that must
    wait for anything leaves this out and is written by the hub's writer task."""

    def append_now(self, payloads: Sequence[Payload]) -> None: ...


@attrs.frozen
class Submission:
    """A reading not yet numbered: what a shared log numbers and stores."""

    developer_id: str
    uid: str
    t: str
    d: dict[str, Any]
    key: SubmitKey | None = None
    synthetic: bool = False


@runtime_checkable
class SharedStreamLog(StreamLog, Protocol):
    """A log several broker nodes write at once: it allocates the seqs itself."""

    async def append_new(
        self, submissions: Sequence[Submission], floors: dict[str, int]
    ) -> list[Payload | None]:
        """Number and store a batch atomically, in order; durable on return.

        Each submission gets its developer's next seq, the same on every node. A submission with
        a ``key`` whose counter is not above the highest stored for its (developer, user, source)
        is a resend: it is not stored and its slot in the result is None. ``floors`` gives, per
        developer, the highest seq this node has seen: new seqs are always above it, so that a
        backend that lost its newest writes (a restarted Redis) never hands out a seq twice.
        """
        ...

    async def follow(
        self,
        positions: Callable[[], Mapping[str, int]],
        deliver: Callable[[list[Payload]], None],
    ) -> None:
        """Hand ``deliver`` everything appended (by any node) to the developers in
        ``positions()`` after the seq given there for each, in seq order per developer.

        ``positions`` is asked again before every read, so the caller adds and drops developers
        (and moves positions) as it goes. Runs until cancelled and rides out a backend that is
        briefly unreachable.
        """
        ...


class ConsumerLeases(Protocol):
    """Consumer slots per developer shared by every node, so the consumer cap holds across nodes.

    A lease expires ``ttl`` after its last renewal, so a node that dies frees its slots.
    """

    ttl: timedelta

    async def acquire(self, developer_id: str, holder: str, cap: int) -> bool:
        """Take a slot for ``holder`` unless ``cap`` live leases are held; False when full."""
        ...

    async def renew(self, leases: Sequence[tuple[str, str]]) -> None:
        """Extend the (developer id, holder) leases this node holds."""
        ...

    async def release(self, developer_id: str, holder: str) -> None: ...


class DeveloperStore(Protocol):
    async def add(self, developer: Developer) -> None:
        """Store a new developer; raises KeyError when the id exists."""
        ...

    async def get(self, developer_id: str) -> Developer | None: ...

    async def list(self) -> list[Developer]:
        """Every developer, oldest first (ties by id)."""
        ...

    async def revoke(self, developer_id: str) -> bool:
        """Mark revoked; False when unknown."""
        ...

    async def revoked_among(self, developer_ids: Collection[str]) -> set[str]:
        """Those of ``developer_ids`` that are revoked (unknown ids are not), in one cheap call:
        every broker asks it about its connected developers about twice a second, so that a
        revocation made anywhere (another process, another node) ends their sessions."""
        ...


class TokenStore(Protocol):
    async def put(self, token: Token) -> None:
        """Store a new token; raises KeyError when the value exists (a grant is never replaced)."""
        ...

    async def peek(self, value: str) -> Token | None:
        """The token, left in place: IDENTIFY checks a token with this and spends it with
        ``take`` only once the session is admitted, so a refusal that is not the token's fault
        (the consumer cap) leaves it usable for its lifetime."""
        ...

    async def take(self, value: str) -> Token | None:
        """Remove and return the token: whoever takes it first gets it, nobody gets it twice."""
        ...


class LinkCodeStore(Protocol):
    """Producer links (domain/producer_links.py): stored when minted, spent when redeemed."""

    async def put(self, link: LinkCode) -> None:
        """Store a new link; raises KeyError when the code exists (a grant is never replaced)."""
        ...

    async def redeem(self, code: str) -> LinkCode | None:
        """Remove and return the link: whoever redeems it first gets it, nobody gets it twice.
        An expired link is still handed out (``LinkCode.check`` refuses it) until the store
        forgets it, some grace time after it expired."""
        ...
