"""``wearstream.connect_consumer``: the consumer as a library, for applications that embed it.

    async with wearstream.connect_consumer(api_url=..., broker_url=..., dev_id=..., api_key=...,
                                           cursor=0) as stream:
        async for payload in stream:
            handle(payload)

The stream yields Payloads in seq order, each once, across reconnects (same link and resume
rules as ``wearstream consumer``).

Progress: a payload counts as handled once the caller asks for the next one (or leaves the
``async with`` normally); ``stream.position`` is the last handled seq. With ``cursor=`` a
SampleSink, that position is committed to it (``sink.write([], seq)``): before the stream waits
for more data, every ``commit_every`` payloads, on ``await stream.commit()`` and on a normal exit.
A process that dies therefore resumes after the last commit: the payloads after it come again
(at-least-once handling, exactly-once order). Leaving with an exception does not mark the payload
being handled.

``link=`` swaps the connection to the broker, as httpx's ``transport=`` does: a function of the
start seq returning a ``BrokerFeed`` (``wearstream.ports.consumer``), e.g. a
``wearstream.testing.fake_feed.FakeFeed``'s ``link`` for a test without a broker; the URLs and credentials
are then not needed.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterable

import trio

from ..domain.errors import ConsumerStopped
from ..domain.stream import Payload
from ..domain.subscriptions import Subscription
from ..ports.consumer import FeedFactory
from ..ports.sinks import SampleSink
from .bootstrap import consumer_feed

DEFAULT_BUFFER = 1000
DEFAULT_COMMIT_EVERY = 100


class ConsumerStream:
    """What ``connect_consumer`` yields: an async iterator of Payloads."""

    def __init__(
        self,
        receive: trio.MemoryReceiveChannel[Payload],
        subscription: Subscription,
        position: int,
        sink: SampleSink | None,
        commit_every: int,
    ) -> None:
        self._receive = receive
        self._subscription = subscription
        self._sink = sink
        self._commit_every = commit_every
        self._current: Payload | None = None
        self._committed = position
        self.position = position
        self.failure: ConsumerStopped | None = None

    def __aiter__(self) -> "ConsumerStream":
        return self

    async def __anext__(self) -> Payload:
        self.handled()
        while True:
            if self._due():
                await self.commit()
            try:
                payload = await self._receive.receive()
            except trio.EndOfChannel:
                await self.commit()
                if self.failure is not None:
                    raise self.failure from None
                raise StopAsyncIteration from None
            if self._subscription.matches(payload.uid, payload.t):
                self._current = payload
                return payload
            self.position = payload.seq  # filtered out: handled by definition

    async def commit(self) -> None:
        """Commit ``position`` to the cursor sink now (a no-op without one)."""
        if self._sink is not None and self.position > self._committed:
            await self._sink.write([], self.position)
            self._committed = self.position

    def handled(self) -> None:
        """The payload last returned has been handled: its seq becomes the position (called on
        the next iteration, and when the caller's ``async with`` block ends normally)."""
        if self._current is not None:
            self.position = self._current.seq
            self._current = None

    def _due(self) -> bool:
        idle = self._receive.statistics().current_buffer_used == 0
        return idle or self.position - self._committed >= self._commit_every


@asynccontextmanager
async def connect_consumer(
    *,
    api_url: str | None = None,
    broker_url: str | None = None,
    dev_id: str | None = None,
    api_key: str | None = None,
    cursor: int | SampleSink = 0,
    users: Iterable[str] | None = None,
    types: Iterable[str] | None = None,
    buffer: int = DEFAULT_BUFFER,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    link: FeedFactory | None = None,
) -> AsyncIterator[ConsumerStream]:
    """Connect as the developer's consumer and stream what comes after ``cursor``: a seq, or a
    SampleSink that keeps the position across runs (see the module docstring). ``users`` and
    ``types`` narrow what is yielded. Raises ConsumerStopped from the iteration when reconnecting
    cannot help (4002, refused credentials). ``link`` replaces the WebSocket link (see the module
    docstring); without it, the four connection arguments are required."""
    make_link = link or consumer_feed(api_url, broker_url, dev_id, api_key)
    sink = None if isinstance(cursor, int) else cursor
    start = cursor if isinstance(cursor, int) else await cursor.open()
    broker_feed = make_link(start)
    send, receive = trio.open_memory_channel[Payload](buffer)
    stream = ConsumerStream(receive, Subscription(users, types), start, sink, commit_every)

    async def feed() -> None:
        async with send:
            try:
                await broker_feed.run(send)
            except ConsumerStopped as stopped:
                stream.failure = stopped

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            try:
                yield stream
                stream.handled()  # a normal exit: the last payload was handled
            finally:
                nursery.cancel_scope.cancel()
                with trio.CancelScope(shield=True):
                    await stream.commit()
    except BaseExceptionGroup as group:
        # One error (the caller's own, or ConsumerStopped from the iteration) comes out as
        # itself, so that ``except wearstream.ConsumerStopped`` works around the ``async with``.
        if len(group.exceptions) == 1 and not isinstance(group.exceptions[0], BaseExceptionGroup):
            raise group.exceptions[0] from None
        raise
    finally:
        if sink is not None:
            with trio.CancelScope(shield=True):
                await sink.aclose()

