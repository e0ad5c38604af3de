"""An in-process broker for tests, with a ready developer and the helpers to use it.

The real broker (``serve_broker``: WebSocket and HTTP API on one free port of 127.0.0.1, memory
stores), not a stand-in, so a test of a plug-in meets the same protocol, tokens and acks as
production. It is wired as ``wearstream demo`` wires it: producers mint their tokens over
HTTP and stream through their own outbox and WebSocket link; a consumer uses
``connect_consumer`` like an application embedding wearstream would.

Use the ``wearstream_broker`` fixture of the pytest plug-in, or ``start_broker(nursery)``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterable, Sequence

import attrs
import trio

from ..adapters.http.token_providers import ApiTokenProvider
from ..adapters.http.tokens_client import mint_developer_token, mint_user_token
from ..adapters.storage.outbox import MemoryOutbox
from ..entrypoints.bootstrap import build_producer
from ..entrypoints.broker import BrokerSettings, RunningBroker, serve_broker
from ..entrypoints.connect import ConsumerStream, connect_consumer
from ..entrypoints.plugins import open_device
from ..entrypoints.producer_core import Producer
from ..entrypoints.state import NewDeveloper, create_developer
from ..ports.devices import SampleSource
from ..ports.sinks import SampleSink

CONNECT_TIMEOUT_S = 10.0  # a hang guard for a consumer that cannot connect
POLL_S = 0.005


@attrs.frozen
class LiveBroker:
    """A running broker and one developer of it, with its only copy of the API key."""

    running: RunningBroker
    developer: NewDeveloper

    @property
    def ws_url(self) -> str:
        return self.running.ws_url

    @property
    def api_url(self) -> str:
        return self.running.api_url

    @property
    def dev_id(self) -> str:
        return self.developer.dev_id

    @property
    def api_key(self) -> str:
        return self.developer.api_key

    async def user_token(self, user_id: str) -> str:
        """A fresh producer token for ``user_id`` (single use, as from ``POST /auth/user``)."""
        return await mint_user_token(self.api_url, self.dev_id, self.api_key, user_id)

    async def developer_token(self) -> str:
        """A fresh consumer token (``POST /auth/developer``)."""
        return await mint_developer_token(self.api_url, self.dev_id, self.api_key)

    def token_provider(self, user_id: str) -> ApiTokenProvider:
        """What a producer link needs to mint its tokens as ``user_id``."""
        return ApiTokenProvider(self.api_url, self.dev_id, self.api_key, user_id)

    def producer(
        self, user_id: str, devices: Sequence[SampleSource | str], **options: Any
    ) -> Producer:
        """A producer for ``user_id`` with a memory outbox, ready to ``run()`` in a nursery.

        ``devices`` are sessions or device specs (``"sim:hr-strap?rate=20"``); ``options`` go to
        the Producer (``drain_timeout``)."""
        sources = [open_device(d) if isinstance(d, str) else d for d in devices]
        tokens = self.token_provider(user_id)
        return build_producer(user_id, sources, MemoryOutbox(), broker_url=self.ws_url, tokens=tokens, **options)

    @asynccontextmanager
    async def consumer(
        self,
        *,
        cursor: int | SampleSink = 0,
        users: Iterable[str] | None = None,
        types: Iterable[str] | None = None,
    ) -> AsyncIterator[ConsumerStream]:
        """The developer's consumer stream, from ``cursor`` (a seq or a sink that keeps one),
        yielded once the broker has it identified: a consumer only learns of a gap after its
        cursor from a live payload, so a test should produce after this, not before."""
        before = self.running.hub.consumer_count()
        async with connect_consumer(
            api_url=self.api_url,
            broker_url=self.ws_url,
            dev_id=self.dev_id,
            api_key=self.api_key,
            cursor=cursor,
            users=users,
            types=types,
        ) as stream:
            with trio.fail_after(CONNECT_TIMEOUT_S):
                while self.running.hub.consumer_count() <= before:
                    await trio.sleep(POLL_S)
            yield stream


async def start_broker(
    nursery: trio.Nursery, developer: str = "tests", **settings: Any
) -> LiveBroker:
    """Start a broker in ``nursery`` (free ports, memory stores unless ``data_dir=``) and create
    a developer in it. ``settings`` are BrokerSettings fields (``max_consumers=2``)."""
    options: dict[str, Any] = {"port": 0, **settings}
    running: RunningBroker = await nursery.start(serve_broker, BrokerSettings(**options))
    created = await create_developer(running.stores.developers, developer)
    return LiveBroker(running, created)
