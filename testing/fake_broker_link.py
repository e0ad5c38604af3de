"""A ``BrokerLink`` for tests: takes everything from the producer's outbox at once, as a broker
that acknowledges every SUBMIT would, and keeps it for the test to look at.

    link = FakeBrokerLink(outbox)
    producer = Producer("user-1", [device], outbox, link)
    ...
    link.samples          # what reached the "broker", in order, each once
    link.statuses         # the device presence reported
    link.refuse("token refused")   # run() raises LinkStopped, as a fatal close makes it

It passes ``testing/contracts/broker_link.py`` as the WebSocket ``ProducerLink`` does.
"""

from __future__ import annotations

import trio

from ..domain.devices import DeviceStatus
from ..domain.producer import LinkStopped
from ..domain.samples import Sample
from ..ports.producer import Outbox

BATCH = 500


class FakeBrokerLink:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.samples: list[Sample] = []
        self.statuses: list[DeviceStatus] = []
        self.acked = 0
        self.refusal: str | None = None
        self.stop_at: float | None = None
        self._changed = trio.Event()

    def notify(self) -> None:
        self._wake()

    def report(self, status: DeviceStatus) -> None:
        self.statuses.append(status)

    def drain_until(self, deadline: float) -> None:
        self.stop_at = deadline  # nothing to wait for: every entry is taken at once

    def refuse(self, reason: str = "the fake broker refuses this producer") -> None:
        self.refusal = reason
        self._wake()

    async def wait_acked(self, upto: int) -> None:
        while self.acked < upto:
            changed = self._changed
            await changed.wait()

    async def run(self) -> None:
        while True:
            changed = self._changed
            if self.refusal is not None:
                raise LinkStopped(self.refusal)
            entries = await self.outbox.peek(self.acked, BATCH)
            if not entries:
                await changed.wait()
                continue
            self.samples.extend(entry.sample for entry in entries)
            await self.outbox.ack(entries[-1].id)
            self.acked = entries[-1].id
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
