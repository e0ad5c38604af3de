"""The broker's hub: numbers every payload, stores it, and fans it out to the developer's consumers.

One writer task owns the sequence numbers. Producers hand it readings through a bounded memory
channel (backpressure: a log that cannot keep up slows producers down, it never drops data); the
writer takes whatever has queued up as one batch, allocates seqs in that order, appends the batch
to the StreamLog in one call (one transaction for SQLite), and only then dispatches: a payload is
replayable as soon as any consumer has seen it, and acknowledged producers are told it is durable.

With a shared log (Redis: several broker nodes on one backend) the log numbers payloads itself,
atomically across nodes, and the writer hands it unnumbered submissions. Every node then
dispatches from one ordered source: a follower task tails the log for the developers that have
consumers on this node, so a payload reaches them the same way whichever node stored it. The
consumer cap then holds across nodes through leases kept in the backend.

Consumers never slow anyone down: each has its own bounded queue, and a consumer that falls
behind catches up from the log (consumer_queue.py).

A log that cannot be written now (full disk, lock, Redis refusing writes) stops nothing but new
submissions: the writer keeps its batch and retries it (storage_state.py says how).

Nothing a client does makes the hub hold more than HubLimits allows (docs/limits.md): consumer
queues and REPLAYs are bounded (consumer_queue.py); readings waiting for the writer are bounded in
bytes (``submit_queue_bytes``); a user's devices (from STATUS) are bounded and go with the producer
connection that reported them; dashboards per developer are bounded, and each gets at most one
presence frame per user per ``presence_interval``, the latest state.
"""

from __future__ import annotations

import collections
import itertools
import logging
import uuid
from functools import partial
from typing import Any, Awaitable, Callable, Protocol, TypeVar

import attrs
import orjson
import trio

from ...domain.datatypes import is_extension_type
from ...domain.frames import Status
from ...domain.limits import HubLimits
from ...domain.stream import Payload, Stream, SubmitKey
from ...ports.storage import ConsumerLeases, SharedStreamLog, StorageUnavailable, StreamLog, Submission
from ..process_memory import release_freed_memory
from .codec import encode_dispatch
from .consumer_queue import ConsumerQueue
from .dashboard import DashboardQueue, encode_presence
from .storage_state import StorageState, retry_delays

log = logging.getLogger("wearstream.broker")

# After a connection that held this much ends, the hub asks the C allocator to give memory back.
RELEASE_AFTER_BYTES = 4 * 1024 * 1024
T = TypeVar("T")


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
    size: int = 0  # bytes of the reading, as counted against submit_queue_bytes
    payload: Payload | None = None


@attrs.define
class DeviceState:
    """A device as its last STATUS described it, and the producer connection that sent it."""

    connected: bool
    source: str | None
    reason: str | None
    at: float
    link: int = 0


