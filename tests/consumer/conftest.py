"""The kit's in-process broker (the real one: 127.0.0.1 port 0, memory stores) with a developer,
and a plain WebSocket producer that submits numbered readings."""

from __future__ import annotations

from typing import Any, AsyncContextManager

import attrs
import pytest
import trio

from wearstream.adapters.websocket.consumer_link import LinkSettings
from wearstream.testing import fixtures as kit
from wearstream.testing.numbered_producer import NumberedProducer, open_numbered_producer


@attrs.frozen
class LiveBroker(kit.LiveBroker):
    """The kit's broker, and what the consumer tests do to it from the broker's side."""

    def link_settings(self, **overrides: object) -> LinkSettings:
        settings = LinkSettings(self.api_url, self.ws_url, self.dev_id, self.api_key)
        return attrs.evolve(settings, **overrides)

    def consumers(self) -> set[object]:
        return {c for c in self.running.broker.connections if c.queue is not None}

    async def wait_new_consumer(self, old: set[object] = frozenset()) -> None:  # type: ignore[assignment]
        """Wait until a consumer other than those in ``old`` has identified."""
        with trio.fail_after(10):
            while not self.consumers() - old:
                await trio.sleep(0.01)

    async def drop_consumers(self, code: int = 1011, reason: str = "test drop") -> int:
        """Close every identified consumer connection from the broker's side."""
        closing = list(self.consumers())
        for connection in closing:
            await connection.close(code, reason)  # type: ignore[arg-type]
        return len(closing)


async def start_broker(nursery: trio.Nursery, **settings: Any) -> LiveBroker:
    live = await kit.start_broker(nursery, "consumer tests", **settings)
    return LiveBroker(live.running, live.developer)


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery)


def producer(broker: LiveBroker, user: str = "u1") -> AsyncContextManager[NumberedProducer]:
    """A producer identified for ``user`` that submits numbered readings (``val`` = 1, 2, …)."""
    return open_numbered_producer(broker.api_url, broker.ws_url, broker.dev_id, broker.api_key, user)
