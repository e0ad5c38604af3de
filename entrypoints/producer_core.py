"""The producer core: devices -> bounded channel -> batcher -> outbox -> broker link.

Every device session runs in its own task and delivers samples through one bounded channel: a
full channel makes the devices wait (backpressure), it never drops. The batcher takes whatever
is waiting, in one go, and writes it to the outbox in one transaction, so batches grow by
themselves when the disk is slow and stay small (low latency) when it is fast. Each device
awaits its own sends, so its samples reach the outbox, and then the broker, in the order it
produced them.

A device that fails is reported (status line, log, a STATUS to the broker) and the others carry
on. ``stop()`` ends the devices; what they produced is written to the outbox, the link gets a
short while to have it acknowledged, and whatever is still unacknowledged stays in the outbox
for the next run.
"""

from __future__ import annotations

import logging
from typing import Sequence

import trio

from ..domain.devices import DeviceStatus
from ..domain.errors import DeviceUnavailable
from ..domain.producer import DeviceView, LinkStopped
from ..domain.samples import Sample
from ..ports.devices import SampleSource
from ..ports.producer import BrokerLink, Outbox

log = logging.getLogger("wearstream.producer")

CHANNEL_SIZE = 1000  # samples waiting between the devices and the outbox
MAX_BATCH = 1000  # samples per outbox transaction


class _Events:
    """The DeviceEvents port for one device: samples into the channel, presence to the link."""

    def __init__(self, view: DeviceView, send: trio.MemorySendChannel[Sample], link: BrokerLink):
        self._view = view
        self._send = send
        self._link = link

    async def sample(self, sample: Sample) -> None:
        self._view.sample(sample, trio.current_time())
        await self._send.send(sample)

    def status(self, status: DeviceStatus) -> None:
        self._view.status(status)
        self._link.report(status)


class Producer:
    """Runs the devices, the batcher and the link until ``stop()`` or until every device ended."""

    def __init__(
        self,
        user_id: str,
        sources: Sequence[SampleSource],
        outbox: Outbox,
        link: BrokerLink,
        *,
        drain_timeout: float = 3.0,
    ) -> None:
        self.user_id = user_id
        self.sources = list(sources)
        self.outbox = outbox
        self.link = link
        self.drain_timeout = drain_timeout
        self.views = {s.device.id: DeviceView(s.device.id) for s in self.sources}
        self.added = 0
        self.first_id: int | None = None
        self.last_id = 0
        self.stopped_by_user = False
        self.failed = 0  # devices that stopped for good with an error (not those that finished)
        self._devices = trio.CancelScope()

    def stop(self) -> None:
        """Stop the devices; ``run`` then drains and returns."""
        self.stopped_by_user = True
        self._devices.cancel()

    async def run(self) -> None:
        """Raises LinkStopped when the broker link gave up for good."""
        failure: LinkStopped | None = None

        async def run_link() -> None:
            nonlocal failure
            try:
                await self.link.run()
            except LinkStopped as error:
                failure = error
                self._devices.cancel()
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_link)
            await self._produce()
            deadline = trio.current_time() + self.drain_timeout
            self.link.drain_until(deadline)
            with trio.move_on_at(deadline):
                await self.link.wait_acked(self.last_id)
            nursery.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _produce(self) -> None:
        send, receive = trio.open_memory_channel[Sample](CHANNEL_SIZE)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._write_batches, receive)
            async with send:
                with self._devices:
                    async with trio.open_nursery() as devices:
                        for source in self.sources:
                            devices.start_soon(self._run_device, source, send.clone())

    async def _run_device(self, source: SampleSource, send: trio.MemorySendChannel[Sample]) -> None:
        device = source.device
        view = self.views[device.id]
        async with send:
            try:
                await source.run(self.user_id, _Events(view, send, self.link))
            except DeviceUnavailable as error:
                reason = str(error) or "unavailable"
            except Exception as error:  # a device's bug must not take the other devices down
                log.exception("device %s failed", device.id)
                reason = f"failed: {type(error).__name__}: {error}"
            else:  # a finished session (a recording played to its end) is a success
                log.info("device %s finished after %d samples", device.id, view.samples)
                view.stopped("finished")
                self.link.report(DeviceStatus(device.id, False, device.transport, "finished"))
                return
        self.failed += 1
        log.error("device %s stopped: %s", device.id, reason)
        view.stopped(reason)
        self.link.report(DeviceStatus(device.id, False, device.transport, reason))

    async def _write_batches(self, receive: trio.MemoryReceiveChannel[Sample]) -> None:
        async with receive:
            async for first in receive:
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                ids = await self.outbox.add(batch)
                if self.first_id is None:
                    self.first_id = ids[0]
                self.last_id = ids[-1]
                self.added += len(ids)
                self.link.notify()