class Hub:
    """Routes payloads from producers to the consumers of the same developer, and nowhere else."""

    def __init__(
        self,
        log: StreamLog,
        *,
        max_consumers: int = 1,
        queue_size: int = 4096,
        max_batch: int = 1000,
        leases: ConsumerLeases | None = None,
        limits: HubLimits = HubLimits(),
    ) -> None:
        self.log = log
        self.shared: SharedStreamLog | None = log if isinstance(log, SharedStreamLog) else None
        self.leases = leases
        self.node_id = uuid.uuid4().hex[:12]
        self._holders: dict[ConsumerQueue, str] = {}
        self._holder_ids = itertools.count(1)
        self._releases: list[tuple[str, str]] = []
        self._lease_release_wanted = trio.Event()
        self.max_consumers = max_consumers
        self.limits = limits
        self.max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[_Item](queue_size)
        self._intake_bytes = 0  # of the readings queued for the writer or being written
        self._intake_room = trio.Event()
        self._streams: dict[str, Stream] = {}
        self._keys: dict[str, dict[tuple[str, str], int]] = {}
        self._dispatched: dict[str, int] = {}
        # Dashboards (extension) watch through the same lists, but never count against the cap.
        self._consumers: dict[str, list[ConsumerQueue | DashboardQueue]] = collections.defaultdict(list)
        self.presence: dict[tuple[str, str], dict[str, DeviceState]] = {}
        self.links: collections.Counter[tuple[str, str]] = collections.Counter()  # producer sockets
        self._over_device_cap: set[int] = set()  # producer connections told so (logged once)
        self._release_wanted = trio.Event()  # a connection that held many bytes ended
        self.payloads_in = 0
        self.payloads_out = 0
        self.storage = StorageState()
        # Told of every live dispatch and how many queues it went to (metrics by data type).
        self.on_dispatch: Callable[[Payload, int], None] | None = None

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
        """Queue a reading for numbering, storage and dispatch (waits when the log lags, or when
        ``submit_queue_bytes`` of readings wait already: big readings cannot pile up in memory).

        Raises StorageUnavailable while the log cannot be written (storage_state.py).
        No checkpoint when the channel has room: the caller's read of the next frame is one, and
        a reading needs no extra trip through the scheduler."""
        if not self.storage.ok:
            raise StorageUnavailable(self.storage.error)
        item = _Item(developer_id, uid, t, d, key, ack, len(orjson.dumps(d)) + len(uid) + len(t))
        if self._intake_bytes and self._intake_bytes + item.size > self.limits.submit_queue_bytes:
            with self.storage.waiting() as wait:
                while self._intake_bytes and self._intake_bytes + item.size > self.limits.submit_queue_bytes:
                    await self._intake_room.wait()
            if wait.cancelled_caught:  # storage failed meanwhile: refused, not queued
                raise StorageUnavailable(self.storage.error)
        self._intake_bytes += item.size
        try:
            self._send.send_nowait(item)
        except trio.WouldBlock:
            try:
                with self.storage.waiting() as wait:
                    await self._send.send(item)
            except BaseException:
                self._intake_bytes -= item.size
                raise
            if wait.cancelled_caught:
                self._intake_bytes -= item.size
                raise StorageUnavailable(self.storage.error)

    def update_presence(self, developer_id: str, uid: str, status: Status, link: int = 0) -> None:
        """Remember what a STATUS from producer connection ``link`` says of a device. A user has
        at most ``max_devices``: a new one past that replaces the device disconnected longest
        ago, or, when all are connected, is not recorded (logged once per connection)."""
        devices = self.presence.setdefault((developer_id, uid), {})
        device = status.device_id or ""
        if device not in devices and len(devices) >= self.limits.max_devices:
            gone = [(state.at, name) for name, state in devices.items() if not state.connected]
            if not gone:
                if link not in self._over_device_cap:
                    self._over_device_cap.add(link)
                    log.warning(
                        "user %s of %s reports more than %d connected devices: STATUS of %r "
                        "and further new devices ignored",
                        uid, developer_id, self.limits.max_devices, device[:64],
                    )
                return
            del devices[min(gone)[1]]
        devices[device] = DeviceState(
            status.connected, status.source, status.reason, trio.current_time(), link
        )
        self._tell_dashboards(developer_id, uid)

    def link_changed(self, developer_id: str, uid: str, delta: int, link: int = 0) -> None:
        """A producer connection ``link`` of ``uid`` opened (+1) or closed (-1): dashboards show
        it. The devices a closed connection reported go with it (a later run reports its own)."""
        key = (developer_id, uid)
        self.links[key] += delta
        if self.links[key] <= 0:
            del self.links[key]
        if delta < 0:
            self._over_device_cap.discard(link)
            devices = self.presence.get(key, {})
            for name in [name for name, state in devices.items() if state.link == link]:
                del devices[name]
            if not devices:
                self.presence.pop(key, None)
        self._tell_dashboards(developer_id, uid)

    # Consumers -----------------------------------------------------------------------------

    def dispatched_seq(self, developer_id: str) -> int:
        return self._dispatched.get(developer_id, 0)

    def add_consumer(self, developer_id: str, extensions: bool = False) -> ConsumerQueue | None:
        """A queue for a new consumer, or None when the developer's consumer cap is reached."""
        consumers = self._consumers[developer_id]
        if sum(isinstance(q, ConsumerQueue) for q in consumers) >= self.max_consumers:
            return None
        queue = ConsumerQueue(self, developer_id, self.limits, extensions)
        consumers.append(queue)
        return queue

    async def admit_consumer(self, developer_id: str, extensions: bool = False) -> ConsumerQueue | None:
        """add_consumer, plus what several nodes need: a lease in the backend (the cap across
        nodes) and, for a developer this node does not follow yet, the live position."""
        queue = self.add_consumer(developer_id, extensions)
        if queue is None or self.leases is None:
            return queue
        holder = f"{self.node_id}/{next(self._holder_ids)}"
        self._holders[queue] = holder
        try:
            admitted = await self.leases.acquire(developer_id, holder, self.max_consumers)
            if admitted and self.shared is not None and len(self._consumers[developer_id]) == 1:
                last = await self.shared.last_seq(developer_id)
                self._dispatched[developer_id] = max(last, self.dispatched_seq(developer_id))
        except BaseException:  # cancelled while asking: the caller never gets the queue
            self.remove_consumer(queue)
            raise
        if not admitted:
            self.remove_consumer(queue)
            return None
        return queue

    async def add_dashboard(self, developer_id: str) -> DashboardQueue | None:
        """A queue for a new dashboard, or None past ``max_dashboards`` for the developer.
        Dashboards watch like consumers, outside the consumer cap; on a shared log the first
        watcher makes this node follow the developer from the live position. The new one is
        told every user of its developer this node knows to be around."""
        watchers = self._consumers[developer_id]
        if sum(isinstance(q, DashboardQueue) for q in watchers) >= self.limits.max_dashboards:
            return None
        queue = DashboardQueue(
            developer_id,
            lambda uid: self._presence_frame(developer_id, uid),
            max_bytes=self.limits.dashboard_queue_bytes,
            presence_interval=self.limits.presence_interval,
            send_timeout=self.limits.send_timeout,
        )
        watchers.append(queue)
        if self.shared is not None and len(watchers) == 1:
            last = await self.shared.last_seq(developer_id)
            self._dispatched[developer_id] = max(last, self.dispatched_seq(developer_id))
        for uid in sorted({u for d, u in [*self.presence, *self.links] if d == developer_id}):
            queue.presence_changed(uid)
        return queue

    def _tell_dashboards(self, developer_id: str, uid: str) -> None:
        """Mark ``uid`` changed on each dashboard: each sends its latest presence at its pace."""
        for queue in self._consumers.get(developer_id, ()):
            if isinstance(queue, DashboardQueue):
                queue.presence_changed(uid)

    def _presence_frame(self, developer_id: str, uid: str) -> str:
        key = (developer_id, uid)
        return encode_presence(uid, key in self.links, self.presence.get(key, {}))

    def remove_consumer(self, queue: ConsumerQueue | DashboardQueue) -> None:
        consumers = self._consumers.get(queue.developer_id, [])
        if queue in consumers:
            consumers.remove(queue)
        holder = self._holders.pop(queue, None)
        if holder is not None:  # released by the lease keeper (this method cannot await)
            self._releases.append((queue.developer_id, holder))
            self._lease_release_wanted.set()
        if queue.peak_bytes >= RELEASE_AFTER_BYTES:
            self._release_wanted.set()

    def consumer_count(self) -> int:
        return sum(isinstance(q, ConsumerQueue) for c in self._consumers.values() for q in c)

    def dashboard_count(self) -> int:
        return sum(isinstance(q, DashboardQueue) for c in self._consumers.values() for q in c)

    # The writer ----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self.shared is not None:
                nursery.start_soon(self.shared.follow, self._following, self._deliver)
            if self.leases is not None:
                nursery.start_soon(self._keep_leases)
            nursery.start_soon(self._release_memory)
            task_status.started()
            await self._write_forever()

    async def _write_forever(self) -> None:
        async with self._receive:
            while True:
                batch = [await self._receive.receive()]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                await self._write(batch)
                self._intake_bytes -= sum(item.size for item in batch)
                self._intake_room.set()
                self._intake_room = trio.Event()

    async def _write(self, batch: list[_Item]) -> None:
        if self.shared is not None:
            await self._write_shared(self.shared, batch)
            return
        for developer_id in {item.developer_id for item in batch} - self._streams.keys():
            await self._until_stored(partial(self.open_developer, developer_id), recovers=False)
        payloads = [p for p in map(self._number, batch) if p is not None]
        if payloads:
            await self._until_stored(partial(self.log.append, payloads))
        for item in batch:
            if item.payload is not None:
                self._dispatch(item.payload)
            if item.ack is not None and item.key is not None:
                item.ack.stored(item.key.counter)

    async def _until_stored(self, call: Callable[[], Awaitable[T]], *, recovers: bool = True) -> T:
        """``call()``, retried while storage is unavailable (the batch waits, never dropped);
        ``recovers``: its success shows that storage can be written again."""
        delays = retry_delays()
        while True:
            try:
                result = await call()
            except StorageUnavailable as error:
                self.storage.failed(error)
                await trio.sleep(next(delays))
                continue
            if recovers:
                self.storage.stored()
            return result

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

    async def _write_shared(self, log: SharedStreamLog, batch: list[_Item]) -> None:
        """The shared log numbers the batch; the follower dispatches it, as it does other nodes'."""
        submissions = [Submission(i.developer_id, i.uid, i.t, i.d, i.key) for i in batch]
        floors = {i.developer_id: self.dispatched_seq(i.developer_id) for i in batch}
        payloads = await self._until_stored(partial(log.append_new, submissions, floors))
        for item, payload in zip(batch, payloads):
            if payload is not None:
                self.payloads_in += 1
                # Remember the newest seq (the floor of the next batch), unless the follower
                # owns the position: it dispatches this payload when it reads it back.
                dev = payload.developer_id
                if not self._consumers.get(dev) and payload.seq > self.dispatched_seq(dev):
                    self._dispatched[dev] = payload.seq
            if item.ack is not None and item.key is not None:
                item.ack.stored(item.key.counter)

    def _following(self) -> dict[str, int]:
        return {dev: self.dispatched_seq(dev) for dev, queues in self._consumers.items() if queues}

    def _deliver(self, payloads: list[Payload]) -> None:
        for payload in payloads:
            if payload.seq > self.dispatched_seq(payload.developer_id):
                self._dispatch(payload)

    async def _keep_leases(self) -> None:
        """Renew this node's consumer leases well within their time to live; release promptly."""
        assert self.leases is not None
        interval = self.leases.ttl.total_seconds() / 3
        while True:
            with trio.move_on_after(interval):
                await self._lease_release_wanted.wait()
            self._lease_release_wanted = trio.Event()
            releases, self._releases = self._releases, []
            try:
                for developer_id, holder in releases:
                    await self.leases.release(developer_id, holder)
                held = [(queue.developer_id, holder) for queue, holder in self._holders.items()]
                await self.leases.renew(held)
            except StorageUnavailable as error:
                # Next turn tries again; a lease not renewed in time frees its slot, nothing worse.
                self._releases = releases + self._releases  # releasing twice is harmless
                log.warning("consumer leases not kept up now: %s", error)

    async def _release_memory(self) -> None:
        """After a connection that held many bytes ended, hand freed memory back to the system,
        at most once a second (CPython frees the frames, but the C allocator may keep the pages).
        The short wait lets the connection's tasks end and drop their last references first; the
        trim itself (a walk over the heap) runs in a thread, so no connection waits for it."""
        while True:
            await self._release_wanted.wait()
            await trio.sleep(0.5)
            self._release_wanted = trio.Event()
            await trio.to_thread.run_sync(release_freed_memory)
            await trio.sleep(0.5)

    def _dispatch(self, payload: Payload) -> None:
        self._dispatched[payload.developer_id] = payload.seq
        consumers = self._consumers.get(payload.developer_id)
        if not consumers:
            return
        frame = encode_dispatch(payload)
        plain = not is_extension_type(payload.t)
        sent = 0
        for queue in consumers:
            if plain or not isinstance(queue, ConsumerQueue) or queue.extensions:
                queue.offer(payload.seq, frame)
                sent += 1
        self.payloads_out += sent
        if self.on_dispatch is not None:
            self.on_dispatch(payload, sent)
