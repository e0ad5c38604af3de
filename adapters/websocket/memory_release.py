"""Handing freed memory back to the system after a connection that held much of it ended.

CPython frees the frames a big consumer queue held, but the C allocator may keep the pages;
asking it to trim is a walk over the heap, so it runs in a thread, at most once a second.
"""

from __future__ import annotations

import trio

from ..process_memory import release_freed_memory

# After a connection that held this much ends, the allocator is asked to give memory back.
RELEASE_AFTER_BYTES = 4 * 1024 * 1024


class MemoryRelease:
    """``ended(peak_bytes)`` for each queue that goes; ``run()`` trims when one held a lot."""

    def __init__(self, after_bytes: int = RELEASE_AFTER_BYTES) -> None:
        self.after_bytes = after_bytes
        self.trims = 0
        self._wanted = trio.Event()

    def ended(self, peak_bytes: int) -> None:
        if peak_bytes >= self.after_bytes:
            self._wanted.set()

    async def run(self) -> None:
        """The short wait lets the connection's tasks end and drop their last references first."""
        while True:
            await self._wanted.wait()
            await trio.sleep(0.5)
            self._wanted = trio.Event()
            await trio.to_thread.run_sync(release_freed_memory)
            self.trims += 1
            await trio.sleep(0.5)
