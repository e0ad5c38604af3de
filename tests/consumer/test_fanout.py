"""`serve_consumer`: the link feeding several sinks (in-memory, at the port) through the bounded
channel, with filters, per-sink cursors, stop and fatal closes."""

from __future__ import annotations

import pytest
import trio

from wearstream.adapters.websocket.consumer_link import ConsumerStopped
from wearstream.entrypoints.consumer import ConsumerSettings, serve_consumer
from wearstream.ports.sinks import UnwritablePayload
from wearstream.testing.memory_sink import MemoryMedium, MemorySink, SinkWriteFailed

from .conftest import LiveBroker, producer


def settings(broker: LiveBroker, **options: object) -> ConsumerSettings:
    return ConsumerSettings(
        broker.running.api_url, broker.running.ws_url, broker.dev_id, broker.api_key, **options
    )


async def wait_for(sinks: list[MemorySink], cursor: int) -> None:
    with trio.fail_after(10):
        while min(s.cursor for s in sinks) < cursor:
            await trio.sleep(0.01)


async def test_each_sink_gets_its_share_and_filtered_payloads_move_cursors(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    behind, ahead = MemorySink(), MemorySink(MemoryMedium(cursor=6))
    stop = trio.Event()
    done = trio.Event()

    async def consume() -> None:
        await serve_consumer(settings(broker, user=("a",), batch=4), [behind, ahead], stop)
        done.set()

    async with producer(broker, "a") as a, producer(broker, "b") as b:
        for _ in range(5):
            await a.submit(1)
            await b.submit(1)  # seqs 1..10: odd from a, even from b
        nursery.start_soon(consume)
        await broker.wait_new_consumer()
        for _ in range(5):
            await a.submit(1)
            await b.submit(1)  # 11..20
        await wait_for([behind, ahead], 20)
    stop.set()
    with trio.fail_after(5):
        await done.wait()
    assert behind.seqs == list(range(1, 21, 2))
    assert ahead.seqs == list(range(7, 21, 2))
    assert {p.uid for p in behind.payloads} == {"a"}
    assert behind.closed and ahead.closed


async def test_a_fatal_close_commits_what_arrived_then_raises(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    first = MemorySink()
    nursery.start_soon(serve_consumer, settings(broker), [first])
    async with producer(broker) as prod:
        await broker.wait_new_consumer()
        await prod.submit(3)
        await wait_for([first], 3)
    second = MemorySink()
    with pytest.raises(ConsumerStopped, match="4002"):
        with trio.fail_after(10):
            await serve_consumer(settings(broker), [second])
    assert second.closed and second.payloads == []


async def test_a_sink_that_fails_stops_the_consumer_without_committing(
    broker: LiveBroker,
) -> None:
    sink = MemorySink(fail_writes=1)
    with pytest.RaisesGroup(SinkWriteFailed, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(serve_consumer, settings(broker), [sink])
            async with producer(broker) as prod:
                await broker.wait_new_consumer()
                await prod.submit(2)
                await trio.sleep_forever()
    assert sink.cursor == 0 and sink.payloads == [] and sink.closed


class RefusingSink(MemorySink):
    """A MemorySink that cannot encode payloads whose value is in ``refuse`` (as a jsonl sink
    cannot write a reading nested too deep)."""

    def __init__(self, refuse: set[int]) -> None:
        super().__init__()
        self.refuse = refuse

    async def write(self, payloads, cursor):  # type: ignore[no-untyped-def]
        for payload in payloads:
            if payload.d["val"] in self.refuse:
                raise UnwritablePayload(payload.seq, "cannot encode it")
        await super().write(payloads, cursor)


async def test_a_payload_a_sink_cannot_write_is_skipped_and_the_cursor_moves_past(
    broker: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    sink, other = RefusingSink({2, 4}), MemorySink()
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_consumer, settings(broker), [sink, other], stop)
        async with producer(broker) as prod:
            await broker.wait_new_consumer()
            await prod.submit(5)
            await wait_for([sink, other], 5)
        stop.set()
    assert sink.seqs == [1, 3, 5] and sink.cursor == 5
    assert other.seqs == [1, 2, 3, 4, 5]
    skipped = [r.getMessage() for r in caplog.records if "skipped payload" in r.getMessage()]
    assert len(skipped) == 2 and "seq 2" in skipped[0] and "cannot encode it" in skipped[0]
