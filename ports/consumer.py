"""The consumer-side port: the link that brings the developer's payloads from the broker.

``BrokerFeed`` is to the consumer what ``BrokerLink`` is to the producer: the consumer
(``wearstream consumer``, ``wearstream.connect_consumer``) only reads payloads off a channel and
knows nothing of WebSockets or tokens. Adapters: ``adapters.websocket.consumer_link.ConsumerLink``
(the real one) and ``wearstream.testing.fake_feed.FakeFeed`` (in-process, for tests); both pass
``wearstream.testing.contracts.consumer_link``.
"""

from __future__ import annotations

from typing import Callable, Protocol

from trio import MemorySendChannel

from ..domain.stream import Payload


class BrokerFeed(Protocol):
    """Streams the developer's payloads after a start seq into a channel, across reconnects.

    ``run`` sends every payload with ``seq`` above the start, in seq order, each once (a gap is
    replayed before what follows it), never returns normally, and raises
    ``wearstream.domain.errors.ConsumerStopped`` only when reconnecting cannot help.
    """

    @property
    def cursor(self) -> int:
        """The last seq sent into the channel (the start seq before any)."""
        ...

    async def run(self, out: MemorySendChannel[Payload]) -> None: ...


FeedFactory = Callable[[int], BrokerFeed]
"""Builds the feed that starts after the given seq: the ``link=`` seam of ``connect_consumer``."""
