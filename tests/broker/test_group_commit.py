"""Issue 14 item 5 in the hub's writer: group commit (readings gathered for the log's
``commit_window`` go in one append) and, on a shared log, dispatching this node's own appends from
the log's answer instead of reading them back, with ordering across nodes kept."""

from __future__ import annotations

from typing import Sequence

import trio

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.fan_out import FanOut
from wearstream.adapters.websocket.intake import Intake, Reading
from wearstream.adapters.websocket.numbering import Numbering
from wearstream.adapters.websocket.storage_state import StorageState
from wearstream.adapters.websocket.writer import Writer
from wearstream.domain.stream import Payload
from wearstream.ports.storage import Submission
from wearstream.testing.fake_shared import SharedMemory

from .conftest import Watcher


class WindowLog(MemoryStreamLog):
    """The memory log with a SQLite-like window, noting the size of each append."""

    commit_window = 0.005

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[int] = []

    async def append(self, payloads: Sequence[Payload]) -> None:
        self.appends.append(len(payloads))
        await super().append(payloads)


def reading(n: int, dev: str = "dev") -> Reading:
    return Reading(dev, "u", "STEPS", {"val": n}, None, None, 10)


async def test_readings_arriving_within_the_commit_window_go_in_one_append(
    autojump_clock: trio.abc.Clock,
) -> None:
    log, storage, fan_out = WindowLog(), StorageState(), FanOut()
    intake = Intake(storage, queue_size=100, max_bytes=10_000, max_batch=100)
    writer = Writer(log, intake, Numbering(), fan_out, storage)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer.run)
        for n in range(1, 6):  # one reading a millisecond, as 1,000 producers at 1 Hz send
            await intake.put(reading(n))
            await trio.sleep(0.001)
        await trio.sleep(0.1)  # long after the window: a later reading opens a new batch
        await intake.put(reading(6))
        await trio.sleep(0.1)
        nursery.cancel_scope.cancel()
    assert log.appends == [5, 1]
    assert fan_out.dispatched_seq("dev") == 6


async def test_a_full_batch_is_not_held_back_and_a_log_without_a_window_waits_for_nothing() -> None:
    storage = StorageState()
    intake = Intake(storage, queue_size=100, max_bytes=10_000, max_batch=1)
    await intake.put(reading(1))
    with trio.fail_after(1):  # a batch of one is full: no window however long
        assert len(await intake.batch(3600.0)) == 1
    assert MemoryStreamLog.commit_window == 0.0


def shared_writer(log: object) -> tuple[Writer, FanOut, Watcher]:
    storage, fan_out, watcher = StorageState(), FanOut(), Watcher("dev")
    fan_out.add(watcher)
    intake = Intake(storage, queue_size=100, max_bytes=10_000, max_batch=100)
    return Writer(log, intake, Numbering(), fan_out, storage), fan_out, watcher  # type: ignore[arg-type]


async def test_a_node_dispatches_its_own_appends_from_the_logs_answer() -> None:
    backend = SharedMemory()
    writer, fan_out, watcher = shared_writer(backend.log())
    await writer.write([reading(1), reading(2)])
    await writer.write([reading(3)])
    # No follower runs: the payloads were handed out from append_new's answer.
    assert watcher.seqs == [1, 2, 3] and watcher.unflushed == 0
    assert fan_out.dispatched_seq("dev") == 3


async def test_another_nodes_payload_in_between_is_read_by_the_follower_in_order() -> None:
    backend = SharedMemory()
    here, elsewhere = backend.log(), backend.log()
    writer, fan_out, watcher = shared_writer(here)
    await writer.write([reading(1)])
    await elsewhere.append_new([Submission("dev", "v", "STEPS", {"val": 99})], {})  # seq 2
    await writer.write([reading(3)])  # seq 3: not after this node's position (1)
    assert watcher.seqs == [1]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(here.follow, fan_out.following, fan_out.deliver)
            while fan_out.dispatched_seq("dev") < 3:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    assert watcher.seqs == [1, 2, 3] and watcher.unflushed == 0


async def test_a_developer_nobody_watches_here_only_moves_the_floor() -> None:
    backend = SharedMemory()
    writer, fan_out, watcher = shared_writer(backend.log())
    await writer.write([reading(1, dev="other"), reading(2, dev="other")])
    assert fan_out.dispatched_seq("other") == 2
    assert watcher.seqs == []


async def test_every_delivery_ends_with_a_flush() -> None:
    """A consumer's queue writes what it was offered when the delivery flushes (no timer stands
    in for a forgotten flush): the writer's batch and inline paths, and the follower's, flush."""
    writer, fan_out, watcher = shared_writer(MemoryStreamLog())
    await writer.open_developer("dev")
    await writer.write([reading(1), reading(2)])
    assert watcher.seqs == [1, 2] and watcher.unflushed == 0
    assert writer.can_inline("dev")
    writer.write_inline([reading(3)])
    assert watcher.seqs == [1, 2, 3] and watcher.unflushed == 0
    fan_out.deliver([Payload("dev", 4, "u", "STEPS", {"val": 4})])
    assert watcher.seqs == [1, 2, 3, 4] and watcher.unflushed == 0
