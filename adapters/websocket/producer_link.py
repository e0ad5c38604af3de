"""The producer's WebSocket link to the broker: drains the outbox with acknowledged SUBMITs.

One connection at a time, made again after every drop with exponential backoff and full jitter
(reset once a connection reached READY). Each connection: HELLO, then a fresh single-use token
from the TokenProvider, IDENTIFY as a producer with the outbox's ``source`` and ``ack: true``,
READY; then four tasks in the connection's nursery:

- the reader: HEARTBEAT_ACKs and SUBMIT_ACKs (op 9) from the broker;
- the sender: SUBMITs from the outbox, in id order, while the in-flight window has room;
- the heartbeat: one per HELLO interval; an unanswered one means the link is dead;
- presence: a STATUS (op 8) per device whose presence changed, and all of them after a reconnect.

Beside the connections, one task deletes acknowledged entries from the outbox. An entry leaves
the outbox only once a SUBMIT_ACK covers its id, and the broker acknowledges only what is
durably in its log; after a reconnect everything unacknowledged is sent again, in order, and the
broker drops the resends it had already stored. The rules themselves are in
``wearstream.domain.producer``; this module moves frames and time.
"""

from __future__ import annotations

import logging
import random
from typing import Awaitable, Callable, TypeVar

import attrs
import trio
from trio_websocket import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    open_websocket_url,
)

from ...domain.backoff import Backoff
from ...domain.devices import DeviceStatus
from ...domain.errors import CredentialsError, ProtocolError, TokenUnavailable
from ...domain.frames import (
    Heartbeat,
    HeartbeatAck,
    Hello,
    Identify,
    Ready,
    Status,
    Submit,
    SubmitAck,
    WarningFrame,
)
from ...domain.identity import Role
from ...domain.closecodes import Advice
from ...domain.linkfaults import DEFAULT_MAX_REFUSED_TOKENS, Decision, Fault, LinkHistory
from ...domain.heartbeats import Heartbeats
from ...domain.producer import BrokerMisbehaved, InFlight, LinkStopped
from ...ports.producer import Outbox, TokenProvider
from . import codec
from .faults import close_fault, connect_fault, tls_preflight

log = logging.getLogger("wearstream.producer")

MAX_STATUS_TEXT = 256
F = TypeVar("F", Hello, Ready)


@attrs.frozen
class LinkConfig:
    window: int = 1000  # SUBMITs in flight (sent, not yet acknowledged) at most
    peek_batch: int = 500  # entries read from the outbox at a time
    connect_timeout: float = 10.0
    hello_timeout: float = 10.0
    ready_timeout: float = 10.0
    disconnect_timeout: float = 2.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_refused_tokens: int = DEFAULT_MAX_REFUSED_TOKENS  # fresh tokens refused in a row: stop


@attrs.define
class LinkState:
    """What the status line shows about the link."""

    connected: bool = False
    acked: int = -1  # the highest id acknowledged and deleted from the outbox
    connects: int = 0  # connections that reached READY
    problem: str | None = None  # why the link is down right now
    last_drop: str | None = None  # why the last connection or attempt ended


