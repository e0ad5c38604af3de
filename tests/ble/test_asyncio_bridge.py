"""The trio <-> asyncio bridge: outcomes cross, cancellation crosses, the thread is joined, and
asyncio-side callbacks never block on a full trio channel."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from wearstream.adapters.ble.asyncio_bridge import open_asyncio_loop


async def _where() -> tuple[threading.Thread, asyncio.AbstractEventLoop]:
    await asyncio.sleep(0)
    return threading.current_thread(), asyncio.get_running_loop()


async def test_run_happens_in_another_thread_whose_loop_is_closed_on_exit():
    async with open_asyncio_loop() as loop:
        thread, asyncio_loop = await loop.run(_where)
        assert thread is not threading.current_thread()
        assert asyncio_loop.is_running()
    # trio keeps idle worker threads for reuse; what matters is that the loop ran to its end
    assert asyncio_loop.is_closed()


async def _fail() -> None:
    await asyncio.sleep(0)
    raise ValueError("from asyncio")


async def test_run_raises_the_asyncio_exception():
    async with open_asyncio_loop() as loop:
        with pytest.raises(ValueError, match="from asyncio"):
            await loop.run(_fail)
        assert await loop.run(asyncio.sleep, 0, "still usable") == "still usable"


async def test_cancelling_trio_cancels_asyncio_and_waits_for_its_cleanup():
    log: list[str] = []

    async def forever() -> None:
        try:
            log.append("started")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("cancelled")
            await asyncio.sleep(0.01)  # cleanup that itself awaits, like a BLE disconnect
            log.append("cleaned up")
            raise

    async with open_asyncio_loop() as loop:
        with trio.move_on_after(0.1) as scope:
            await loop.run(forever)
        assert scope.cancelled_caught
        assert log == ["started", "cancelled", "cleaned up"]


async def test_exiting_the_block_cancels_leftover_asyncio_tasks():
    log: list[str] = []

    async def spawn() -> None:
        async def orphan() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                log.append("orphan cancelled")

        asyncio.get_running_loop().create_task(orphan())
        await asyncio.sleep(0)

    async with open_asyncio_loop() as loop:
        await loop.run(spawn)
    assert log == ["orphan cancelled"]


async def test_forward_to_delivers_in_order_and_drops_instead_of_blocking():
    send, receive = trio.open_memory_channel[int](3)

    async with open_asyncio_loop() as loop:
        push = loop.forward_to(send)

        async def burst() -> str:
            for i in range(5):
                push(i)  # the channel holds 3: two are dropped, the loop never waits
            return "done"

        assert await loop.run(burst) == "done"
        got = [receive.receive_nowait() for _ in range(3)]
        assert got == [0, 1, 2]
        assert loop.dropped == 2
        await send.aclose()
        push(99)  # after the trio side closed: ignored, not raised
        assert await loop.run(asyncio.sleep, 0, "alive") == "alive"
