"""Issue 14 item 2: a producer's readings reach a memory log inline, in the producer's own task
(numbering, append, dispatch, ack: no hop to the writer task), and through the intake whenever
the writer has something in hand, so that seq order and "acked only once stored" hold either way."""

from __future__ import annotations

import trio

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.hub import Hub, Reading
from wearstream.domain.stream import ReplayRange, SubmitKey
from wearstream.ports.storage import StorageUnavailable

from .conftest import Acks, FlakyLog, Watcher

TS = "2024-05-04T10:26:11Z"


def readings(acks: Acks, *ids: int) -> list[Reading]:
    return [Reading("dev", "u", "STEPS", {"ts": TS, "val": n}, SubmitKey("box", n), acks, 10) for n in ids]


async def stored(log: MemoryStreamLog) -> list[tuple[int, int]]:
    return [(p.seq, p.d["val"]) for p in await log.read_range("dev", ReplayRange(0, 100), 100)]


async def test_a_memory_log_is_appended_inline_without_the_writer_task() -> None:
    log, acks, watcher = MemoryStreamLog(), Acks(), Watcher()
    hub = Hub(log)  # hub.run (the writer task) is never started
    await hub.open_developer("dev")
    hub.fan_out.add(watcher)
    await hub.publish_many(readings(acks, 1, 2, 2, 3))  # 2 twice: a resend, stored once
    assert await stored(log) == [(1, 1), (2, 2), (3, 3)]
    assert watcher.seqs == [1, 2, 3] and acks.ids == [1, 2, 2, 3]
    assert hub.payloads_in == 3 and hub.intake.pending == 0


async def test_readings_go_through_the_intake_while_the_writer_has_some_in_hand(
    nursery: trio.Nursery,
) -> None:
    log, acks = MemoryStreamLog(), Acks()
    hub = Hub(log)
    await hub.publish_many(readings(acks, 1, 2))  # a developer not loaded yet: the writer's job
    await hub.open_developer("dev")
    await hub.publish_many(readings(acks, 3))  # behind 1 and 2, so not inline either
    assert hub.intake.pending == 3 and await stored(log) == [] and acks.ids == []
    await nursery.start(hub.run)
    with trio.fail_after(5):
        while hub.intake.pending:
            await trio.sleep(0.001)
    await hub.publish_many(readings(acks, 4))  # the writer is idle again: inline
    assert await stored(log) == [(1, 1), (2, 2), (3, 3), (4, 4)] and acks.ids == [1, 2, 3, 4]


async def test_a_failed_inline_append_is_retried_by_the_writer_first(nursery: trio.Nursery) -> None:
    log, acks = FlakyLog(), Acks()
    hub = Hub(log)
    await nursery.start(hub.run)
    await hub.open_developer("dev")
    log.full = True
    await hub.publish_many(readings(acks, 1, 2))  # numbered, refused: handed to the writer
    assert not hub.storage.ok and acks.ids == []
    try:
        await hub.publish_many(readings(acks, 3))
    except StorageUnavailable:
        pass
    else:
        raise AssertionError("a reading was taken while storage was unavailable")
    log.full = False
    with trio.fail_after(5):
        while not hub.storage.ok or hub.intake.pending:
            await trio.sleep(0.01)
    await hub.publish_many(readings(acks, 4))
    assert await stored(log) == [(1, 1), (2, 2), (3, 4)] and acks.ids == [1, 2, 4]
