"""An in-memory SampleSink, for tests of code that writes to sinks (it passes the sink contract).

The payloads and the cursor live on a ``MemoryMedium``, the in-memory stand-in for a file or a
database: a second MemorySink over the same medium is a restart. The sink can be told to fail its
next writes, so a test can check that a consumer commits nothing it has not stored.
"""

from __future__ import annotations

import json
from typing import Sequence

import attrs

from ..domain.stream import Payload
from ..ports.sinks import UnwritablePayload


class SinkWriteFailed(Exception):
    """Raised by MemorySink.write while ``fail_writes`` is above zero."""


@attrs.define
class MemoryMedium:
    """What survives a MemorySink being closed and made again: the stored payloads and cursor."""

    payloads: list[Payload] = attrs.field(factory=list)
    cursor: int = 0


@attrs.define
class MemorySink:
    """A write is atomic: it checks the whole batch before changing anything. ``writes`` counts
    the writes that stored or committed something."""

    medium: MemoryMedium = attrs.field(factory=MemoryMedium)
    fail_writes: int = 0
    writes: int = 0
    opened: bool = False
    closed: bool = False

    @property
    def payloads(self) -> list[Payload]:
        return self.medium.payloads

    @property
    def cursor(self) -> int:
        return self.medium.cursor

    @property
    def seqs(self) -> list[int]:
        return [p.seq for p in self.medium.payloads]

    async def open(self) -> int:
        self.opened, self.closed = True, False
        return self.medium.cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        if not self.opened or self.closed:
            raise RuntimeError("MemorySink.write before open() or after aclose()")
        _check(payloads, cursor)
        if self.fail_writes > 0:
            self.fail_writes -= 1
            raise SinkWriteFailed("MemorySink told to fail this write")
        fresh = [p for p in payloads if p.seq > self.medium.cursor]
        if fresh or cursor > self.medium.cursor:
            self.medium.payloads.extend(fresh)
            self.medium.cursor = max(cursor, self.medium.cursor)
            self.writes += 1

    async def aclose(self) -> None:
        self.closed = True


def _check(payloads: Sequence[Payload], cursor: int) -> None:
    """Refuse a batch the port forbids, naming the seq at fault, before anything is stored."""
    previous = None
    for payload in payloads:
        if previous is not None and payload.seq <= previous:
            raise ValueError(f"seq {payload.seq} after seq {previous}: seqs must ascend")
        previous = payload.seq
        try:
            json.dumps(payload.d, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise UnwritablePayload(payload.seq, f"d is not JSON ({error})") from None
    if previous is not None and cursor < previous:
        raise ValueError(f"cursor {cursor} is below the last seq written, {previous}")
