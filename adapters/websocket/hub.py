"""The broker's hub: numbers every payload, stores it, and fans it out to the developer's consumers.

One writer task owns the sequence numbers. Producers hand it readings through a bounded memory
channel (backpressure: a log that cannot keep up slows producers down, it never drops data); the
writer takes whatever has queued up as one batch, allocates seqs in that order, appends the batch
to the StreamLog in one call (one transaction for SQLite), and only then dispatches: a payload is
replayable as soon as any consumer has seen it, and acknowledged producers are told it is durable.

Consumers never slow anyone down. Each has a bounded queue of encoded DISPATCH frames; a consumer
whose queue is full is switched to catch-up mode: it stops receiving live frames and its sender
reads the missed payloads from the log, in order, until it has caught up with the live stream, then
goes live again. A slow consumer therefore gets everything, late, and costs the others nothing.
"""

from __future__ import annotations

import collections
import logging
from typing import Any, Protocol

import attrs
import trio

from ...domain.frames import Status
from ...domain.stream import Payload, ReplayRange, Stream, SubmitKey
from ...ports.storage import StreamLog
from .codec import encode_dispatch

log = logging.getLogger("wearstream.broker")

REPLAY_PAGE = 500


class AckTarget(Protocol):
    def stored(self, submit_id: int) -> None: ...


@attrs.define
class _Item:
    developer_id: str
    uid: str
    t: str
    d: dict[str, Any]
    key: SubmitKey | None
    ack: AckTarget | None
    payload: Payload | None = None


class ConsumerQueue:
    """What one consumer connection still has to be sent: live frames, replays, or a catch-up."""

    def __init__(self, hub: "Hub", developer_id: str, max_pending: int) -> None:
        self.hub = hub
        self.developer_id = developer_id
        self.max_pending = max_pending
        self._pending: collections.deque[str] = collections.deque()
        self._replays: collections.deque[ReplayRange] = collections.deque()
        self._catch_up_after: int | None = None
        self._wake = trio.Event()
        self.sent = 0

    @property
    def depth(self) -> int:
        return len(self._pending)

    @property
    def lagging(self) -> bool:
        return self._catch_up_after is not None

    def offer(self, seq: int, frame: str) -> None:
        """Queue a live frame without ever blocking; fall back to catch-up when full."""
        if self._catch_up_after is not None:
            return
        if len(self._pending) >= self.max_pending:
            self._catch_up_after = seq - 1
            log.warning(
                "consumer of %s fell %d payloads behind: catching up from the log",
                self.developer_id,
                len(self._pending),
            )
        else:
            self._pending.append(frame)
        self._wake.set()

    def replay(self, rng: ReplayRange) -> None:
        self._replays.append(rng)
        self._wake.set()

    async def run(self, send: Any) -> None:
        """Send everything owed, forever; ``send`` is the connection's async send function."""
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._replays or self._pending or self._catch_up_after is not None:
                if self._replays:
                    await self._replay(send, self._replays.popleft())
                elif self._pending:
                    await send(self._pending.popleft())
                    self.sent += 1
                else:
                    await self._catch_up(send)

    async def _replay(self, send: Any, rng: ReplayRange) -> None:
        rng = rng.clamp(self.hub.dispatched_seq(self.developer_id))
        after = rng.after
        while after + 1 < rng.before:
            page = await self.hub.log.read_range(
                self.developer_id, ReplayRange(after, rng.before), REPLAY_PAGE
            )
            if not page:
                return
            for payload in page:
                await send(encode_dispatch(payload))
            after = page[-1].seq

    async def _catch_up(self, send: Any) -> None:
        after = self._catch_up_after
        assert after is not None
        live = self.hub.dispatched_seq(self.developer_id)
        page = await self.hub.log.read_range(
            self.developer_id, ReplayRange(after, live + 1), REPLAY_PAGE
        )
        for payload in page:
            await send(encode_dispatch(payload))
            after = payload.seq
        # No await between this check and the switch: nothing dispatched can slip between.
        if after >= self.hub.dispatched_seq(self.developer_id):
            self._catch_up_after = None
        else:
            self._catch_up_after = after


@attrs.define
class DeviceState:
    connected: bool
    source: str | None
    reason: str | None
    at: float


