"""The consumer link against the real broker, in process: identify, stream, drop and resume
filling the gap exactly once, close codes that stop."""

from __future__ import annotations

import pytest
import trio

from wearstream.adapters.http.token_providers import DeveloperTokenProvider
from wearstream.adapters.websocket.consumer_link import ConsumerLink, ConsumerStopped
from wearstream.domain.backoff import Backoff
from wearstream.domain.errors import TokenUnavailable
from wearstream.domain.stream import Payload

from .conftest import LiveBroker, producer, start_broker

FAST = Backoff(initial=0.01, maximum=0.05)


async def take(receive: trio.MemoryReceiveChannel[Payload], n: int) -> list[Payload]:
    with trio.fail_after(10):
        return [await receive.receive() for _ in range(n)]


async def test_streams_history_and_live_in_order(broker: LiveBroker, nursery: trio.Nursery) -> None:
    async with producer(broker) as prod:
        await prod.submit(20)  # before the consumer exists: replayed
        link = ConsumerLink(broker.link_settings(), 0, backoff=FAST)
        send, receive = trio.open_memory_channel[Payload](0)
        ready = trio.Event()
        link.on_ready = ready.set
        nursery.start_soon(link.run, send)
        await ready.wait()
        await prod.submit(5)  # the first live payload opens the gap replay
        got = await take(receive, 25)
    assert [p.seq for p in got] == list(range(1, 26))
    assert [p.d["val"] for p in got] == list(range(1, 26))
    assert {p.developer_id for p in got} == {broker.dev_id}
    assert link.stats.replays == 2  # the gap and its fence


