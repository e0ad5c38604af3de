"""Streams: the ordered log of one developer's payloads, and replay ranges over it.

Sequence numbers are per developer, strictly increasing and never reused; gaps are allowed and
mean nothing. A Stream only allocates numbers; keeping payloads is the StreamLog port's job.
"""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ReplayRangeError
from .integers import INT64_MAX, lenient_int


@attrs.frozen
class SubmitKey:
    """A producer's idempotency key (extension): ``source`` names one outbox, ``counter`` grows."""

    source: str
    counter: int


# Not frozen, unlike its neighbours: one is made per reading, and attrs' frozen __init__ costs
# 2-3 times as much (docs/benchmarks.md, "Fewer instructions per reading"). Nothing assigns to one.
@attrs.define
class Payload:
    """One numbered reading of a developer's stream, as dispatched to consumers."""

    developer_id: str
    seq: int
    uid: str
    t: str
    d: dict[str, Any]
    synthetic: bool = False
    key: SubmitKey | None = None


@attrs.define
class Stream:
    """Allocates the next sequence number of one developer's stream."""

    developer_id: str
    last_seq: int = 0

    def append(
        self,
        uid: str,
        t: str,
        d: dict[str, Any],
        *,
        synthetic: bool = False,
        key: SubmitKey | None = None,
    ) -> Payload:
        self.last_seq += 1
        return Payload(self.developer_id, self.last_seq, uid, t, d, synthetic, key)


@attrs.frozen
class ReplayRange:
    """Exclusive sequence bounds: ``ReplayRange(28, 43)`` covers 29 … 42."""

    after: int
    before: int

    @classmethod
    def from_wire(cls, d: object) -> "ReplayRange":
        """The range a REPLAY's ``d`` asks for. Bounds may come as integers, integral floats
        (``28.0``) or decimal strings (``"28"``); ReplayRangeError says why anything else (a
        missing bound included: Terra replays nothing without ``before``) replays nothing."""
        if not isinstance(d, dict):
            raise ReplayRangeError("REPLAY needs d with after and before: nothing replayed")
        bounds = []
        for name in ("after", "before"):
            value = d.get(name)
            if value is None:
                raise ReplayRangeError(f"REPLAY without d.{name} replays nothing")
            number = lenient_int(value)
            if number is None:
                raise ReplayRangeError(f"REPLAY d.{name} must be an integer: nothing replayed")
            if not 0 <= number <= INT64_MAX:
                raise ReplayRangeError(
                    f"REPLAY d.{name} must be between 0 and 2**63-1: nothing replayed"
                )
            bounds.append(number)
        return cls(*bounds)

    @property
    def first(self) -> int:
        return self.after + 1

    @property
    def last(self) -> int:
        return self.before - 1

    @property
    def empty(self) -> bool:
        return self.before <= self.after + 1

    def __contains__(self, seq: int) -> bool:
        return self.after < seq < self.before

    def clamp(self, last_seq: int) -> "ReplayRange":
        """The same range, ending no later than just after ``last_seq``."""
        return ReplayRange(self.after, min(self.before, last_seq + 1))
