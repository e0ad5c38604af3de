"""``wearstream.connect_consumer``: the library stream, against the in-process broker."""

from __future__ import annotations

import subprocess
import sys

import pytest
import trio

import wearstream
from wearstream.testing.memory_sink import MemorySink

from .conftest import LiveBroker, producer


def credentials(broker: LiveBroker) -> dict[str, str]:
    return {
        "api_url": broker.running.api_url,
        "broker_url": broker.running.ws_url,
        "dev_id": broker.dev_id,
        "api_key": broker.api_key,
    }


def test_import_wearstream_stays_light() -> None:
    code = "import sys, wearstream; print('trio' in sys.modules, callable(wearstream.connect_consumer))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


async def test_yields_in_order_across_a_drop_and_commits_to_the_sink(broker: LiveBroker) -> None:
    sink = MemorySink()
    got = []
    async with producer(broker, "a") as a, producer(broker, "b") as b:
        await a.submit(3)  # 1-3: before the consumer
        with trio.fail_after(10):
            async with wearstream.connect_consumer(
                **credentials(broker), cursor=sink, users=["a"]
            ) as stream:
                await broker.wait_new_consumer()
                await a.submit(1)  # 4: the first live payload; 1-3 are replayed
                async for payload in stream:
                    got.append(payload.seq)
                    if payload.seq == 4:
                        await b.submit(2)  # 5, 6: filtered out
                        old = broker.consumers()
                        await broker.drop_consumers()
                        await a.submit(2)  # 7, 8: maybe nobody is connected
                        await broker.wait_new_consumer(old)
                        await a.submit(1)  # 9
                    if payload.seq == 9:
                        break
    assert got == [1, 2, 3, 4, 7, 8, 9]
    assert sink.cursor == 9
    assert sink.payloads == [] and sink.closed  # the sink keeps the cursor only


async def test_cursor_int_and_the_position(broker: LiveBroker) -> None:
    async with producer(broker) as prod:
        await prod.submit(5)
        with trio.fail_after(10):
            async with wearstream.connect_consumer(**credentials(broker), cursor=2) as stream:
                await broker.wait_new_consumer()
                await prod.submit(1)
                seqs = [(await stream.__anext__()).seq for _ in range(4)]
                assert stream.position == 5  # 6 is not handled until the next is asked for
    assert seqs == [3, 4, 5, 6]


async def test_a_second_consumer_raises_consumer_stopped(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    ready = trio.Event()

    async def first() -> None:
        async with wearstream.connect_consumer(**credentials(broker)) as stream:
            ready.set()
            async for _ in stream:
                pass

    nursery.start_soon(first)
    await ready.wait()
    await broker.wait_new_consumer()
    with pytest.raises(wearstream.ConsumerStopped, match="another consumer"):
        with trio.fail_after(10):
            async with wearstream.connect_consumer(**credentials(broker)) as stream:
                async for _ in stream:
                    pass
