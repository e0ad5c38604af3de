"""How the hub hands frames to a consumer: in batches, in order, and after a catch-up, complete.

The consumer's ``send`` here is a plain function that records each write; a gate holds the
first write back, so the queue overflows and the consumer must catch up from the log.
"""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.consumer_queue import TooManyReplays
from wearstream.adapters.websocket.hub import Hub
from wearstream.domain.limits import HubLimits
from wearstream.domain.stream import ReplayRange


class Recorder:
    """A consumer's socket: keeps every write; the first one waits until ``gate`` is set."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.gate = trio.Event()

    async def send(self, frames: list[str]) -> None:
        await self.gate.wait()
        self.writes.append(frames)

    @property
    def seqs(self) -> list[int]:
        return [orjson.loads(f)["seq"] for write in self.writes for f in write]


async def publish(hub: Hub, count: int) -> None:
    for n in range(count):
        await hub.publish("dev", "user", "HEART_RATE", {"ts": "2024-01-01T00:00:00Z", "val": n})


async def test_a_lagging_consumer_catches_up_with_every_payload_in_order(nursery: trio.Nursery) -> None:
    hub = Hub(MemoryStreamLog(), limits=HubLimits(consumer_queue=10))
    await nursery.start(hub.run)
    await hub.open_developer("dev")
    queue = hub.add_consumer("dev")
    assert queue is not None
    recorder = Recorder()
    nursery.start_soon(queue.run, recorder.send)
    await publish(hub, 3000)
    await trio.testing.wait_all_tasks_blocked()
    assert queue.lagging
    recorder.gate.set()
    with trio.fail_after(10):
        while len(recorder.seqs) < 3000 or queue.lagging:
            await trio.sleep(0.01)
    assert recorder.seqs == list(range(1, 3001))
    assert len(recorder.writes) < 3000  # frames went out in batches, not one write each


async def test_frames_queued_while_the_consumer_was_busy_leave_in_one_write(nursery: trio.Nursery) -> None:
    hub = Hub(MemoryStreamLog())
    await nursery.start(hub.run)
    await hub.open_developer("dev")
    queue = hub.add_consumer("dev")
    assert queue is not None
    recorder = Recorder()
    nursery.start_soon(queue.run, recorder.send)
    await publish(hub, 50)
    await trio.testing.wait_all_tasks_blocked()
    recorder.gate.set()
    with trio.fail_after(10):
        while len(recorder.seqs) < 50:
            await trio.sleep(0.01)
    assert recorder.seqs == list(range(1, 51))
    assert len(recorder.writes) == 1


async def test_replays_waiting_are_bounded_identical_ones_count_once_overlapping_ones_are_each_served(
    nursery: trio.Nursery,
) -> None:
    hub = Hub(MemoryStreamLog(), limits=HubLimits(max_pending_replays=3))
    await nursery.start(hub.run)
    await hub.open_developer("dev")
    await publish(hub, 10)
    await trio.testing.wait_all_tasks_blocked()  # stored and dispatched: nothing comes live
    queue = hub.add_consumer("dev")
    assert queue is not None
    for rng in [ReplayRange(0, 5), ReplayRange(0, 5), ReplayRange(2, 4), ReplayRange(3, 3)]:
        queue.replay(rng)  # the second adds nothing, the last is empty
    queue.replay(ReplayRange(8, 11))
    with pytest.raises(TooManyReplays, match="more than 3 REPLAY requests waiting"):
        queue.replay(ReplayRange(5, 7))
    recorder = Recorder()
    recorder.gate.set()
    nursery.start_soon(queue.run, recorder.send)
    with trio.fail_after(5):
        while len(recorder.seqs) < 7:
            await trio.sleep(0.01)
    await trio.testing.wait_all_tasks_blocked()
    assert recorder.seqs == [1, 2, 3, 4, 3, 9, 10]
