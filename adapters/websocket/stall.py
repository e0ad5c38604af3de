"""Noticing a peer that stopped reading: a write to it that has not finished in ``timeout`` s.

A consumer or dashboard whose socket takes nothing for that long would hold its connection, its
queue and a page of the log for ever. The write itself is never cancelled (a frame cut in half
would garble the stream and the close frame after it); the watcher tells the connection, which
closes with SLOW_CONSUMER: if the peer reads again within another ``timeout`` s it still gets every
frame written so far and then the close code, else the socket is dropped.
"""

from __future__ import annotations

from typing import Awaitable, Callable

import trio

Stalled = Callable[[str], None]


class WriteWatch:
    """Times each write of one connection; ``watch`` reports the first one that takes too long."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._since: float | None = None
        self._size = 0
        self.tripped = False

    async def write(self, send: Callable[[list[str]], Awaitable[None]], frames: list[str]) -> None:
        """``send(frames)``, timed. Once a write has stalled nothing more is written (the close
        frame must be next on the wire): this waits until the connection's close cancels it."""
        await self._timed(send(frames), sum(map(len, frames)))

    async def finish(self, finish_send: Callable[[bytes], Awaitable[None]], rest: bytes) -> None:
        """``finish_send(rest)`` (what a write that did not wait left over), timed the same way."""
        await self._timed(finish_send(rest), len(rest))

    async def _timed(self, write: Awaitable[None], size: int) -> None:
        self._since, self._size = trio.current_time(), size
        try:
            await write
        finally:
            self._since = None
        if self.tripped:
            await trio.sleep_forever()

    async def watch(self, stalled: Stalled) -> None:
        """Sleep until a write has taken ``timeout`` seconds, call ``stalled(reason)``, return.

        Wakes once per ``timeout`` while writes come and go: a consumer costs one sleeping task."""
        while True:
            since = self._since
            now = trio.current_time()
            if since is not None and now - since >= self.timeout:
                self.tripped = True
                stalled(
                    f"consumer too slow: a write of {self._size} bytes waited over "
                    f"{self.timeout:g} s"
                )
                return
            await trio.sleep_until((since if since is not None else now) + self.timeout)
