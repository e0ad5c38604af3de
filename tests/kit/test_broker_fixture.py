"""The kit's fixtures as a plug-in author uses them: a broker with a developer, tokens, a
producer running a fake device, a consumer keeping its place in the fake sink."""

from __future__ import annotations

import pytest
import trio

from wearstream.domain.devices import DeviceStatus
from wearstream.domain.errors import DeviceUnavailable
from wearstream.testing.fake_device import EventRecorder, FakeDevice
from wearstream.testing.fixtures import LiveBroker
from wearstream.testing.memory_sink import MemorySink

WAIT_S = 10.0  # a hang guard


async def test_broker_mints_single_use_tokens_of_both_kinds(wearstream_broker: LiveBroker) -> None:
    user, developer = await wearstream_broker.user_token("u1"), await wearstream_broker.developer_token()
    assert user and developer and user != developer
    assert wearstream_broker.ws_url.startswith("ws://127.0.0.1:")
    assert wearstream_broker.api_url.startswith("http://127.0.0.1:")
    assert wearstream_broker.dev_id.startswith("dev_")


async def test_fake_device_streams_through_a_real_producer_to_a_consumer(
    wearstream_broker: LiveBroker, fake_device: FakeDevice, fake_sink: MemorySink
) -> None:
    producer = wearstream_broker.producer("u1", [fake_device])
    for bpm in (60, 61, 62):
        fake_device.send("HEART_RATE", bpm)
    with trio.fail_after(WAIT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer.run)
            async with wearstream_broker.consumer(cursor=fake_sink) as stream:
                received = []
                async for payload in stream:
                    received.append(payload)
                    if len(received) == 3:
                        break
                await stream.commit()
            fake_device.end()
    assert [(p.uid, p.t, p.d["val"]) for p in received] == [("u1", "HEART_RATE", v) for v in (60, 61, 62)]
    assert fake_sink.cursor == received[-1].seq


async def test_fake_device_reports_drops_and_failures(
    fake_device: FakeDevice, device_events: EventRecorder
) -> None:
    fake_device.send("HEART_RATE", 70)
    fake_device.drop("strap off")
    fake_device.fail("battery flat")
    with trio.fail_after(WAIT_S), pytest.raises(DeviceUnavailable, match="^battery flat$"):
        await fake_device.run("u1", device_events)
    assert [s.value for s in device_events.samples] == [70]
    assert device_events.statuses[1] == DeviceStatus("fake-1", False, "fake", "strap off")
