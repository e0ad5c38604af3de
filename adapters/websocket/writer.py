"""The hub's writer: numbers each batch of readings, stores it, and only then dispatches.

One writer task owns the sequence numbers. It takes whatever has queued up in the intake as one
batch, allocates seqs in that order, appends the batch to the StreamLog in one call (one
transaction for SQLite), and only then dispatches: a payload is replayable as soon as any consumer
has seen it, and acknowledged producers are told it is durable. A batch the log refuses is kept
and retried (storage_state.py); nothing is dropped.

Group commit. A log whose every append costs a commit (SQLite) or a round trip (Redis) gives a
``commit_window``: once a reading arrives the writer waits that long for more before it takes
the batch, so that at 1,000 producers × 1 Hz one append stores several readings instead of one
(the window bounds the extra latency; a full batch goes at once).

With a shared log (Redis: several broker nodes on one backend) the log numbers payloads itself,
atomically across nodes, and the writer hands it unnumbered submissions. What the log numbered
right after this node's dispatched position is dispatched here at once, from the log's answer;
when another node's payloads came in between, the follower (the hub's) reads them and this
node's, in seq order, as it reads everything other nodes append.
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
        self.window = log.commit_window

    async def run(self) -> None:
        try:
            while True:
                batch = await self.intake.batch(self.window)
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
        """The shared log numbers the batch; what follows on from this node's position is
        dispatched here, the rest by the follower in seq order."""
        submissions = [Submission(r.developer_id, r.uid, r.t, r.d, r.key) for r in batch]
        floors = {r.developer_id: self.fan_out.dispatched_seq(r.developer_id) for r in batch}
        payloads = await until_stored(self.storage, partial(log.append_new, submissions, floors))
        for reading, payload in zip(batch, payloads):
            if payload is not None:
                self.payloads_in += 1
                dev = payload.developer_id
                if not self.fan_out.watchers.get(dev):
                    self.fan_out.advance(dev, payload.seq)  # the floor of the next batch
                elif payload.seq == self.fan_out.dispatched_seq(dev) + 1:
                    self.fan_out.dispatch(payload)  # nothing of another node's in between
            reading.acknowledge()
