"""The hub's writer: numbers each batch of readings, stores it, and only then dispatches.

One writer task owns the sequence numbers. It takes whatever has queued up in the intake as one
batch, allocates seqs in that order, appends the batch to the StreamLog in one call (one
transaction for SQLite), and only then dispatches: a payload is replayable as soon as any consumer
has seen it, and acknowledged producers are told it is durable. A batch the log refuses is kept
and retried (storage_state.py); nothing is dropped.

With a shared log (Redis: several broker nodes on one backend) the log numbers payloads itself,
atomically across nodes, and the writer hands it unnumbered submissions; the follower (the hub)
then dispatches them as it does other nodes' payloads.
"""

from __future__ import annotations

from functools import partial

from ...ports.storage import SharedStreamLog, StreamLog, Submission
from .fan_out import FanOut
from .intake import Intake, Reading
from .numbering import Numbering
from .storage_state import StorageState, until_stored


class Writer:
    """Moves batches from the intake into the log, then to the fan-out."""

    def __init__(
        self, log: StreamLog, intake: Intake, numbering: Numbering, fan_out: FanOut, storage: StorageState
    ) -> None:
        self.log = log
        self.shared: SharedStreamLog | None = log if isinstance(log, SharedStreamLog) else None
        self.intake = intake
        self.numbering = numbering
        self.fan_out = fan_out
        self.storage = storage
        self.payloads_in = 0

    async def run(self) -> None:
        try:
            while True:
                batch = await self.intake.batch()
                await self.write(batch)
                self.intake.done(batch)
        finally:
            self.intake.close()

    async def open_developer(self, developer_id: str) -> None:
        """Load a developer's stream position from the log, once (after a restart too)."""
        last = await self.numbering.open(self.log, developer_id)
        if last is not None:
            self.fan_out.start_at(developer_id, last)

    async def write(self, batch: list[Reading]) -> None:
        if self.shared is not None:
            await self._write_shared(self.shared, batch)
            return
        for developer_id in {r.developer_id for r in batch if not self.numbering.knows(r.developer_id)}:
            await until_stored(self.storage, partial(self.open_developer, developer_id), recovers=False)
        payloads = []
        for reading in batch:
            reading.payload = self.numbering.number(
                reading.developer_id, reading.uid, reading.t, reading.d, reading.key
            )
            if reading.payload is not None:
                payloads.append(reading.payload)
        self.payloads_in += len(payloads)
        if payloads:
            await until_stored(self.storage, partial(self.log.append, payloads))
        for reading in batch:
            if reading.payload is not None:
                self.fan_out.dispatch(reading.payload)
            reading.acknowledge()

    async def _write_shared(self, log: SharedStreamLog, batch: list[Reading]) -> None:
        """The shared log numbers the batch; the follower dispatches it, as it does other nodes'."""
        submissions = [Submission(r.developer_id, r.uid, r.t, r.d, r.key) for r in batch]
        floors = {r.developer_id: self.fan_out.dispatched_seq(r.developer_id) for r in batch}
        payloads = await until_stored(self.storage, partial(log.append_new, submissions, floors))
        for reading, payload in zip(batch, payloads):
            if payload is not None:
                self.payloads_in += 1
                # Remember the newest seq (the floor of the next batch), unless the follower
                # owns the position: it dispatches this payload when it reads it back.
                dev = payload.developer_id
                if not self.fan_out.watchers.get(dev):
                    self.fan_out.advance(dev, payload.seq)
            reading.acknowledge()
