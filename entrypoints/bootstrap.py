"""The composition roots: where each kind of process is built from its options and adapters.

One function per process kind, in the manner of cosmicpython's ``bootstrap.py``: every command,
the demo and the testing kit build their producers and consumers here, and every outside thing
is an argument with the production adapter as its default, so a test passes a fake instead
(``wearstream.testing``: FakeDevice, FakeBrokerLink, FakeTokenProvider, FakeFeed, …).

- ``build_producer``: devices → outbox → broker link (``wearstream producer``, ``demo``,
  ``testing.fixtures``).
- ``consumer_feed``: the consumer's link to the broker (``wearstream consumer``,
  ``wearstream.connect_consumer``).
- the broker: ``entrypoints.broker.serve_broker(settings, stores=…)`` (``wearstream broker``,
  ``demo``, ``testing.fixtures``).
"""

from __future__ import annotations

from typing import Sequence

from ..adapters.websocket.consumer_link import ConsumerLink, LinkSettings
from ..adapters.websocket.producer_link import LinkConfig, ProducerLink
from ..ports.consumer import BrokerFeed, FeedFactory
from ..ports.devices import SampleSource
from ..ports.producer import BrokerLink, Outbox, TokenProvider
from .producer_core import Producer


def build_producer(
    user_id: str,
    sources: Sequence[SampleSource],
    outbox: Outbox,
    *,
    link: BrokerLink | None = None,
    broker_url: str | None = None,
    tokens: TokenProvider | None = None,
    link_config: LinkConfig = LinkConfig(),
    drain_timeout: float = 3.0,
) -> Producer:
    """A producer for ``user_id``: ``sources`` feed ``outbox``, which ``link`` drains. Without a
    ``link``, the WebSocket link to ``broker_url`` with ``tokens`` (both then required)."""
    if link is None:
        if broker_url is None or tokens is None:
            raise TypeError("build_producer needs broker_url and tokens, or link=")
        link = ProducerLink(broker_url, tokens, outbox, link_config)
    return Producer(user_id, sources, outbox, link, drain_timeout=drain_timeout)


def consumer_feed(
    api_url: str | None,
    broker_url: str | None,
    dev_id: str | None,
    api_key: str | None,
    *,
    tokens: TokenProvider | None = None,
) -> FeedFactory:
    """The consumer's WebSocket link to ``broker_url`` as a function of the start seq; tokens
    are minted from ``api_url`` with the API key unless ``tokens`` says otherwise."""
    if api_url is None or broker_url is None or dev_id is None or api_key is None:
        raise TypeError("connect_consumer needs api_url, broker_url, dev_id and api_key, or link=")
    settings = LinkSettings(api_url, broker_url, dev_id, api_key)

    def make(start: int) -> BrokerFeed:
        return ConsumerLink(settings, start, tokens=tokens)

    return make