class Doorbell:
    """Wakes every task waiting for "something changed". Take ``event`` before checking the
    condition and wait on it after: a ring in between is then never missed."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def ring(self) -> None:
        self.event.set()
        self.event = trio.Event()


class _DeadLink(Exception):
    """This connection cannot go on (no heartbeat ack, a broker that broke a rule): drop it."""


@attrs.define
class _Attempt:
    """How one connection attempt went: what ended it, as a fault or as a decision already made."""

    worked: bool = False
    fault: Fault | None = None
    decision: Decision = Decision(Advice.RETRY, "connection lost")


class ProducerLink:
    """The BrokerLink port over WebSockets (see the module docstring)."""

    def __init__(
        self,
        url: str,
        tokens: TokenProvider,
        outbox: Outbox,
        config: LinkConfig = LinkConfig(),
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.tokens = tokens
        self.outbox = outbox
        self.config = config
        self.state = LinkState()
        self._rng = rng or random.Random()
        self._backoff = Backoff(config.backoff_initial, config.backoff_max, rng=self._rng)
        self._history = LinkHistory(config.max_refused_tokens)
        self._inflight = InFlight(config.window)
        self._more = Doorbell()  # the outbox grew
        self._acked = Doorbell()  # the broker acknowledged more
        self._deleted = Doorbell()  # acknowledged entries left the outbox
        self._presence: dict[str, tuple[int, DeviceStatus]] = {}
        self._presence_version = 0
        self._presence_changed = Doorbell()
        self._stop_at: float | None = None  # set by drain_until once the producer stops

    # The BrokerLink port --------------------------------------------------------------------

    def notify(self) -> None:
        self._more.ring()

    def report(self, status: DeviceStatus) -> None:
        self._presence_version += 1
        self._presence[status.device_id] = (self._presence_version, status)
        self._presence_changed.ring()

    def drain_until(self, deadline: float) -> None:
        self._stop_at = deadline

    async def wait_acked(self, upto: int) -> None:
        while True:
            event = self._deleted.event
            if self.state.acked >= upto:
                return
            await event.wait()

    async def run(self) -> None:
        """Stream until cancelled; raises LinkStopped when retrying cannot help."""
        stopped: LinkStopped | None = None
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._delete_acknowledged)
            try:
                await self._connect_forever()
            except LinkStopped as error:
                stopped = error
            nursery.cancel_scope.cancel()
        if stopped is not None:
            raise stopped

    # Connections -----------------------------------------------------------------------------

    async def _connect_forever(self) -> None:
        while True:
            attempt = await self._connect_once()
            if attempt.worked:
                self._backoff.reset()
            decision = attempt.decision
            if attempt.fault is not None:
                decision = self._history.decide(attempt.fault)
            if decision.stop:
                raise LinkStopped(decision.message)
            delay = self._backoff.next_delay()
            self.state.problem = self.state.last_drop = decision.message
            if self._stop_at is not None and trio.current_time() + delay >= self._stop_at:
                log.info("broker link: %s; not reconnecting: the producer is stopping", decision.message)
                return
            log.warning("broker link: %s; reconnecting in %.1f s", decision.message, delay)
            await trio.sleep(delay)

    async def _connect_once(self) -> _Attempt:
        attempt = _Attempt()
        self._inflight.rewind()
        attempt.fault = await tls_preflight(self.url, self._history, self.config.connect_timeout)
        if attempt.fault is not None:
            return attempt
        try:
            async with open_websocket_url(
                self.url,
                connect_timeout=self.config.connect_timeout,
                disconnect_timeout=self.config.disconnect_timeout,
            ) as ws:
                await self._session(ws, attempt)
        except HandshakeError as error:
            if not attempt.worked:  # else it failed only to close: the reason is already known
                attempt.fault = await connect_fault(error, self.url, self.config.connect_timeout)
        except ConnectionClosed as error:
            attempt.fault = close_fault(error, self.url)
        except (_DeadLink, TokenUnavailable) as error:
            attempt.decision = Decision(Advice.RETRY, str(error))
        except CredentialsError as error:
            attempt.decision = Decision(Advice.STOP, str(error))
        finally:
            self.state.connected = False
        return attempt

    async def _session(self, ws: WebSocketConnection, attempt: _Attempt) -> None:
        hello = await _expect(ws, Hello, self.config.hello_timeout)
        beats = Heartbeats.start(
            trio.current_time(), hello.heartbeat_interval / 1000, self._rng.random()
        )
        token = await self.tokens.token()  # only now: a token is used up by the IDENTIFY
        identify = Identify(token, Role.PRODUCER, self.outbox.source, ack=True, extensions=True)
        await ws.send_message(codec.encode(identify))
        await _expect(ws, Ready, self.config.ready_timeout)
        attempt.worked = True
        self._history.ready()
        self.state.connected = True
        self.state.connects += 1
        self.state.problem = None
        log.info("broker link: connected to %s", self.url)
        async with trio.open_nursery() as nursery:
            for task in (self._read, self._send_submits, self._send_presence, self._heartbeat):
                nursery.start_soon(self._guarded, task, ws, beats, attempt, nursery.cancel_scope)

    async def _guarded(
        self,
        task: Callable[[WebSocketConnection, Heartbeats], Awaitable[None]],
        ws: WebSocketConnection,
        beats: Heartbeats,
        attempt: _Attempt,
        scope: trio.CancelScope,
    ) -> None:
        """Run one task of a connection; the first to end (a close, a dead link) ends them all."""
        try:
            await task(ws, beats)
        except ConnectionClosed as error:
            attempt.fault = close_fault(error, self.url)
        except _DeadLink as error:
            attempt.decision = Decision(Advice.RETRY, str(error))
        scope.cancel()

    async def _read(self, ws: WebSocketConnection, beats: Heartbeats) -> None:
        while True:
            message = await ws.get_message()
            try:
                frame = codec.decode(message)
            except ProtocolError as error:
                log.warning("broker link: ignored a frame from the broker: %s", error.reason)
                continue
            if isinstance(frame, HeartbeatAck):
                beats.acked()
            elif isinstance(frame, SubmitAck):
                try:
                    if self._inflight.ack(frame.upto):
                        self._acked.ring()
                except BrokerMisbehaved as error:
                    raise _DeadLink(str(error)) from None
            elif isinstance(frame, WarningFrame):  # a reading the broker dropped (acked anyway)
                log.warning("broker link: the broker dropped a SUBMIT (id %s): %s",
                            frame.submit_id, frame.reason)
            else:
                log.debug("broker link: ignored op %d", frame.op)

    async def _send_submits(self, ws: WebSocketConnection, beats: Heartbeats) -> None:
        inflight = self._inflight
        while True:
            more, acked = self._more.event, self._acked.event
            if not inflight.room:
                await acked.wait()
                continue
            limit = min(inflight.room, self.config.peek_batch)
            entries = await self.outbox.peek(inflight.cursor, limit)
            if not entries:
                await more.wait()
                continue
            for entry in entries:
                # Counted as sent first: its ack may be read before this task runs again.
                inflight.sent(entry.id)
                submit = Submit(entry.sample.t, entry.sample.to_wire(), entry.id)
                await ws.send_message(codec.encode(submit))

    async def _heartbeat(self, ws: WebSocketConnection, beats: Heartbeats) -> None:
        while True:
            await trio.sleep_until(beats.next_at)
            if not beats.beat(trio.current_time()):
                raise _DeadLink(f"no HEARTBEAT_ACK within {beats.interval:g} s")
            await ws.send_message(codec.encode(Heartbeat()))

    async def _send_presence(self, ws: WebSocketConnection, beats: Heartbeats) -> None:
        sent: dict[str, int] = {}
        while True:
            changed = self._presence_changed.event
            for device_id, (version, status) in list(self._presence.items()):
                if sent.get(device_id) != version:
                    await ws.send_message(codec.encode(_status_frame(status)))
                    sent[device_id] = version
            await changed.wait()

    # The outbox ------------------------------------------------------------------------------

    async def _delete_acknowledged(self) -> None:
        """Delete acknowledged entries, coalescing acks that arrive while a delete runs."""
        while True:
            acked = self._acked.event
            upto = self._inflight.acked
            if upto > self.state.acked:
                await self.outbox.ack(upto)
                self.state.acked = upto
                self._deleted.ring()
            else:
                await acked.wait()


async def _expect(ws: WebSocketConnection, kind: type[F], timeout: float) -> F:
    with trio.move_on_after(timeout):
        message = await ws.get_message()
        try:
            frame = codec.decode(message)
        except ProtocolError as error:
            raise _DeadLink(f"the broker sent a bad frame: {error.reason}") from None
        if not isinstance(frame, kind):
            raise _DeadLink(f"expected {kind.__name__.upper()} from the broker, got op {frame.op}")
        return frame
    raise _DeadLink(f"no {kind.__name__.upper()} from the broker within {timeout:g} s")


def _status_frame(status: DeviceStatus) -> Status:
    def cut(text: str | None) -> str | None:
        return text[:MAX_STATUS_TEXT] if text else None

    return Status(status.connected, cut(status.device_id), cut(status.source), cut(status.reason))
