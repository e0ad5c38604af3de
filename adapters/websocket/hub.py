"""The broker's hub: where producers' readings meet the developer's consumers, and nowhere else.

The hub composes parts that each hold one concern, and is the one face the broker's connections,
the HTTP side and the entry point see:

- intake.py: readings waiting for the writer, bounded in count and bytes (backpressure);
- writer.py: numbers each batch (numbering.py), stores it with retries while storage is
  unavailable (storage_state.py), and only then dispatches;
- fan_out.py: each developer's consumers and dashboards, and handing them payloads;
- leases.py: the consumer cap across nodes sharing one backend;
- presence.py: which producers are connected and what their devices report (for dashboards);
- memory_release.py: giving memory back after a connection that held much of it.

With a shared log (Redis: several broker nodes on one backend) every node dispatches in the one
order the log gives: what a node appended right after its dispatched position it dispatches from
the log's answer (writer.py); a follower task reads, for the developers that have watchers on this
node, what other nodes appended, so a payload reaches them in seq order whichever node stored it.

Consumers never slow anyone down: each has its own bounded queue, and a consumer that falls
behind catches up from the log (consumer_queue.py). Nothing a client does makes the hub hold more
than HubLimits allows (docs/limits.md).
"""

from __future__ import annotations

from typing import Any, Callable

import trio

from ...domain.frames import Status
from ...domain.limits import HubLimits
from ...domain.stream import Payload, SubmitKey
from ...ports.storage import ConsumerLeases, SharedStreamLog, StreamLog
from .consumer_queue import ConsumerQueue
from .dashboard import DashboardQueue
from .fan_out import FanOut
from .intake import AckTarget, Intake, Reading, reading_size
from .leases import LeaseKeeper
from .memory_release import MemoryRelease
from .numbering import Numbering
from .presence import DeviceState, Presence
from .storage_state import StorageState
from .writer import Writer

