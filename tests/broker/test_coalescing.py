"""Coalescing a consumer's live frames (``--coalesce``): one after a quiet spell leaves at once,
ones that come densely share one write (with the first frame after the window's end, or one more
window later at the latest), an idle sender leaves the writing to offer(), and 0 turns it off.

Time here is trio's MockClock: it moves only when the test moves it, so what is asserted is which
frames share a write, never how long anything took.
"""

from __future__ import annotations

import trio
import trio.testing

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.consumer_queue import INLINE_FRAMES, ConsumerQueue
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
    """One delivery, as the fan-out makes it: the frames, then flush()."""
    for seq in seqs:
        queue.offer(seq, f'{{"seq":{seq}}}')
    queue.flush()
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
    await offer(queue, 5)  # the first delivery after the window's end takes them along
    assert socket.writes[1:] == [['{"seq":2}', '{"seq":3}', '{"seq":4}', '{"seq":5}']]
    await offer(queue, 6)
    mock_clock.jump(0.002)
    await trio.testing.wait_all_tasks_blocked()
    assert len(socket.writes) == 2  # no frame came after the window: one more window at most
    mock_clock.jump(0.002)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[2:] == [['{"seq":6}']]
    mock_clock.jump(1.0)  # a quiet spell: the next frame leaves at once again
    await trio.testing.wait_all_tasks_blocked()
    await offer(queue, 7)
    assert socket.writes[3:] == [['{"seq":7}']]
    assert queue.writes == 4


class NowSocket(Socket):
    """A socket that also takes frames without waiting: all of them, none, or all but the last
    byte (``takes``), like ServerSocket.send_now. Every write is kept, in order, tagged."""

    def __init__(self) -> None:
        super().__init__()
        self.takes = "all"

    async def send(self, frames: list[str]) -> None:
        self.writes.append(["send", *frames])

    def send_now(self, messages: list[str]) -> bool | bytes:
        if self.takes == "none":
            return False
        self.writes.append(["now", *messages])
        return True if self.takes == "all" else b"}"

    async def finish_send(self, rest: bytes) -> None:
        self.writes.append(["rest", rest.decode()])


async def writing_consumer(nursery: trio.Nursery) -> tuple[ConsumerQueue, NowSocket]:
    hub = Hub(MemoryStreamLog(), limits=HubLimits(coalesce=0.002))
    await hub.open_developer("dev")
    queue = hub.add_consumer("dev")
    assert queue is not None
    socket = NowSocket()
    nursery.start_soon(queue.run, socket.send, None, socket)
    await trio.testing.wait_all_tasks_blocked()
    return queue, socket


async def test_an_idle_sender_leaves_live_frames_to_the_delivery_which_writes_them_without_waiting(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await writing_consumer(nursery)
    queue.offer(1, '{"seq":1}')
    queue.offer(2, '{"seq":2}')
    assert socket.writes == []  # offer() only queues
    queue.flush()
    assert socket.writes == [["now", '{"seq":1}', '{"seq":2}']]  # flush() wrote, no task switch
    queue.offer(3, '{"seq":3}')
    queue.flush()
    mock_clock.jump(0.002)
    queue.offer(4, '{"seq":4}')
    queue.flush()
    assert socket.writes[1:] == [["now", '{"seq":3}', '{"seq":4}']]
    assert (queue.writes, queue.sent) == (2, 4)


async def test_many_frames_within_the_window_are_the_senders_at_its_end(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """More than a delivery writes itself (maximum rate): the sender writes them when the window
    ends, not one window later."""
    queue, socket = await writing_consumer(nursery)
    await offer(queue, 1)
    assert socket.writes == [["now", '{"seq":1}']]
    await offer(queue, *range(2, 2 + INLINE_FRAMES + 1))
    assert len(socket.writes) == 1
    mock_clock.jump(0.002)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[1] == ["send", *(f'{{"seq":{seq}}}' for seq in range(2, 2 + INLINE_FRAMES + 1))]


async def test_frames_offered_without_a_flush_are_written_by_the_sender(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """A delivery that never says it ended cannot strand frames: the sender's wait ends."""
    queue, socket = await writing_consumer(nursery)
    queue.offer(1, '{"seq":1}')
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes == [["send", '{"seq":1}']]
    queue.offer(2, '{"seq":2}')
    mock_clock.jump(0.004)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[1:] == [["send", '{"seq":2}']]


async def test_a_socket_that_takes_nothing_now_gets_the_frames_from_the_sender(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await writing_consumer(nursery)
    socket.takes = "none"
    await offer(queue, 1)
    assert socket.writes == [["send", '{"seq":1}']]


async def test_the_rest_of_a_partial_write_goes_before_anything_else(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await writing_consumer(nursery)
    socket.takes = "part"
    queue.offer(1, '{"seq":1}')
    queue.flush()
    queue.heartbeat_ack()
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[:2] == [["now", '{"seq":1}'], ["rest", "}"]]
    assert socket.writes[2][0] == "send"  # the heartbeat ack, after the frame it followed


async def test_coalesce_zero_writes_each_frame_when_it_comes(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    queue, socket = await consumer(nursery, 0.0)
    for seq in range(1, 5):
        await offer(queue, seq)
    assert socket.writes == [[f'{{"seq":{seq}}}'] for seq in range(1, 5)]
