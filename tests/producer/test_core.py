"""The producer core with a real broker in this process, a real SQLite outbox, the real simulated
strap, and small scripted devices (fakes at the SampleSource port)."""

from __future__ import annotations

from pathlib import Path

import trio

from wearstream.adapters.simulated.transport import SimulatedTransport
from wearstream.adapters.storage.outbox import SqliteOutbox
from wearstream.adapters.websocket.producer_link import LinkConfig, ProducerLink
from wearstream.domain.devices import Device, DeviceStatus
from wearstream.domain.errors import DeviceUnavailable
from wearstream.entrypoints.producer_core import Producer
from wearstream.ports.devices import DeviceEvents
from wearstream.testing.fixtures import LiveBroker

from .conftest import USER, Consumer, hr

FAST = LinkConfig(backoff_initial=0.01, backoff_max=0.05)


class Scripted:
    """A device that says ``count`` heart rates, then fails with ``error`` (or waits forever)."""

    def __init__(self, name: str, count: int, error: Exception | None = None, base: int = 0) -> None:
        self.device = Device(name, name, "sim", ("HEART_RATE",))
        self.count = count
        self.error = error
        self.numbers = range(base, base + count)

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        events.status(DeviceStatus(self.device.id, True, "sim", battery=80))
        for n in self.numbers:
            await events.sample(hr(n, self.device.id))
        if self.error is not None:
            raise self.error
        await trio.sleep_forever()


def link_for(broker: LiveBroker, outbox: SqliteOutbox) -> ProducerLink:
    tokens = broker.token_provider(USER)
    return ProducerLink(broker.ws_url, tokens, outbox, FAST)


async def test_a_failing_device_is_reported_and_the_others_go_on(
    broker: LiveBroker, consumer: Consumer, tmp_path: Path
) -> None:
    outbox = await SqliteOutbox.open(tmp_path / "outbox.db")
    good, bad = Scripted("good", 30), Scripted("bad", 5, RuntimeError("boom"))
    gone = Scripted("gone", 0, DeviceUnavailable("out of range for good"))
    producer = Producer(USER, [good, bad, gone], outbox, link_for(broker, outbox))
    key = (broker.dev_id, USER)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer.run)
        await consumer.collect(35)
        with trio.fail_after(5):  # the broker knows the devices while the producer is connected
            while {"bad", "good"} - broker.running.hub.presence.get(key, {}).keys():
                await trio.sleep(0.01)
        presence = broker.running.hub.presence[key]
        assert not presence["bad"].connected and presence["good"].connected
        producer.stop()
    await outbox.aclose()
    assert producer.views["bad"].problem == "failed: RuntimeError: boom"
    assert producer.views["gone"].problem == "out of range for good"
    assert producer.views["good"].connected and producer.views["good"].battery == 80
    assert producer.added == 35


async def test_per_device_order_and_a_restart_on_the_same_outbox(
    broker: LiveBroker, consumer: Consumer, tmp_path: Path
) -> None:
    """Two runs, the broker link cut in between; ids go on, every sample arrives once, in order."""
    path = tmp_path / "outbox.db"
    source = None
    sent: dict[str, list[int]] = {"a": [], "b": []}
    for run, count in enumerate((40, 25)):
        outbox = await SqliteOutbox.open(path)
        source = source or outbox.source
        assert outbox.source == source
        devices = [Scripted(name, count, base=10_000 * d + 1000 * run) for d, name in enumerate("ab")]
        for device in devices:
            sent[device.device.id] += list(device.numbers)
        producer = Producer(USER, devices, outbox, link_for(broker, outbox))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer.run)
            await consumer.collect(80 if run == 0 else 130)
            producer.stop()
        assert producer.last_id == (80 if run == 0 else 130)
        assert await outbox.depth() == 0  # the stop drained it
        await outbox.aclose()
    stamps = [p["d"]["ts"] for p in consumer.received]
    for name, numbers in sent.items():
        expected = [hr(n).to_wire()["ts"] for n in numbers]
        assert [ts for ts in stamps if ts in set(expected)] == expected  # once each, in order
    assert len(stamps) == 130


async def test_the_simulated_strap_streams_through(
    broker: LiveBroker, consumer: Consumer, tmp_path: Path
) -> None:
    outbox = await SqliteOutbox.open(tmp_path / "outbox.db")
    strap = SimulatedTransport().open("hr-strap?rate=50&seed=1")
    producer = Producer(USER, [strap], outbox, link_for(broker, outbox))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(producer.run)
        received = await consumer.collect(20)
        producer.stop()
    await outbox.aclose()
    assert {p["t"] for p in received} <= {"HEART_RATE", "RR_INTERVAL", "BATTERY"}
    view = producer.views[strap.device.id]
    assert view.samples >= 20 and view.last is not None