__all__ = ["AckTarget", "DeviceState", "Hub", "Reading"]


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
        self.max_consumers = max_consumers
        self.limits = limits
        self.storage = StorageState()
        self.fan_out = FanOut()
        self.intake = Intake(self.storage, queue_size, limits.submit_queue_bytes, max_batch)
        self.writer = Writer(log, self.intake, Numbering(), self.fan_out, self.storage)
        self.leases = None if leases is None else LeaseKeeper(leases)
        self.online = Presence(limits.max_devices, self._tell_dashboards)
        self.memory = MemoryRelease()

    # What others read ----------------------------------------------------------------------

    @property
    def presence(self) -> dict[tuple[str, str], dict[str, DeviceState]]:
        return self.online.devices

    @property
    def payloads_in(self) -> int:
        return self.writer.payloads_in

    @property
    def payloads_out(self) -> int:
        return self.fan_out.payloads_out

    @property
    def on_dispatch(self) -> Callable[[Payload, int], None] | None:
        return self.fan_out.on_dispatch

    @on_dispatch.setter
    def on_dispatch(self, hook: Callable[[Payload, int], None] | None) -> None:
        self.fan_out.on_dispatch = hook

    def dispatched_seq(self, developer_id: str) -> int:
        return self.fan_out.dispatched_seq(developer_id)

    def consumer_count(self) -> int:
        return self.fan_out.count(ConsumerQueue)

    def dashboard_count(self) -> int:
        return self.fan_out.count(DashboardQueue)

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
        """Queue a reading for numbering, storage and dispatch (see publish_many)."""
        await self.publish_many([Reading(developer_id, uid, t, d, key, ack, reading_size(uid, t, d))])

    async def publish_many(self, readings: list[Reading]) -> None:
        """Number, store and dispatch ``readings`` (of one developer, in order): inline when the
        log is in memory and the writer has nothing in hand, else through the intake (waits when
        the log lags, or when ``submit_queue_bytes`` of readings wait already). Raises
        StorageUnavailable while the log cannot be written (storage_state.py)."""
        if self.writer.can_inline(readings[0].developer_id):
            self.writer.write_inline(readings)
        else:
            await self.intake.put_many(readings)

    def publish_now(self, readings: list[Reading]) -> bool:
        """publish_many if that needs no wait (an inline append, or room in the intake); else
        nothing is done and False (the caller's publish_many waits, or is refused)."""
        if self.writer.can_inline(readings[0].developer_id):
            self.writer.write_inline(readings)
            return True
        return self.intake.try_put_many(readings)

    def update_presence(self, developer_id: str, uid: str, status: Status, link: int = 0) -> None:
        self.online.update(developer_id, uid, status, link)

    def link_changed(self, developer_id: str, uid: str, delta: int, link: int = 0) -> None:
        self.online.link_changed(developer_id, uid, delta, link)

    # Consumers and dashboards --------------------------------------------------------------

    async def open_developer(self, developer_id: str) -> None:
        """Load a developer's stream position from the log, once (after a restart too)."""
        await self.writer.open_developer(developer_id)

    def add_consumer(self, developer_id: str, extensions: bool = False) -> ConsumerQueue | None:
        """A queue for a new consumer, or None when the developer's consumer cap is reached."""
        if sum(isinstance(q, ConsumerQueue) for q in self.fan_out.of(developer_id)) >= self.max_consumers:
            return None
        queue = ConsumerQueue(self, developer_id, self.limits, extensions)
        self.fan_out.add(queue)
        return queue

    async def admit_consumer(self, developer_id: str, extensions: bool = False) -> ConsumerQueue | None:
        """add_consumer, plus what several nodes need: a lease in the backend (the cap across
        nodes) and, for a developer this node does not follow yet, the live position."""
        queue = self.add_consumer(developer_id, extensions)
        if queue is None or self.leases is None:
            return queue
        try:
            admitted = await self.leases.acquire(queue, developer_id, self.max_consumers)
            if admitted and len(self.fan_out.of(developer_id)) == 1:
                await self._follow_from_live(developer_id)
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
        watchers = self.fan_out.of(developer_id)
        if sum(isinstance(q, DashboardQueue) for q in watchers) >= self.limits.max_dashboards:
            return None
        queue = DashboardQueue(
            developer_id,
            lambda uid: self.online.frame(developer_id, uid),
            max_bytes=self.limits.dashboard_queue_bytes,
            presence_interval=self.limits.presence_interval,
            send_timeout=self.limits.send_timeout,
        )
        self.fan_out.add(queue)
        if len(watchers) == 1:
            await self._follow_from_live(developer_id)
        for uid in self.online.users(developer_id):
            queue.presence_changed(uid)
        return queue

    async def _follow_from_live(self, developer_id: str) -> None:
        """On a shared log, a developer this node starts to follow is followed from the live
        position (other nodes may have stored much since this node last looked)."""
        if self.shared is not None:
            self.fan_out.advance(developer_id, await self.shared.last_seq(developer_id))

    def remove_consumer(self, queue: ConsumerQueue | DashboardQueue) -> None:
        self.fan_out.remove(queue)
        if self.leases is not None:
            self.leases.release(queue)
        self.memory.ended(queue.peak_bytes)

    def _tell_dashboards(self, developer_id: str, uid: str) -> None:
        """Mark ``uid`` changed on each dashboard: each sends its latest presence at its pace."""
        for queue in self.fan_out.watchers.get(developer_id, ()):
            if isinstance(queue, DashboardQueue):
                queue.presence_changed(uid)

    # Running -------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            if self.shared is not None:
                nursery.start_soon(self.shared.follow, self.fan_out.following, self.fan_out.deliver)
            if self.leases is not None:
                nursery.start_soon(self.leases.run)
            nursery.start_soon(self.memory.run)
            task_status.started()
            await self.writer.run()