class Hub:
    """Routes payloads from producers to the consumers of the same developer, and nowhere else."""

    def __init__(
        self,
        log: StreamLog,
        *,
        max_consumers: int = 1,
        queue_size: int = 4096,
        consumer_queue: int = 10_000,
        max_batch: int = 1000,
    ) -> None:
        self.log = log
        self.max_consumers = max_consumers
        self.consumer_queue = consumer_queue
        self.max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[_Item](queue_size)
        self._streams: dict[str, Stream] = {}
        self._keys: dict[str, dict[tuple[str, str], int]] = {}
        self._dispatched: dict[str, int] = {}
        self._consumers: dict[str, list[ConsumerQueue]] = collections.defaultdict(list)
        self.presence: dict[tuple[str, str], dict[str, DeviceState]] = {}
        self.payloads_in = 0
        self.payloads_out = 0

    # Producers -----------------------------------------------------------------------------

    async def publish(
        self,
        developer_id: str,
        uid: str,
        t: str,
        d: dict[str, Any],
        key: SubmitKey | None = None,
        ack: AckTarget | None = None,
    ) -> None:
        """Queue a reading for numbering, storage and dispatch (waits when the log lags)."""
        await self._send.send(_Item(developer_id, uid, t, d, key, ack))

    def update_presence(self, developer_id: str, uid: str, status: Status) -> None:
        devices = self.presence.setdefault((developer_id, uid), {})
        device = status.device_id or ""
        devices[device] = DeviceState(
            status.connected, status.source, status.reason, trio.current_time()
        )

    # Consumers -----------------------------------------------------------------------------

    def dispatched_seq(self, developer_id: str) -> int:
        return self._dispatched.get(developer_id, 0)

    def add_consumer(self, developer_id: str) -> ConsumerQueue | None:
        """A queue for a new consumer, or None when the developer's consumer cap is reached."""
        consumers = self._consumers[developer_id]
        if len(consumers) >= self.max_consumers:
            return None
        queue = ConsumerQueue(self, developer_id, self.consumer_queue)
        consumers.append(queue)
        return queue

    def remove_consumer(self, queue: ConsumerQueue) -> None:
        consumers = self._consumers.get(queue.developer_id, [])
        if queue in consumers:
            consumers.remove(queue)

    def consumer_count(self) -> int:
        return sum(len(c) for c in self._consumers.values())

    # The writer ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async with self._receive:
            while True:
                batch = [await self._receive.receive()]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self._write(batch)

    async def _write(self, batch: list[_Item]) -> None:
        for developer_id in {item.developer_id for item in batch} - self._streams.keys():
            await self.open_developer(developer_id)
        payloads = [p for p in map(self._number, batch) if p is not None]
        if payloads:
            await self.log.append(payloads)
        for item in batch:
            if item.payload is not None:
                self._dispatch(item.payload)
            if item.ack is not None and item.key is not None:
                item.ack.stored(item.key.counter)

    async def open_developer(self, developer_id: str) -> None:
        """Load a developer's stream position from the log, once (after a restart too)."""
        if developer_id in self._streams:
            return
        last = await self.log.last_seq(developer_id)
        keys = await self.log.last_keys(developer_id)
        if developer_id not in self._streams:  # another task may have loaded it meanwhile
            self._streams[developer_id] = Stream(developer_id, last)
            self._keys[developer_id] = keys
            self._dispatched[developer_id] = last

    def _number(self, item: _Item) -> Payload | None:
        """Allocate the next seq, unless this is a resend of an idempotency key already stored."""
        key = item.key
        if key is not None:
            keys = self._keys[item.developer_id]
            slot = (item.uid, key.source)
            if key.counter <= keys.get(slot, -1):
                return None
            keys[slot] = key.counter
        item.payload = self._streams[item.developer_id].append(item.uid, item.t, item.d, key=key)
        self.payloads_in += 1
        return item.payload

    def _dispatch(self, payload: Payload) -> None:
        self._dispatched[payload.developer_id] = payload.seq
        consumers = self._consumers.get(payload.developer_id)
        if not consumers:
            return
        frame = encode_dispatch(payload)
        for queue in consumers:
            queue.offer(payload.seq, frame)
        self.payloads_out += len(consumers)
