"""The composition roots take every outside thing as an argument: a broker, a producer and a
consumer built from the kit's fakes (a fake device, the in-memory shared backend, memory
developers and tokens) stream one reading end to end, in this process, within a second."""

from __future__ import annotations

import trio

from wearstream.adapters.http.token_providers import ApiTokenProvider
from wearstream.adapters.storage.memory import MemoryDeveloperStore, MemoryTokenStore
from wearstream.adapters.storage.outbox import MemoryOutbox
from wearstream.entrypoints.bootstrap import build_producer, consumer_feed
from wearstream.entrypoints.broker import BrokerSettings, serve_broker
from wearstream.entrypoints.connect import connect_consumer
from wearstream.entrypoints.state import Stores, create_developer
from wearstream.testing.fake_device import FakeDevice
from wearstream.testing.fake_shared import SharedMemory

TRIP_S = 1.0


async def test_one_reading_through_broker_producer_and_consumer_built_from_fakes(
    nursery: trio.Nursery,
) -> None:
    backend = SharedMemory()
    stores = Stores(
        backend.log(), MemoryDeveloperStore(), MemoryTokenStore(), persistent=False,
        leases=backend.leases(30.0),
    )
    running = await nursery.start(
        lambda task_status: serve_broker(
            BrokerSettings(port=0, http_port=0), stores=stores, task_status=task_status
        )
    )
    dev = await create_developer(stores.developers, "composition")
    device = FakeDevice("strap-1")
    tokens = ApiTokenProvider(running.api_url, dev.dev_id, dev.api_key, "runner")
    producer = build_producer(
        "runner", [device], MemoryOutbox(), broker_url=running.ws_url, tokens=tokens
    )
    nursery.start_soon(producer.run)
    feed = consumer_feed(running.api_url, running.ws_url, dev.dev_id, dev.api_key)
    with trio.fail_after(10):  # a hang guard; the trip itself is measured below
        async with connect_consumer(link=feed) as stream:
            while running.hub.consumer_count() == 0:
                await trio.sleep(0.005)
            sent_at = trio.current_time()
            device.send("HEART_RATE", 72)
            payload = await stream.__anext__()
            trip = trio.current_time() - sent_at
    assert (payload.uid, payload.t, payload.d["val"]) == ("runner", "HEART_RATE", 72)
    assert payload.seq == 1 and payload.developer_id == dev.dev_id
    assert trip < TRIP_S, f"one reading took {trip:.3f} s end to end"
