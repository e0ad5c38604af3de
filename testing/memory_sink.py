"""An in-memory SampleSink: what tests and the library stream use where no real sink is wanted.

It keeps every payload and its cursor in lists, and can be told to fail the next writes, so a test
can check that a consumer commits nothing it has not stored.
"""

from __future__ import annotations

from typing import Sequence

import attrs

from ..domain.stream import Payload


class SinkWriteFailed(Exception):
    """Raised by MemorySink.write while ``fail_writes`` is above zero."""


@attrs.define
class MemorySink:
    """Stores payloads in ``payloads`` and the committed cursor in ``cursor``; a write is atomic
    (it fails before changing anything). ``writes`` counts the calls, batches included."""

    payloads: list[Payload] = attrs.field(factory=list)
    cursor: int = 0
    writes: int = 0
    fail_writes: int = 0
    opened: bool = False
    closed: bool = False

    async def open(self) -> int:
        self.opened = True
        self.closed = False
        return self.cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        if not self.opened or self.closed:
            raise RuntimeError("MemorySink.write before open() or after aclose()")
        if self.fail_writes > 0:
            self.fail_writes -= 1
            raise SinkWriteFailed("MemorySink told to fail this write")
        seqs = [p.seq for p in payloads]
        if seqs != sorted(set(seqs)) or (seqs and seqs[0] <= self.cursor):
            raise ValueError(f"payloads must be ascending and above the cursor {self.cursor}: {seqs}")
        if cursor < self.cursor or (seqs and cursor < seqs[-1]):
            raise ValueError(f"cursor {cursor} would move back or below the last seq written")
        self.payloads.extend(payloads)
        self.cursor = cursor
        self.writes += 1

    async def aclose(self) -> None:
        self.closed = True

    @property
    def seqs(self) -> list[int]:
        return [p.seq for p in self.payloads]
