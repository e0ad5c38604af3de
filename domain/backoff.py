"""Reconnect policy: exponential backoff with full jitter, as a pure value.

Producers and consumers both reconnect after drops. Full jitter (a uniform delay between 0 and the
exponential cap) spreads a fleet of clients that lost the same broker, so they do not come back in
one wave; the random source is passed in so that tests are deterministic.
"""

from __future__ import annotations

import random

import attrs


@attrs.define
class Backoff:
    """``next_delay()`` after each failure, ``reset()`` after a connection that worked."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    rng: random.Random = attrs.field(factory=random.Random)
    attempts: int = 0

    def next_delay(self) -> float:
        cap = min(self.maximum, self.initial * self.factor**self.attempts)
        self.attempts += 1
        return self.rng.uniform(cap / 2, cap) if self.attempts == 1 else self.rng.uniform(0, cap)

    def reset(self) -> None:
        self.attempts = 0
