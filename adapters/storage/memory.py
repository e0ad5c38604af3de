"""In-memory storage: the stream log, developers and tokens of a broker run without ``--data-dir``.

Everything is lost when the process ends, which is what the demo and the tests want. The classes
hold plain dicts and lists and never await anything that could block: trio runs one task at a
time, so a method that does not await is atomic, and a token is taken at most once for free.
Payloads' ``d`` dicts are kept by reference, not copied; the broker never mutates them.

A developer's payloads are kept as columns (``_DeveloperLog``), not as the ``Payload`` objects
the broker made. Why: the log is most of what a long-running broker holds, and CPython's cyclic
collector walks every object it tracks, in pauses that grow with what it walks. An attrs instance
or a tuple is tracked when made; strings, numbers and a dict of plain values (a scalar reading's
``d``) never are. Kept as ``Payload`` objects, 100 s of 5,000 readings/s made one generation-1
collection walk a million objects: a 345 ms pause every ~100 s (docs/benchmarks.md, "On an AMD
EPYC (2 vCPUs): the collector and the memory log").
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any, Collection, Sequence

import attrs

from ...domain.identity import Developer, Token
from ...domain.producer_links import LinkCode
from ...domain.stream import Payload, ReplayRange, SubmitKey
from ...ports.clock import Clock
from ...ports.storage import Retention
from ..clock import SystemClock
from .checks import check_appendable, check_limit

PURGE_EVERY = 256
"""Expired tokens are swept every this many ``put`` calls, so that unused tokens cannot pile up."""

PURGE_GRACE = timedelta(minutes=10)
"""Tokens are swept this long after they expire; until then a late take still names the expiry."""


def _key(source: str | None, counter: int) -> SubmitKey | None:
    return None if source is None else SubmitKey(source, counter)


@attrs.define
class _DeveloperLog:
    """One developer's payloads as columns, a list per field: seqs and store times for bisecting,
    and the rest of each payload (its key as source, None for none, and counter).

    Why columns (see the module's docstring): each holds plain values, which the cyclic collector
    does not track, so a reading kept adds nothing for it to walk; a payload kept as one object
    would be walked by every collection until it grew old, then by every full one."""

    seqs: list[int] = attrs.field(factory=list)
    uids: list[str] = attrs.field(factory=list)
    types: list[str] = attrs.field(factory=list)
    ds: list[dict[str, Any]] = attrs.field(factory=list)
    synthetic: list[bool] = attrs.field(factory=list)
    sources: list[str | None] = attrs.field(factory=list)
    counters: list[int] = attrs.field(factory=list)
    stored_at: list[datetime] = attrs.field(factory=list)
    last_seq: int = 0
    trimmed_upto: int = 0
    keys: dict[tuple[str, str], int] = attrs.field(factory=dict)

    def add(self, payload: Payload, now: datetime) -> None:
        key = payload.key
        self.seqs.append(payload.seq)
        self.uids.append(payload.uid)
        self.types.append(payload.t)
        self.ds.append(payload.d)
        self.synthetic.append(payload.synthetic)
        self.sources.append(None if key is None else key.source)
        self.counters.append(0 if key is None else key.counter)
        self.stored_at.append(now)
        self.last_seq = payload.seq
        if key is not None:
            slot = (payload.uid, key.source)
            self.keys[slot] = max(key.counter, self.keys.get(slot, key.counter))

    def _fields(self) -> tuple[list[Any], ...]:
        """The columns a ``Payload`` is made from, in its fields' order (all but store times)."""
        return (
            self.seqs, self.uids, self.types, self.ds, self.synthetic, self.sources, self.counters
        )

    def read(self, developer_id: str, start: int, stop: int) -> list[Payload]:
        """The payloads at positions ``start`` up to ``stop``, made again from their columns."""
        rows = zip(*(column[start:stop] for column in self._fields()))
        return [
            Payload(developer_id, seq, uid, t, d, synthetic, _key(source, counter))
            for seq, uid, t, d, synthetic, source, counter in rows
        ]

    def drop_first(self, count: int) -> int:
        """Remove the ``count`` oldest payloads (retention); returns how many went."""
        if count <= 0:
            return 0
        # Everything below the first payload kept is gone (seqs may have gaps).
        self.trimmed_upto = self.seqs[count] - 1 if count < len(self.seqs) else self.last_seq
        for column in (*self._fields(), self.stored_at):
            del column[:count]
        return count


class MemoryStreamLog:
    """The StreamLog port on lists: appends are O(1), ranges are found by bisection."""

    commit_window = 0.0

    def __init__(self, clock: Clock | None = None) -> None:
        self._logs: dict[str, _DeveloperLog] = {}
        self._clock: Clock = clock or SystemClock()

    async def append(self, payloads: Sequence[Payload]) -> None:
        self.append_now(payloads)

    def append_now(self, payloads: Sequence[Payload]) -> None:
        """``append`` without a coroutine (ports.storage.AppendsNow): nothing here waits. The
        broker's inline path calls this, not ``append``: a subclass that changes one changes both."""
        check_appendable(payloads, self._stored_upto)
        now = self._clock.now()
        for payload in payloads:
            log = self._logs.get(payload.developer_id)
            if log is None:
                log = self._logs[payload.developer_id] = _DeveloperLog()
            log.add(payload, now)

    async def read_range(self, developer_id: str, rng: ReplayRange, limit: int) -> list[Payload]:
        check_limit(limit)
        log = self._logs.get(developer_id)
        if log is None or rng.empty or limit == 0:
            return []
        start = bisect.bisect_right(log.seqs, rng.after)
        stop = bisect.bisect_left(log.seqs, rng.before, lo=start)
        return log.read(developer_id, start, min(stop, start + limit))

    def _stored_upto(self, developer_id: str) -> int:
        log = self._logs.get(developer_id)
        return 0 if log is None else log.last_seq

    async def last_seq(self, developer_id: str) -> int:
        return self._stored_upto(developer_id)

    async def last_keys(self, developer_id: str) -> dict[tuple[str, str], int]:
        log = self._logs.get(developer_id)
        return {} if log is None else dict(log.keys)

    async def trim(self, retention: Retention, now: datetime) -> int:
        removed = 0
        for log in self._logs.values():
            if retention.max_length is not None:
                removed += log.drop_first(len(log.seqs) - retention.max_length)
            if retention.max_age is not None:
                removed += log.drop_first(bisect.bisect_left(log.stored_at, now - retention.max_age))
        return removed

    async def trimmed_upto(self, developer_id: str) -> int:
        log = self._logs.get(developer_id)
        return 0 if log is None else log.trimmed_upto

    async def aclose(self) -> None:
        """Nothing to release; kept for the port."""


class MemoryDeveloperStore:
    """The DeveloperStore port on a dict keyed by developer id."""

    def __init__(self) -> None:
        self._developers: dict[str, Developer] = {}

    async def add(self, developer: Developer) -> None:
        if developer.id in self._developers:
            raise KeyError(f"developer {developer.id} already exists")
        self._developers[developer.id] = developer

    async def get(self, developer_id: str) -> Developer | None:
        return self._developers.get(developer_id)

    async def list(self) -> list[Developer]:
        """Every developer, oldest first (ties by id)."""
        return sorted(self._developers.values(), key=lambda d: (d.created_at, d.id))

    async def revoke(self, developer_id: str) -> bool:
        developer = self._developers.get(developer_id)
        if developer is None:
            return False
        self._developers[developer_id] = attrs.evolve(developer, revoked=True)
        return True

    async def revoked_among(self, developer_ids: Collection[str]) -> set[str]:
        developers = self._developers
        return {i for i in developer_ids if (d := developers.get(i)) is not None and d.revoked}


class MemoryTokenStore:
    """The TokenStore port on a dict; ``take`` pops, so a token is handed out at most once."""

    def __init__(self, clock: Clock | None = None, *, purge_every: int = PURGE_EVERY) -> None:
        self._tokens: dict[str, Token] = {}
        self._clock: Clock = clock or SystemClock()
        self._purge_every = purge_every
        self._puts = 0

    async def put(self, token: Token) -> None:
        """Store a new token; raises KeyError when the value is taken (never overwrite a grant)."""
        if token.value in self._tokens:
            raise KeyError("a token with this value already exists")
        self._tokens[token.value] = token
        self._puts += 1
        if self._puts % self._purge_every == 0:
            await self.purge_expired()

    async def peek(self, value: str) -> Token | None:
        return self._tokens.get(value)

    async def take(self, value: str) -> Token | None:
        return self._tokens.pop(value, None)

    async def purge_expired(self) -> int:
        """Drop tokens that expired more than PURGE_GRACE ago; returns how many went."""
        cutoff = self._clock.now() - PURGE_GRACE
        stale = [value for value, token in self._tokens.items() if token.expires_at < cutoff]
        for value in stale:
            del self._tokens[value]
        return len(stale)

    async def count(self) -> int:
        """How many tokens are stored (expired ones not yet purged included)."""
        return len(self._tokens)


class MemoryLinkCodeStore:
    """The LinkCodeStore port on a dict; ``redeem`` pops, so a link is spent at most once."""

    def __init__(self, clock: Clock | None = None, *, purge_every: int = PURGE_EVERY) -> None:
        self._links: dict[str, LinkCode] = {}
        self._clock: Clock = clock or SystemClock()
        self._purge_every = purge_every
        self._puts = 0

    async def put(self, link: LinkCode) -> None:
        """Store a new link; raises KeyError when the code is taken (never overwrite a grant)."""
        if link.code in self._links:
            raise KeyError("a producer link with this code already exists")
        self._links[link.code] = link
        self._puts += 1
        if self._puts % self._purge_every == 0:
            cutoff = self._clock.now() - PURGE_GRACE
            for code in [c for c, kept in self._links.items() if kept.expires_at < cutoff]:
                del self._links[code]

    async def redeem(self, code: str) -> LinkCode | None:
        return self._links.pop(code, None)

    async def count(self) -> int:
        """How many links are stored (expired ones not yet purged included)."""
        return len(self._links)
