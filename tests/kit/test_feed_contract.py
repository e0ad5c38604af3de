"""The consumer-feed contract, run against the WebSocket link (a real in-process broker) and the
kit's FakeFeed; and against broken feeds, which it must fail."""

from __future__ import annotations

import attrs
import pytest
import trio

from wearstream.adapters.websocket.consumer_link import ConsumerLink, LinkSettings
from wearstream.domain.backoff import Backoff
from wearstream.domain.stream import Payload
from wearstream.ports.consumer import BrokerFeed
from wearstream.testing.contracts.consumer_link import BrokerFeedContract, FeedHarness
from wearstream.testing.fake_feed import FakeFeed, FakeFeedLink
from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.numbered_producer import open_numbered_producer

FAST = Backoff(initial=0.01, maximum=0.05)


@attrs.define
class BrokerHarness:
    broker: LiveBroker
    published: int = 0
    connected: trio.Event = attrs.field(factory=trio.Event)

    async def publish(self, count: int, uid: str) -> list[int]:
        b = self.broker
        async with open_numbered_producer(b.api_url, b.ws_url, b.dev_id, b.api_key, uid) as p:
            await p.submit(count)
        first, self.published = self.published + 1, self.published + count
        return list(range(first, self.published + 1))

    def _settings(self, api_key: str) -> LinkSettings:
        b = self.broker
        return LinkSettings(b.api_url, b.ws_url, b.dev_id, api_key)

    def feed(self, start: int) -> BrokerFeed:
        self.connected = trio.Event()
        return ConsumerLink(
            self._settings(self.broker.api_key), start, backoff=FAST, on_ready=self.connected.set
        )

    async def ready(self) -> None:
        await self.connected.wait()

    def refused_feed(self) -> BrokerFeed:
        return ConsumerLink(self._settings("not-the-key"), 0, backoff=FAST)


@attrs.define
class FakeHarness:
    source: FakeFeed = attrs.field(factory=FakeFeed)
    broken: type[FakeFeedLink] = FakeFeedLink

    async def publish(self, count: int, uid: str) -> list[int]:
        return [self.source.publish(uid, "HEART_RATE", {"val": n}).seq for n in range(count)]

    def feed(self, start: int) -> BrokerFeed:
        return self.broken(self.source, start)

    async def ready(self) -> None:
        pass

    def refused_feed(self) -> BrokerFeed:
        source = FakeFeed()
        source.refuse()
        return self.broken(source, 0)


class TestConsumerLink(BrokerFeedContract):
    async def make_harness(self, nursery: trio.Nursery) -> FeedHarness:
        return BrokerHarness(await start_broker(nursery, "feed contract"))


class TestFakeFeed(BrokerFeedContract):
    async def make_harness(self, nursery: trio.Nursery) -> FeedHarness:
        return FakeHarness()


# Broken feeds: the suite must fail each -------------------------------------------------------


class Repeats(FakeFeedLink):
    async def run(self, out: trio.MemorySendChannel[Payload]) -> None:
        class Twice:
            async def send(self, payload: Payload) -> None:
                await out.send(payload)
                await out.send(payload)

        await super().run(Twice())  # type: ignore[arg-type]


class IgnoresCursor(FakeFeedLink):
    def __init__(self, source: FakeFeed, start: int) -> None:
        super().__init__(source, 0)


class NeverStops(FakeFeedLink):
    async def run(self, out: trio.MemorySendChannel[Payload]) -> None:
        self.source.refusal = None
        await super().run(out)


def broken(link: type[FakeFeedLink]) -> BrokerFeedContract:
    class Suite(BrokerFeedContract):
        wait_s = 0.5

        async def make_harness(self, nursery: trio.Nursery) -> FeedHarness:
            return FakeHarness(broken=link)

    return Suite()


async def test_a_feed_that_repeats_payloads_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="out of order, repeated or missing"):
        await broken(Repeats).test_live_payloads_in_order_each_once(nursery)


async def test_a_feed_that_ignores_its_cursor_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="cursor"):
        await broken(IgnoresCursor).test_starts_after_the_cursor(nursery)


async def test_a_feed_that_never_stops_on_refusal_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(trio.TooSlowError):
        await broken(NeverStops).test_refused_credentials_stop_with_a_reason(nursery)
