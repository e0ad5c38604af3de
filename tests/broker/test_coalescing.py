"""Coalescing a consumer's live frames (``--coalesce``): one after a quiet spell leaves at once,
ones that come densely share one write (with the first frame after the window's end, or one more
window later at the latest), an idle sender leaves the writing to the delivery's flush(), and 0
turns it off.

Time here is trio's MockClock: it moves only when the test moves it, so what is asserted is which
frames share a write, never how long anything took.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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


async def writing_consumer(nursery: trio.Nursery, coalesce: float = 0.002) -> tuple[ConsumerQueue, NowSocket]:
    hub = Hub(MemoryStreamLog(), limits=HubLimits(coalesce=coalesce))
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


async def test_offered_frames_wait_for_the_deliverys_flush_which_writes_them(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """offer() only queues (no write, no wake, no timer); flush(), which ends every delivery
    (tests/broker/test_group_commit.py checks the fan-out's callers), writes."""
    queue, socket = await writing_consumer(nursery)
    with sender_steps() as steps:
        queue.offer(1, '{"seq":1}')
        mock_clock.jump(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert socket.writes == [] and steps.count == 0
        queue.flush()
        assert socket.writes == [["now", '{"seq":1}']]


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


class SenderSteps(trio.abc.Instrument):
    """Counts the steps of consumer queues' sender tasks: each time one is woken and runs."""

    def __init__(self) -> None:
        self.count = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task.name.endswith("ConsumerQueue.run"):
            self.count += 1


@contextmanager
def sender_steps() -> Iterator[SenderSteps]:
    steps = SenderSteps()
    trio.lowlevel.add_instrument(steps)
    try:
        yield steps
    finally:
        trio.lowlevel.remove_instrument(steps)


def frames(*seqs: int) -> list[str]:
    return [f'{{"seq":{seq}}}' for seq in seqs]


async def test_a_backlog_after_a_quiet_spell_leaves_in_one_write_and_the_sender_sleeps_on(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """Several frames in one delivery after a quiet spell (a producer's backlog) are not a dense
    stream: the write leaves the sender waiting for a wake-up only, not for a window's end."""
    queue, socket = await writing_consumer(nursery)
    with sender_steps() as steps:
        await offer(queue, 1, 2, 3)
        assert socket.writes == [["now", *frames(1, 2, 3)]]
        for _ in range(10):  # well past two windows, in steps
            mock_clock.jump(0.002)
            await trio.testing.wait_all_tasks_blocked()
        assert socket.writes == [["now", *frames(1, 2, 3)]]
        assert (queue.writes, queue.sent) == (1, 3)
        assert steps.count == 0  # written by the delivery; the sender never ran
    await offer(queue, 4)  # and a frame after the quiet spell still leaves at once
    assert socket.writes[1:] == [["now", *frames(4)]]
    assert queue.writes == 2


async def test_when_a_dense_stream_stops_the_sender_wakes_once_for_nothing(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """A write of several frames within two windows of the last sets the sender's wait for the
    frames that would follow (one deadline move per write): none come, and the sender wakes
    once, writes nothing, and sleeps on."""
    queue, socket = await writing_consumer(nursery)
    await offer(queue, 1)
    mock_clock.jump(0.001)
    await offer(queue, 2)
    mock_clock.jump(0.0015)
    with sender_steps() as steps:
        await offer(queue, 3)  # after the window's end: 2 and 3 leave together, densely
        assert socket.writes == [["now", *frames(1)], ["now", *frames(2, 3)]]
        for _ in range(10):
            mock_clock.jump(0.002)
            await trio.testing.wait_all_tasks_blocked()
        assert steps.count == 1
        mock_clock.jump(1.0)
        await trio.testing.wait_all_tasks_blocked()
        assert steps.count == 1  # once, not once per window
    assert (queue.writes, queue.sent) == (2, 3) and len(socket.writes) == 2


async def test_a_frame_within_the_window_after_a_write_of_several_leaves_one_window_after_its_end(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """No delivery comes after the window's end to take it along: the sender writes it then, one
    more window later, and not before."""
    queue, socket = await writing_consumer(nursery)
    await offer(queue, 1, 2)
    assert socket.writes == [["now", *frames(1, 2)]]
    mock_clock.jump(0.001)
    await offer(queue, 3)  # within the window of the write of 1 and 2: it waits
    mock_clock.jump(0.001)  # the window's end: no delivery after it
    await trio.testing.wait_all_tasks_blocked()
    mock_clock.jump(0.0019)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes == [["now", *frames(1, 2)]]  # still within one window past the end
    mock_clock.jump(0.0002)
    await trio.testing.wait_all_tasks_blocked()
    assert socket.writes[1:] == [["send", *frames(3)]]
    assert (queue.writes, queue.sent) == (2, 3)
    mock_clock.jump(1.0)
    await trio.testing.wait_all_tasks_blocked()
    assert queue.writes == 2 and len(socket.writes) == 2


async def test_frames_within_the_window_after_a_write_of_several_go_with_the_next_delivery(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """A delivery after the window's end (but before the sender's wait ends) takes the waiting
    frames along, in one write; the sender writes none of them."""
    queue, socket = await writing_consumer(nursery)
    with sender_steps() as steps:
        await offer(queue, 1, 2)
        mock_clock.jump(0.001)
        await offer(queue, 3)
        await offer(queue, 4)
        mock_clock.jump(0.0015)  # past the window's end, before one more window
        await offer(queue, 5)
        assert socket.writes == [["now", *frames(1, 2)], ["now", *frames(3, 4, 5)]]
        mock_clock.jump(0.001)
        await offer(queue, 6)  # within the window of that write: waits for its end + 1 window
        mock_clock.jump(0.0029)  # 0.0001 before then
        await trio.testing.wait_all_tasks_blocked()
        assert len(socket.writes) == 2
        mock_clock.jump(0.0002)
        await trio.testing.wait_all_tasks_blocked()
        assert socket.writes[2:] == [["send", *frames(6)]]
        assert queue.writes == 3 and steps.count >= 1


async def test_coalesce_zero_writes_each_delivery_at_once_and_the_sender_never_wakes(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    """--coalesce 0: no window, so no deadline for the sender after any write, of one frame or
    several: every delivery is one write, by the delivery, at once, and nothing else is."""
    queue, socket = await writing_consumer(nursery, coalesce=0.0)
    with sender_steps() as steps:
        for seq in range(1, 4):
            await offer(queue, seq)
        await offer(queue, 4, 5, 6)
        await offer(queue, 7)
        assert socket.writes == [
            ["now", *frames(1)], ["now", *frames(2)], ["now", *frames(3)],
            ["now", *frames(4, 5, 6)], ["now", *frames(7)],
        ]
        for _ in range(5):
            mock_clock.jump(0.002)
            await trio.testing.wait_all_tasks_blocked()
        assert len(socket.writes) == 5 and (queue.writes, queue.sent) == (5, 7)
        assert steps.count == 0
