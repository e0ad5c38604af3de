"""The in-memory sink used by the consumer tests passes the sink contract like the real sinks."""

from __future__ import annotations

from pathlib import Path

from wearstream.testing.contracts.sinks import SinkContract, Stored
from wearstream.testing.memory_sink import MemoryMedium, MemorySink


class TestMemorySink(SinkContract):
    media: dict[Path, MemoryMedium] = {}

    def make_sink(self, path: Path) -> MemorySink:
        return MemorySink(self.media.setdefault(path, MemoryMedium()))

    async def stored(self, path: Path) -> list[Stored]:
        medium = self.media.get(path, MemoryMedium())
        return [(p.seq, p.uid, p.t, p.d) for p in medium.payloads]
