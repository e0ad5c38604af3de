"""Streams: the ordered log of one developer's payloads, and replay ranges over it.

Sequence numbers are per developer, strictly increasing and never reused; gaps are allowed and
mean nothing. A Stream only allocates numbers; keeping payloads is the StreamLog port's job.
"""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ReplayRangeError


@attrs.frozen
class SubmitKey:
    """A producer's idempotency key (extension): ``source`` names one outbox, ``counter`` grows."""

    source: str
    counter: int


@attrs.frozen
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
        if not isinstance(d, dict):
            raise ReplayRangeError("REPLAY needs d with after and before")
        after, before = d.get("after"), d.get("before")
        for name, value in (("after", after), ("before", before)):
            if value is None:
                raise ReplayRangeError(f"REPLAY needs d.{name}")
            if not isinstance(value, int) or isinstance(value, bool):
                raise ReplayRangeError(f"REPLAY d.{name} must be an integer")
            if value < 0:
                raise ReplayRangeError(f"REPLAY d.{name} must not be negative")
        return cls(after, before)  # type: ignore[arg-type]

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
