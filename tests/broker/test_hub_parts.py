"""The hub's parts, each alone (adapters/websocket/{presence,fan_out,numbering,intake,leases,
memory_release,writer}.py); tests of the whole hub are in test_delivery.py and beyond."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.adapters.websocket.fan_out import FanOut
from wearstream.adapters.websocket.intake import Intake, Reading, reading_size
from wearstream.adapters.websocket.leases import LeaseKeeper
from wearstream.adapters.websocket.memory_release import MemoryRelease
from wearstream.adapters.websocket.numbering import Numbering
from wearstream.adapters.websocket.presence import Presence
from wearstream.adapters.websocket.storage_state import StorageState
from wearstream.adapters.websocket.writer import Writer
from wearstream.domain.frames import Status
from wearstream.domain.stream import Payload, ReplayRange, SubmitKey
from wearstream.ports.storage import StorageUnavailable
from wearstream.testing.fake_shared import MemoryConsumerLeases, SharedMemory

from .conftest import Acks

TS = "2024-05-04T10:26:11Z"


# Presence --------------------------------------------------------------------------------------


async def test_presence_keeps_devices_per_connection_and_bounds_them() -> None:
    changes: list[tuple[str, str]] = []
    presence = Presence(2, lambda dev, uid: changes.append((dev, uid)))
    presence.link_changed("dev", "u", +1, link=1)
    presence.update("dev", "u", Status(True, "a", "sim"), link=1)
    presence.update("dev", "u", Status(True, "b", "sim"), link=1)
    presence.update("dev", "u", Status(True, "c", "sim"), link=1)  # over the cap: ignored
    assert sorted(presence.devices[("dev", "u")]) == ["a", "b"]
    presence.update("dev", "u", Status(False, "a", "sim", "gone"), link=1)
    presence.update("dev", "u", Status(True, "c", "sim"), link=1)  # replaces the one gone
    assert sorted(presence.devices[("dev", "u")]) == ["b", "c"]
    assert presence.users("dev") == ["u"] and presence.users("other") == []
    frame = orjson.loads(presence.frame("dev", "u"))
    assert frame["d"]["online"] is True and len(frame["d"]["devices"]) == 2
    presence.link_changed("dev", "u", -1, link=1)  # its devices go with it
    assert ("dev", "u") not in presence.devices and presence.users("dev") == []
    assert orjson.loads(presence.frame("dev", "u"))["d"]["online"] is False
    assert changes[-1] == ("dev", "u") and len(changes) == 6  # the ignored STATUS changed nothing


# Fan-out ---------------------------------------------------------------------------------------


class Queue:
    def __init__(self, developer_id: str, extensions: bool = False) -> None:
        self.developer_id = developer_id
        self.extensions = extensions
        self.peak_bytes = 0
        self.frames: list[tuple[int, str]] = []

    def offer(self, seq: int, frame: str) -> None:
        self.frames.append((seq, frame))

    def flush(self) -> None:
        pass


def payload(seq: int, t: str = "HEART_RATE", dev: str = "dev") -> Payload:
    return Payload(dev, seq, "u", t, {"ts": TS, "val": seq})


async def test_fan_out_reaches_its_developer_only_and_extensions_only_when_asked() -> None:
    fan_out = FanOut()
    plain, extended, other = Queue("dev"), Queue("dev", extensions=True), Queue("other")
    for queue in (plain, extended, other):
        fan_out.add(queue)
    counted: list[int] = []
    fan_out.on_dispatch = lambda p, n: counted.append(n)
    fan_out.dispatch(payload(1))
    fan_out.dispatch(payload(2, "DEVICE_BATTERY"))
    assert [s for s, _ in plain.frames] == [1] and [s for s, _ in extended.frames] == [1, 2]
    assert other.frames == [] and counted == [2, 1] and fan_out.payloads_out == 3
    assert fan_out.dispatched_seq("dev") == 2 and fan_out.following() == {"dev": 2, "other": 0}
    fan_out.deliver([payload(2), payload(3)])  # 2 was dispatched already
    assert [s for s, _ in extended.frames] == [1, 2, 3]
    fan_out.advance("dev", 1)  # never back
    assert fan_out.dispatched_seq("dev") == 3
    fan_out.remove(plain)
    assert fan_out.count(Queue) == 2


# Numbering -------------------------------------------------------------------------------------


async def test_numbering_continues_from_the_log_and_skips_resends() -> None:
    log = MemoryStreamLog()
    await log.append([Payload("dev", 7, "u", "STEPS", {"ts": TS}, key=SubmitKey("box", 3))])
    numbering = Numbering()
    assert not numbering.knows("dev")
    assert await numbering.open(log, "dev") == 7
    assert await numbering.open(log, "dev") is None  # once
    assert numbering.number("dev", "u", "STEPS", {}, SubmitKey("box", 3)) is None  # stored already
    fresh = numbering.number("dev", "u", "STEPS", {}, SubmitKey("box", 4))
    assert fresh is not None and fresh.seq == 8
    assert numbering.number("dev", "u", "STEPS", {}, None).seq == 9  # type: ignore[union-attr]


# Intake ----------------------------------------------------------------------------------------


def reading(n: int, size: int = 10) -> Reading:
    return Reading("dev", "u", "STEPS", {"val": n}, None, None, size)


async def test_intake_is_bounded_in_bytes_and_refuses_while_storage_fails(
    nursery: trio.Nursery,
) -> None:
    storage = StorageState()
    intake = Intake(storage, queue_size=100, max_bytes=25, max_batch=10)
    await intake.put(reading(1))
    await intake.put(reading(2))
    waited = trio.Event()

    async def third() -> None:
        await intake.put(reading(3))
        waited.set()

    nursery.start_soon(third)
    await trio.testing.wait_all_tasks_blocked()
    assert not waited.is_set() and intake.bytes == 20  # 30 bytes would not fit
    batch = await intake.batch()
    assert [r.d["val"] for r in batch] == [1, 2]
    intake.done(batch)
    await waited.wait()
    assert intake.bytes == 10
    storage.failed(StorageUnavailable("disk full"))
    with pytest.raises(StorageUnavailable):
        await intake.put(reading(4))
    assert reading_size("u", "STEPS", {"val": 1}) == len(b'{"val":1}') + 1 + 5


# Writer ----------------------------------------------------------------------------------------


class EventLog(MemoryStreamLog):
    """The memory log, noting each append in ``events`` (shared with the queue below)."""

    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    async def append(self, payloads) -> None:  # type: ignore[no-untyped-def]
        await super().append(payloads)
        self.events += [f"stored {p.seq}" for p in payloads]


async def test_the_writer_stores_before_it_dispatches_and_acknowledges() -> None:
    events: list[str] = []
    log, fan_out, storage = EventLog(events), FanOut(), StorageState()
    writer = Writer(log, Intake(storage, 10, 1000, 10), Numbering(), fan_out, storage)
    queue = Queue("dev")
    fan_out.add(queue)
    fan_out.on_dispatch = lambda p, n: events.append(f"dispatched {p.seq}")
    acks = Acks()
    batch = [
        Reading("dev", "u", "STEPS", {"val": n}, SubmitKey("box", n), acks) for n in (1, 2, 2, 3)
    ]
    await writer.write(batch)
    stored = await log.read_range("dev", ReplayRange(0, 10), 10)
    assert [p.d["val"] for p in stored] == [1, 2, 3]  # the resend of 2 is not stored twice
    assert events == ["stored 1", "stored 2", "stored 3", "dispatched 1", "dispatched 2", "dispatched 3"]
    assert [s for s, _ in queue.frames] == [1, 2, 3] and writer.payloads_in == 3
    assert acks.ids == [1, 2, 2, 3]


# Leases ----------------------------------------------------------------------------------------


async def test_lease_keeper_holds_the_cap_across_nodes_and_releases() -> None:
    backend = SharedMemory()
    one = LeaseKeeper(MemoryConsumerLeases(backend, ttl=30), "one")
    two = LeaseKeeper(MemoryConsumerLeases(backend, ttl=30), "two")
    assert await one.acquire("q1", "dev", 1)
    assert not await two.acquire("q2", "dev", 1)  # the cap holds across nodes
    two.release("q2")
    assert one.held() == [("dev", "one/1")]
    one.release("q1")
    await one.keep()
    assert await two.acquire("q3", "dev", 1)


# Memory release --------------------------------------------------------------------------------


async def test_memory_is_released_only_after_a_big_queue(nursery: trio.Nursery) -> None:
    release = MemoryRelease(after_bytes=100)
    nursery.start_soon(release.run)
    release.ended(99)  # small: nothing to give back
    release.ended(100)
    with trio.fail_after(5):
        while release.trims == 0:
            await trio.sleep(0.05)
