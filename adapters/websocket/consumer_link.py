"""The consumer's WebSocket client (the ``BrokerFeed`` port): connect, identify, heartbeat,
resume, reconnect.

Decisions live in the domain: ``consumer.Resume`` (gap replay and duplicates),
``heartbeats.Heartbeats`` (the client's heartbeat rule, shared with the producer) and
``linkfaults.LinkHistory`` (what a close code, a refused handshake or a failed mint means, from
the one table in ``closecodes``). This adapter moves frames and time: one connection at a time,
each in its own nursery (reader plus heartbeat), a fresh token from the ``TokenProvider`` for
every connect (tokens are single use), and ``Backoff`` between attempts. Payloads go out, in seq order and each once, on a
bounded memory channel, so a slow sink slows the reader (and the broker switches this consumer to
catch-up) instead of growing memory.
"""

from __future__ import annotations

import logging
import random
from typing import Callable

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from ...domain.backoff import Backoff
from ...domain.closecodes import Advice
from ...domain.consumer import DEFAULT_BUFFER, Resume
from ...domain.errors import ConsumerStopped, CredentialsError, ProtocolError, TokenUnavailable
from ...domain.frames import (
    Dispatch,
    Frame,
    Heartbeat,
    HeartbeatAck,
    Hello,
    Identify,
    Ready,
    Replay,
    WarningFrame,
)
from ...domain.heartbeats import Heartbeats
from ...domain.identity import Role
from ...domain.linkfaults import Decision, LinkHistory
from ...domain.stream import Payload
from ...ports.producer import TokenProvider
from ..http.token_providers import DeveloperTokenProvider
from . import codec
from .faults import close_fault, connect_fault, tls_preflight

log = logging.getLogger("wearstream.consumer")

HANDSHAKE_TIMEOUT = 15.0  # from opening the socket to READY
# How long READY's seq may stay below the cursor before the link stops: a node of several
# follows the shared log a moment behind (up to a few seconds after a Redis hiccup); a stream
# that is another's stays behind.
BEHIND_GRACE = 30.0
CLOSE_TIMEOUT = 2.0


__all__ = ["ConsumerLink", "ConsumerStopped", "LinkSettings", "LinkStats"]


class _Dropped(Exception):
    """This connection is unusable (no HELLO first): reconnect."""


@attrs.frozen
class LinkSettings:
    api_url: str
    broker_url: str
    dev_id: str
    api_key: str
    buffer_limit: int = DEFAULT_BUFFER  # live payloads held back while a gap replay streams


@attrs.define
class LinkStats:
    connects: int = 0
    replays: int = 0


