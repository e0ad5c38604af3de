"""Coalescing a consumer's live frames (``--coalesce``): one after a quiet spell leaves at once,
ones that come densely share one write at the end of the window, and 0 turns it off.

Time here is trio's MockClock: it moves only when the test moves it, so what is asserted is which
frames share a write, never how long anything took.
"""

from __future__ import annotations

import trio
import trio.testing

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.consumer_queue import ConsumerQueue
from wearstream.adapters.websocket.hub import Hub
from wearstream.domain.limits import HubLimits


class Socket:
    """A consumer's socket that keeps each write (a list of frames)."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []

    async def send(self, frames: list[str]) -> None:
        self.writes.append(frames)


async def consumer(nursery: trio.Nursery, coalesce: float) -> tuple[ConsumerQueue, Socket]:
    hub = Hub(MemoryStreamLog(), limits=HubLimits(coalesce=coalesce))
    await hub.open_developer("dev")
    queue = hub.add_consumer("dev")
    assert queue is not None
    socket = Socket()
    nursery.start_soon(queue.run, socket.send)
    await trio.testing.wait_all_tasks_blocked()
    return queue, socket


async def offer(queue: ConsumerQueue, *seqs: int) -> None:
    for seq in seqs:
        queue.offer(seq, f'{{"seq":{seq}}}')
    await trio.testing.wait_all_tasks_blocked()


async def test_a_frame_after_a_quiet_spell_leaves_at_once_dense_ones_share_a_write(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await consumer(nursery, 0.002)
    await offer(queue, 1)
    assert socket.writes == [['{"seq":1}']]  # no time has passed: no window was waited for
    await offer(queue, 2)
    mock_clock.jump(0.001)
    await offer(queue, 3, 4)
    assert len(socket.writes) == 1  # within the window of the first write: they wait
    mock_clock.jump(0.001)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[1:] == [['{"seq":2}', '{"seq":3}', '{"seq":4}']]
    await offer(queue, 5)  # while frames keep coming the sender stays on the window's beat
    assert len(socket.writes) == 2
    mock_clock.jump(0.002)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[2:] == [['{"seq":5}']]
    mock_clock.jump(1.0)  # a quiet spell: the next frame leaves at once again
    await trio.testing.wait_all_tasks_blocked()
    await offer(queue, 6)
    assert socket.writes[3:] == [['{"seq":6}']]
    assert queue.writes == 4


async def test_coalesce_zero_writes_each_frame_when_it_comes(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await consumer(nursery, 0.0)
    for seq in range(1, 5):
        await offer(queue, seq)
    assert socket.writes == [[f'{{"seq":{seq}}}'] for seq in range(1, 5)]
