"""The broker-link contract, run on the WebSocket ProducerLink (a real in-process broker) and the
kit's FakeBrokerLink; and on broken links, which it must fail."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

from wearstream.adapters.http.token_providers import ApiTokenProvider
from wearstream.adapters.websocket.producer_link import ProducerLink
from wearstream.domain.stream import ReplayRange
from wearstream.ports.producer import BrokerLink, Outbox
from wearstream.testing.contracts.broker_link import USER, BrokerLinkContract, LinkHarness
from wearstream.testing.fake_broker_link import FakeBrokerLink
from wearstream.testing.fixtures import LiveBroker, start_broker


@attrs.define
class BrokerHarness:
    broker: LiveBroker

    def link(self, outbox: Outbox) -> BrokerLink:
        return ProducerLink(self.broker.ws_url, self.broker.token_provider(USER), outbox)

    def refused_link(self, outbox: Outbox) -> BrokerLink:
        b = self.broker
        return ProducerLink(b.ws_url, ApiTokenProvider(b.api_url, b.dev_id, "not-the-key", USER), outbox)

    async def values(self) -> list[Any]:
        log = self.broker.running.stores.log
        return [p.d["val"] for p in await log.read_range(self.broker.dev_id, ReplayRange(0, 2**62), 1000)]


@attrs.define
class FakeHarness:
    kind: type[FakeBrokerLink] = FakeBrokerLink
    links: list[FakeBrokerLink] = attrs.field(factory=list)

    def link(self, outbox: Outbox) -> BrokerLink:
        self.links.append(self.kind(outbox))
        return self.links[-1]

    def refused_link(self, outbox: Outbox) -> BrokerLink:
        link = self.kind(outbox)
        link.refuse("wrong credentials")
        return link

    async def values(self) -> list[Any]:
        return [s.value for link in self.links for s in link.samples]


class TestProducerLink(BrokerLinkContract):
    async def make_harness(self, nursery: trio.Nursery) -> LinkHarness:
        return BrokerHarness(await start_broker(nursery, "link contract"))


class TestFakeBrokerLink(BrokerLinkContract):
    async def make_harness(self, nursery: trio.Nursery) -> LinkHarness:
        return FakeHarness()


# Broken links: the contract must fail each ------------------------------------------------------


class SendsTwice(FakeBrokerLink):
    async def run(self) -> None:
        class Twice(list):  # type: ignore[type-arg]
            def extend(self, items: Any) -> None:
                items = list(items)
                super().extend(items + items)

        self.samples = Twice()
        await super().run()


class AcksBeforeStopping(FakeBrokerLink):
    async def run(self) -> None:
        reason, self.refusal = self.refusal, None
        with trio.move_on_after(0.1):
            await super().run()
        self.refusal = reason
        await super().run()


def broken(kind: type[FakeBrokerLink]) -> BrokerLinkContract:
    class Suite(BrokerLinkContract):
        wait_s = 0.5

        async def make_harness(self, nursery: trio.Nursery) -> LinkHarness:
            return FakeHarness(kind)

    return Suite()


async def test_a_link_delivering_twice_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="out of order or twice"):
        await broken(SendsTwice).test_delivers_the_outbox_in_order_and_empties_it(nursery)


async def test_a_refused_link_that_empties_the_outbox_fails(nursery: trio.Nursery) -> None:
    with pytest.raises(AssertionError, match="leave the outbox as it was"):
        await broken(AcksBeforeStopping).test_refused_credentials_stop_the_link(nursery)
