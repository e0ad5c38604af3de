"""The consumer-feed contract: what ``wearstream.connect_consumer`` relies on from every
``BrokerFeed`` (the WebSocket ``ConsumerLink`` and the kit's ``FakeFeed`` both pass it).

Subclass ``BrokerFeedContract`` as ``Test…`` and implement ``make_harness``: a ``FeedHarness``
that publishes readings into the developer's stream and makes feeds of it. ``wait_s`` bounds
each wait, so that a feed that hangs fails the test instead of hanging it.
"""

from __future__ import annotations

import abc
from typing import Protocol

import trio

from ...domain.errors import ConsumerStopped
from ...domain.stream import Payload
from ...ports.consumer import BrokerFeed

USER = "contract-user"


class FeedHarness(Protocol):
    async def publish(self, count: int, uid: str) -> list[int]:
        """Append ``count`` HEART_RATE readings of ``uid``; the seqs they were given."""
        ...

    def feed(self, start: int) -> BrokerFeed:
        """A new feed of the stream after ``start``, not yet running."""
        ...

    async def ready(self) -> None:
        """Return once the last feed made is connected (so that what is published now is live)."""
        ...

    def refused_feed(self) -> BrokerFeed:
        """A feed whose credentials the other side refuses."""
        ...


class BrokerFeedContract(abc.ABC):
    wait_s: float = 10.0

    @abc.abstractmethod
    async def make_harness(self, nursery: trio.Nursery) -> FeedHarness: ...

    async def _started(
        self, harness: FeedHarness, start: int, nursery: trio.Nursery
    ) -> tuple[BrokerFeed, trio.MemoryReceiveChannel[Payload]]:
        feed = harness.feed(start)
        send, receive = trio.open_memory_channel[Payload](100)
        nursery.start_soon(feed.run, send)
        with trio.fail_after(self.wait_s):
            await harness.ready()
        return feed, receive

    async def _take(self, receive: trio.MemoryReceiveChannel[Payload], n: int) -> list[Payload]:
        with trio.fail_after(self.wait_s):
            return [await receive.receive() for _ in range(n)]

    async def _quiet(self, receive: trio.MemoryReceiveChannel[Payload]) -> None:
        with trio.move_on_after(0.2):
            extra = await receive.receive()
            raise AssertionError(f"an extra payload came: seq {extra.seq}")

    async def test_live_payloads_in_order_each_once(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        feed, receive = await self._started(harness, 0, nursery)
        seqs = await harness.publish(3, USER)
        got = await self._take(receive, 3)
        assert [p.seq for p in got] == seqs, "payloads out of order, repeated or missing"
        assert {(p.uid, p.t) for p in got} == {(USER, "HEART_RATE")}
        assert all(p.developer_id for p in got), "a payload needs its developer id"
        await self._quiet(receive)
        assert feed.cursor == seqs[-1], "cursor is not the last seq sent on"

    async def test_stored_payloads_come_before_live_ones(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        stored = await harness.publish(3, USER)
        feed, receive = await self._started(harness, 0, nursery)
        live = await harness.publish(1, USER)
        got = await self._take(receive, 4)
        assert [p.seq for p in got] == stored + live
        await self._quiet(receive)

    async def test_starts_after_the_cursor(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        stored = await harness.publish(4, USER)
        feed, receive = await self._started(harness, stored[1], nursery)
        assert feed.cursor == stored[1], "before sending anything, cursor is the start seq"
        live = await harness.publish(1, USER)
        got = await self._take(receive, 3)
        assert [p.seq for p in got] == stored[2:] + live, "payloads at or before the cursor came"
        await self._quiet(receive)

    async def test_refused_credentials_stop_with_a_reason(self, nursery: trio.Nursery) -> None:
        harness = await self.make_harness(nursery)
        send, _ = trio.open_memory_channel[Payload](1)
        try:
            with trio.fail_after(self.wait_s):
                await harness.refused_feed().run(send)
        except ConsumerStopped as stopped:
            assert stopped.reason.strip(), "ConsumerStopped needs a reason to show the user"
        else:
            raise AssertionError("run() returned: it must raise ConsumerStopped or run on")