class ConsumerLink:
    """The BrokerFeed port over WebSockets: runs until cancelled, or raises ConsumerStopped.

    ``tokens`` mints a developer token per connection attempt; by default from the broker's
    HTTP API with the settings' API key (``DeveloperTokenProvider``)."""

    def __init__(
        self,
        settings: LinkSettings,
        cursor: int = 0,
        *,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        on_ready: Callable[[], None] | None = None,
        tokens: TokenProvider | None = None,
        behind_grace: float = BEHIND_GRACE,
    ) -> None:
        self.settings = settings
        self.tokens = tokens or DeveloperTokenProvider(
            settings.api_url, settings.dev_id, settings.api_key
        )
        self.resume = Resume(cursor, settings.buffer_limit)
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.stats = LinkStats()
        self.on_ready = on_ready
        self.history = LinkHistory()
        self.behind_grace = behind_grace
        self._behind_since: float | None = None  # since when READY's seq is below the cursor
        self._behind_now = False  # this attempt's READY was below the cursor

    @property
    def cursor(self) -> int:
        return self.resume.cursor

    async def run(self, out: trio.MemorySendChannel[Payload]) -> None:
        """Connect, stream into ``out``, reconnect after drops; never returns normally."""
        while True:
            self._behind_now = False
            decision = await self._attempt(out)
            if not self._behind_now:  # READY was not behind, or did not come: the grace restarts
                self._behind_since = None
            if decision.stop:
                raise ConsumerStopped(decision.message)
            delay = self.backoff.next_delay()
            log.warning("%s (retrying in %.1f s)", decision.message, delay)
            await trio.sleep(delay)

    async def _attempt(self, out: trio.MemorySendChannel[Payload]) -> Decision:
        s = self.settings
        try:
            token = await self.tokens.token()
        except TokenUnavailable as error:
            return Decision(Advice.RETRY, str(error))
        except CredentialsError as error:
            return Decision(Advice.STOP, error.reason)
        fault = await tls_preflight(s.broker_url, self.history, HANDSHAKE_TIMEOUT)
        if fault is not None:
            return self.history.decide(fault)
        try:
            async with open_websocket_url(
                s.broker_url, connect_timeout=HANDSHAKE_TIMEOUT, disconnect_timeout=CLOSE_TIMEOUT
            ) as ws:
                return await self._session(ws, token, out)
        except (OSError, HandshakeError) as error:
            return self.history.decide(await connect_fault(error, s.broker_url, HANDSHAKE_TIMEOUT))

    async def _session(
        self, ws: WebSocketConnection, token: str, out: trio.MemorySendChannel[Payload]
    ) -> Decision:
        """One connection, from HELLO to its close; returns what the close means."""
        async with trio.open_nursery() as nursery:
            try:
                with trio.fail_after(HANDSHAKE_TIMEOUT):
                    interval, ready, early = await self._identify(ws, token)
                if ready.seq is not None and ready.seq < self.resume.cursor:
                    with trio.move_on_after(CLOSE_TIMEOUT):
                        await ws.aclose(1000, "the sink's cursor is past the stream")
                    return self._behind(ready.seq)
                beats = Heartbeats.start(trio.current_time(), interval, self.rng.random())
                self._beats = beats
                nursery.start_soon(self._heartbeat, ws, beats)
                self._ready()
                for rng in self.resume.ready(ready.seq):
                    self.stats.replays += 1
                    await ws.send_message(codec.encode(Replay(rng)))
                for frame in early:
                    await self._dispatched(ws, frame, out)
                await self._stream(ws, out)
            except ConnectionClosed as closed:
                decision = self.history.decide(close_fault(closed, self.settings.broker_url))
            except (_Dropped, trio.TooSlowError) as error:
                why = str(error) or f"no READY within {HANDSHAKE_TIMEOUT:g} s"
                decision = Decision(Advice.RETRY, why)
                with trio.move_on_after(CLOSE_TIMEOUT):
                    await ws.aclose(1000, why[:120])
            nursery.cancel_scope.cancel()
        return decision

    async def _identify(
        self, ws: WebSocketConnection, token: str
    ) -> tuple[float, Ready, list[Dispatch]]:
        """HELLO, IDENTIFY (opting in to extensions: every data type, WARNING frames), READY:
        the heartbeat interval in seconds, the READY (its ``seq`` says how far the stream is),
        and any DISPATCH that overtook it (the broker starts a consumer's sender just before)."""
        hello = await self._receive(ws)
        if not isinstance(hello, Hello):
            raise _Dropped(f"the broker's first frame was op {int(hello.op)}, not HELLO")
        await ws.send_message(codec.encode(Identify(token, Role.CONSUMER, extensions=True)))
        early = []
        while not isinstance(frame := await self._receive(ws), Ready):
            if isinstance(frame, Dispatch):
                early.append(frame)
        return hello.heartbeat_interval / 1000, frame, early

    def _behind(self, latest: int) -> Decision:
        """READY says the stream ends before the cursor: tried again for ``behind_grace`` s (a
        node may follow the shared log a moment behind), then a stop. Resuming would skip the
        payloads up to the cursor without a word: the sink holds another stream (written for
        another developer, or before the broker lost its data, as a restarted in-memory one)."""
        now = trio.current_time()
        self._behind_now = True
        if self._behind_since is None:
            self._behind_since = now
        message = (
            f"the sink's cursor is at seq {self.resume.cursor}, but developer "
            f"{self.settings.dev_id}'s stream on the broker ends at seq {latest}: the sink holds "
            "another stream (another developer's, or one the broker no longer has). Point --sink "
            "at a new target: one sink target holds one developer's stream"
        )
        waited = now - self._behind_since
        if waited >= self.behind_grace:
            return Decision(Advice.STOP, message)
        left = self.behind_grace - waited
        return Decision(Advice.RETRY, f"{message}; stopping in {left:.0f} s unless a node was behind")

    def _ready(self) -> None:
        self.resume.connected()
        self.backoff.reset()
        self.history.ready()
        self.stats.connects += 1
        log.info("ready; resuming after seq %d", self.resume.cursor)
        if self.on_ready is not None:
            self.on_ready()

    async def _stream(self, ws: WebSocketConnection, out: trio.MemorySendChannel[Payload]) -> None:
        while True:
            frame = await self._receive(ws)
            if isinstance(frame, Dispatch):
                await self._dispatched(ws, frame, out)
            elif isinstance(frame, WarningFrame):
                log.warning("the broker dropped a frame of ours (op %d): %s", frame.about, frame.reason)

    async def _dispatched(
        self, ws: WebSocketConnection, frame: Dispatch, out: trio.MemorySendChannel[Payload]
    ) -> None:
        if frame.trimmed is not None and frame.trimmed > self.resume.cursor:
            log.warning(
                "the broker's retention removed payloads %d to %d before they could be replayed: "
                "they are lost to this consumer", self.resume.cursor + 1, frame.trimmed,
            )
        payload = attrs.evolve(frame.payload, developer_id=self.settings.dev_id)
        step = self.resume.received(payload)
        for rng in step.replays:
            self.stats.replays += 1
            await ws.send_message(codec.encode(Replay(rng)))
        for payload in step.deliver:
            await out.send(payload)

    async def _heartbeat(self, ws: WebSocketConnection, beats: Heartbeats) -> None:
        """One beat per interval as ``Heartbeats`` says; a beat still unanswered when the next
        is due means the broker is gone: the connection is closed, which ends the reader, and
        the link reconnects."""
        try:
            while True:
                await trio.sleep_until(beats.next_at)
                if not beats.beat(trio.current_time()):
                    log.warning("no HEARTBEAT_ACK within %g s: dropping the connection", beats.interval)
                    with trio.move_on_after(CLOSE_TIMEOUT):
                        await ws.aclose(1000, "no HEARTBEAT_ACK")
                    return
                await ws.send_message(codec.encode(Heartbeat()))
        except ConnectionClosed:
            return  # the reader sees the close too, and reports it

    _beats: Heartbeats | None = None  # the current connection's, acked by the reader

    async def _receive(self, ws: WebSocketConnection) -> Frame:
        """The next frame from the broker; HEARTBEAT_ACKs are noted, undecodable frames dropped."""
        while True:
            message = await ws.get_message()
            try:
                frame = codec.decode(message)
            except ProtocolError as error:
                log.warning("ignored a frame from the broker: %s", error.reason)
                continue
            if isinstance(frame, HeartbeatAck):
                if self._beats is not None:
                    self._beats.acked()
                continue
            return frame