async def test_drop_and_resume_fills_the_gap_exactly_once(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    link = ConsumerLink(broker.link_settings(), 0, backoff=FAST)
    send, receive = trio.open_memory_channel[Payload](1000)
    ready = trio.Event()
    link.on_ready = ready.set
    nursery.start_soon(link.run, send)
    async with producer(broker) as prod:
        await ready.wait()
        await prod.submit(10)
        first = await take(receive, 10)
        ready = trio.Event()
        link.on_ready = ready.set
        assert await broker.drop_consumers() == 1
        await prod.submit(15)  # nobody is connected: these are only in the log
        await ready.wait()
        await prod.submit(5)
        rest = await take(receive, 20)
    seqs = [p.seq for p in first + rest]
    assert seqs == list(range(1, 31))
    assert link.stats.connects == 2
    await trio.testing.wait_all_tasks_blocked()
    assert receive.statistics().current_buffer_used == 0


async def test_a_second_consumer_stops_with_4002(broker: LiveBroker, nursery: trio.Nursery) -> None:
    first = ConsumerLink(broker.link_settings(), 0, backoff=FAST)
    ready = trio.Event()
    first.on_ready = ready.set
    send, _receive = trio.open_memory_channel[Payload](10)
    nursery.start_soon(first.run, send)
    await ready.wait()
    second = ConsumerLink(broker.link_settings(), 0, backoff=FAST)
    with pytest.raises(ConsumerStopped, match="another consumer is connected"):
        with trio.fail_after(10):
            await second.run(trio.open_memory_channel[Payload](10)[0])


async def test_a_cursor_past_the_streams_end_stops_instead_of_skipping(broker: LiveBroker) -> None:
    """A sink written for another developer, or before an in-memory broker restarted: resuming
    after its cursor would skip every payload up to it, silently."""
    async with producer(broker) as prod:
        await prod.submit(3)
    link = ConsumerLink(broker.link_settings(), 2235, backoff=FAST, behind_grace=0.3)
    with pytest.raises(ConsumerStopped, match=r"cursor is at seq 2235, but .* ends at seq 3"):
        with trio.fail_after(10):
            await link.run(trio.open_memory_channel[Payload](10)[0])


async def test_a_stream_that_catches_up_with_the_cursor_is_followed(
    broker: LiveBroker, nursery: trio.Nursery
) -> None:
    """A READY behind the cursor (a node following the shared log a moment behind) is tried
    again within the grace, not a stop: once the stream has passed the cursor, what follows is
    delivered."""
    async with producer(broker) as prod:
        await prod.submit(3)
        link = ConsumerLink(broker.link_settings(), 5, backoff=Backoff(initial=1.0, maximum=1.0))
        send, receive = trio.open_memory_channel[Payload](10)
        nursery.start_soon(link.run, send)
        await trio.sleep(0.3)  # the first READY (seq 3) came: the link waits to try again
        await prod.submit(3)
        got = await take(receive, 1)
    assert [p.seq for p in got] == [6]


class Outage:
    """The broker's token API, unreachable while ``down``."""

    def __init__(self, real: DeveloperTokenProvider) -> None:
        self.real = real
        self.down = False

    async def token(self) -> str:
        if self.down:
            raise TokenUnavailable("the broker is down (test)")
        return await self.real.token()


async def test_the_grace_counts_only_readies_seen_behind(broker: LiveBroker, nursery: trio.Nursery) -> None:
    """READY behind, then an outage longer than the grace, then READY behind again: the grace
    starts again (the node may still be behind after the outage) instead of stopping at once."""
    async with producer(broker) as prod:
        await prod.submit(3)
        settings = broker.link_settings()
        tokens = Outage(DeveloperTokenProvider(settings.api_url, settings.dev_id, settings.api_key))
        link = ConsumerLink(settings, 5, backoff=FAST, tokens=tokens, behind_grace=1.0)
        send, receive = trio.open_memory_channel[Payload](10)
        stopped: list[BaseException] = []

        async def run() -> None:
            try:
                await link.run(send)
            except ConsumerStopped as error:
                stopped.append(error)

        nursery.start_soon(run)
        await trio.sleep(0.3)  # READY behind, retried
        tokens.down = True
        await trio.sleep(1.5)  # longer than the grace, but no READY is seen
        tokens.down = False
        await trio.sleep(0.5)  # READY behind again: within a new grace
        assert not stopped, stopped
        await prod.submit(3)
        got = await take(receive, 1)
    assert [p.seq for p in got] == [6]


async def test_wrong_credentials_stop_with_the_reason(broker: LiveBroker) -> None:
    settings = broker.link_settings(api_key="not-the-key")
    with pytest.raises(ConsumerStopped, match=r"auth/developer refused the request \(HTTP 403.*--api-key"):
        with trio.fail_after(10):
            await ConsumerLink(settings, 0, backoff=FAST).run(trio.open_memory_channel[Payload](1)[0])


async def test_heartbeats_keep_the_connection_and_shutdown_is_retried(nursery: trio.Nursery) -> None:
    """With a 0.4 s interval the broker would close a silent client after 0.6 s (4005); 1001 on
    shutdown and refused connections while the broker is down are retried, never raised."""
    link_done = trio.Event()
    async with trio.open_nursery() as broker_nursery:
        broker = await start_broker(broker_nursery, heartbeat_interval=400)
        link = ConsumerLink(broker.link_settings(), 0, backoff=FAST)
        ready = trio.Event()
        link.on_ready = ready.set

        async def run_link() -> None:
            await link.run(trio.open_memory_channel[Payload](100)[0])
            link_done.set()

        nursery.start_soon(run_link)
        await ready.wait()
        await trio.sleep(1.0)
        assert link.stats.connects == 1
        assert broker.running.broker.closes == {}
        await broker.running.broker.shutdown()
        broker_nursery.cancel_scope.cancel()
    await trio.sleep(0.2)
    assert not link_done.is_set() and link.stats.connects == 1


async def test_catches_up_at_ready_while_nobody_sends(broker: LiveBroker, nursery: trio.Nursery) -> None:
    """READY carries the stream's latest seq (extension): the link replays up to it at once,
    without waiting for a live payload that may never come (issue 13.8)."""
    async with producer(broker) as prod:
        await prod.submit(20)
    link = ConsumerLink(broker.link_settings(), 5, backoff=FAST)
    send, receive = trio.open_memory_channel[Payload](0)
    nursery.start_soon(link.run, send)
    got = await take(receive, 15)
    assert [p.seq for p in got] == list(range(6, 21))
    async with producer(broker) as prod:
        await prod.submit(2)
        assert [p.seq for p in await take(receive, 2)] == [21, 22]
