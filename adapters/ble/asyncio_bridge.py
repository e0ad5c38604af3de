"""The one bridge between trio and asyncio in wearstream: bleak (and dbus-fast) run on asyncio.

``open_asyncio_loop()`` starts an asyncio event loop in one dedicated thread, owned by a trio task
of the caller's nursery: the thread starts when the ``async with`` block is entered and has
stopped (every asyncio task cancelled and finished, the loop closed) when it is left.

- ``await bridge.run(async_fn, *args)`` runs a coroutine on the loop and waits for it from trio.
  Cancelling the trio side cancels the asyncio task and waits (shielded, bounded) for it to
  unwind, so its ``finally`` blocks (a BLE disconnect) run before trio moves on.
- ``bridge.forward_to(send_channel)`` gives asyncio-side callbacks a function that hands items to
  a bounded trio memory channel through the trio token. It never blocks the asyncio loop: a radio
  cannot be told to wait, so when the trio side is so far behind that the channel is full the
  item is dropped and counted in ``bridge.dropped`` (and logged) instead.

No trio-asyncio: the two loops never share a thread, and only this module crosses between them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import trio

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a cancelled asyncio task gets to unwind (disconnect, stop notifications) before the
# trio side stops waiting for it; the loop's shutdown cancels whatever is left.
CANCEL_GRACE_S = 5.0


class AsyncioLoop:
    """A handle on the asyncio loop of one bridge thread; valid inside ``open_asyncio_loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, token: trio.lowlevel.TrioToken) -> None:
        self._loop = loop
        self._token = token
        self.dropped = 0

    async def run(self, async_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``async_fn(*args)`` as an asyncio task and return (or raise) its outcome."""
        done = trio.Event()
        holder: list[asyncio.Task[T]] = []

        def finished(_: asyncio.Future[T]) -> None:
            self._token.run_sync_soon(done.set)

        def start() -> None:
            task = self._loop.create_task(async_fn(*args))  # type: ignore[arg-type]
            task.add_done_callback(finished)
            holder.append(task)

        self._loop.call_soon_threadsafe(start)
        try:
            await done.wait()
        finally:
            if not done.is_set():
                # call_soon_threadsafe keeps order: ``start`` has run before this cancel does.
                self._loop.call_soon_threadsafe(lambda: holder[0].cancel())
                with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_GRACE_S):
                    await done.wait()
        task = holder[0]
        if task.cancelled():
            name = getattr(async_fn, "__name__", async_fn)
            raise RuntimeError(f"{name} was cancelled on the asyncio side")
        return task.result()

    def forward_to(self, send: trio.MemorySendChannel[T]) -> Callable[[T], None]:
        """A thread-safe, never-blocking ``push(item)`` into ``send`` for asyncio callbacks."""

        def put(item: T) -> None:  # runs in the trio thread
            try:
                send.send_nowait(item)
            except trio.WouldBlock:
                self.dropped += 1
                logger.warning("trio side is behind: dropped an item (%d so far)", self.dropped)
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                pass  # the receiving side has finished: nothing wants the item any more

        def push(item: T) -> None:  # runs in the asyncio thread
            try:
                self._token.run_sync_soon(put, item)
            except trio.RunFinishedError:
                pass

        return push


def _serve(loop: asyncio.AbstractEventLoop, on_ready: Callable[[], None]) -> None:
    """The bridge thread: run the loop until stopped, then unwind and close it."""
    asyncio.set_event_loop(loop)
    try:
        loop.call_soon(on_ready)
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@asynccontextmanager
async def open_asyncio_loop() -> AsyncIterator[AsyncioLoop]:
    """Start an asyncio loop in a thread owned by this block; stop and join it on exit."""
    token = trio.lowlevel.current_trio_token()
    loop = asyncio.new_event_loop()
    ready = trio.Event()

    def on_ready() -> None:
        token.run_sync_soon(ready.set)

    async with trio.open_nursery() as nursery:
        # abandon_on_cancel=False: the trio task waits for the thread, whatever happens.
        nursery.start_soon(
            lambda: trio.to_thread.run_sync(_serve, loop, on_ready, abandon_on_cancel=False)
        )
        try:
            await ready.wait()
            yield AsyncioLoop(loop, token)
        finally:
            if not loop.is_closed():  # closed already when the thread itself failed
                loop.call_soon_threadsafe(loop.stop)
