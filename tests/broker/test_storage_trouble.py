"""The hub when its log cannot be written: the failed batch is kept and retried (nothing
dropped, nothing doubled, the order kept), new readings are refused with StorageUnavailable (also
those already waiting for room), and the hub recovers by itself."""

from __future__ import annotations

from typing import Sequence

import pytest
import trio

from wearstream.adapters.websocket.hub import Hub
from wearstream.domain.stream import Payload, ReplayRange
from wearstream.ports.storage import StorageUnavailable

from .conftest import FlakyLog

TS = "2024-05-04T10:26:11Z"


async def wait_until(condition, timeout: float = 5.0) -> None:
    with trio.fail_after(timeout):
        while not condition():
            await trio.sleep(0.005)


async def test_a_full_log_refuses_new_readings_keeps_its_batch_and_recovers(
    nursery: trio.Nursery,
) -> None:
    log = FlakyLog()
    hub = Hub(log, queue_size=1)
    await nursery.start(hub.run)
    for n in (1, 2):
        await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": n})
    await wait_until(lambda: hub.payloads_in == 2)

    log.full = True
    await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": 3})  # taken, then cannot be stored
    await wait_until(lambda: not hub.storage.ok)
    assert "full" in (hub.storage.error or "")
    assert hub.storage.health()["ok"] is False and hub.storage.health()["since"]
    with pytest.raises(StorageUnavailable):
        await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": 4})

    await wait_until(lambda: log.refused >= 3)  # retried, not dropped
    log.full = False
    await wait_until(lambda: hub.storage.ok, timeout=3.0)  # retries at least once a second
    await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": 5})
    await wait_until(lambda: hub.payloads_in == 4)
    stored = await log.read_range("dev", ReplayRange(0, 100), 100)
    assert [(p.seq, p.d["val"]) for p in stored] == [(1, 1), (2, 2), (3, 3), (4, 5)]


class SlowFailingLog(FlakyLog):
    """An append that waits (as one waiting out another process's lock does) and then fails."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = trio.Event()

    async def append(self, payloads: Sequence[Payload]) -> None:
        if self.full:
            await self.gate.wait()
        await super().append(payloads)


async def test_readings_waiting_for_room_are_refused_when_storage_fails(
    nursery: trio.Nursery,
) -> None:
    log = SlowFailingLog()
    log.full = True
    hub = Hub(log, queue_size=1)
    await nursery.start(hub.run)
    await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": 1})
    await wait_until(lambda: hub.payloads_in == 1)  # numbered; its append waits at the gate
    await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": 2})  # fills the channel
    refused: list[int] = []

    async def producer(n: int) -> None:
        try:
            await hub.publish("dev", "u", "STEPS", {"ts": TS, "val": n})
        except StorageUnavailable:
            refused.append(n)

    for n in (3, 4):
        nursery.start_soon(producer, n)
    await trio.sleep(0.05)
    assert refused == []  # waiting for room: slowed, not refused
    log.gate.set()  # the append fails now
    await wait_until(lambda: sorted(refused) == [3, 4])
    log.full = False
    await wait_until(lambda: hub.storage.ok)
    await wait_until(lambda: hub.payloads_in == 2)
    stored = await log.read_range("dev", ReplayRange(0, 100), 100)
    assert [(p.seq, p.d["val"]) for p in stored] == [(1, 1), (2, 2)]
