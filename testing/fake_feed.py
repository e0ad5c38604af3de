"""A developer's stream in memory and the consumer feeds that read it: the ``BrokerFeed`` port
without a broker, as httpx ships ``MockTransport`` beside its real transports.

    feed = FakeFeed()
    feed.publish("user-1", "HEART_RATE", {"ts": "...", "val": 61})
    async with wearstream.connect_consumer(link=feed.link) as stream:
        ...

It keeps the port's promises (``testing/contracts/consumer_link.py`` checks them against it and
against the WebSocket link): payloads after the start seq, in order, each once; ``refuse``
makes every feed stop with ``ConsumerStopped``, as refused credentials do.
"""

from __future__ import annotations

from typing import Any

import trio

from ..domain.errors import ConsumerStopped
from ..domain.stream import Payload, Stream


class FakeFeed:
    """One developer's stream; ``link(start)`` is a feed of it (the ``link=`` of connect_consumer)."""

    def __init__(self, developer_id: str = "fake-developer") -> None:
        self._stream = Stream(developer_id)
        self.payloads: list[Payload] = []
        self.refusal: str | None = None
        self._changed = trio.Event()

    def publish(self, uid: str, t: str, d: dict[str, Any]) -> Payload:
        """Append one reading, numbered as the broker would, and wake the feeds."""
        payload = self._stream.append(uid, t, dict(d))
        self.payloads.append(payload)
        self._wake()
        return payload

    def refuse(self, reason: str = "the fake feed refuses these credentials") -> None:
        """Every feed, running or not, stops with ``ConsumerStopped(reason)``."""
        self.refusal = reason
        self._wake()

    def link(self, start: int) -> "FakeFeedLink":
        return FakeFeedLink(self, start)

    async def changed(self) -> None:
        await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


class FakeFeedLink:
    """A ``BrokerFeed`` reading a FakeFeed from a start seq."""

    def __init__(self, source: FakeFeed, start: int) -> None:
        self.source = source
        self.cursor = start

    async def run(self, out: trio.MemorySendChannel[Payload]) -> None:
        while True:
            if self.source.refusal is not None:
                raise ConsumerStopped(self.source.refusal)
            pending = [p for p in self.source.payloads if p.seq > self.cursor]
            if not pending:
                await self.source.changed()
            for payload in pending:
                await out.send(payload)
                self.cursor = payload.seq
