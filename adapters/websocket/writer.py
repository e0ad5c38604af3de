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

Inline appends. A log in memory (one that appends without waiting, ports.storage.AppendsNow, with
no commit window, not shared) is appended to in the producer's own task (``write_inline``, a plain
call: no coroutine), when the writer has nothing in hand: numbering, append, dispatch and
ack without a channel hop or a wake of the writer task per reading. Should such an append fail,
the numbered batch goes back to the head of the intake and the writer retries it like any other,
so nothing numbered is ever dropped.
"""

from __future__ import annotations

import operator
from functools import partial

from ...domain.stream import Payload
from ...ports.storage import AppendsNow, SharedStreamLog, StorageUnavailable, StreamLog, Submission
from .fan_out import FanOut
from .intake import Intake, Reading
from .numbering import Numbering
from .storage_state import StorageState, until_stored

# a batch's developers, as set(map(...)): no Python frame per batch, as a set comprehension has
_DEVELOPER_ID = operator.attrgetter("developer_id")


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
        self._now_log = log if isinstance(log, AppendsNow) and self.shared is None and not self.window else None

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

    def can_inline(self, developer_id: str) -> bool:
        """Whether readings of ``developer_id`` may be written inline now (see write_inline)."""
        intake = self.intake
        return (
            self._now_log is not None and not intake.pending and self.storage.ok
            and self.numbering.knows(developer_id)
        )

    def write_inline(self, batch: list[Reading]) -> None:
        """Number, store, dispatch and acknowledge ``batch`` in the caller's task; call it only
        right after can_inline() said yes. A failed append is handed to the writer (the
        producer's ack waits until it is stored)."""
        assert self._now_log is not None
        payloads = self._number(batch)
        if payloads:
            try:
                self._now_log.append_now(payloads)
            except StorageUnavailable as error:
                self.storage.failed(error)
                self.intake.requeue(batch)
                return
            except BaseException:
                self.intake.requeue(batch)
                raise
        self._deliver(batch)

    async def write(self, batch: list[Reading]) -> None:
        if self.shared is not None:
            await self._write_shared(self.shared, batch)
            return
        knows = self.numbering.knows
        for developer_id in {r.developer_id for r in batch if not r.numbered and not knows(r.developer_id)}:
            await until_stored(self.storage, partial(self.open_developer, developer_id), recovers=False)
        payloads = self._number(batch)
        if payloads:
            await until_stored(self.storage, partial(self.log.append, payloads))
        self._deliver(batch)

    def _number(self, batch: list[Reading]) -> list[Payload]:
        """Number what is not numbered yet (a requeued batch is); the payloads to store."""
        number = self.numbering.number
        payloads = []
        for reading in batch:
            if not reading.numbered:
                reading.numbered = True
                reading.payload = number(
                    reading.developer_id, reading.uid, reading.t, reading.d, reading.key
                )
                if reading.payload is not None:
                    self.payloads_in += 1
            if reading.payload is not None:
                payloads.append(reading.payload)
        return payloads

    def _deliver(self, batch: list[Reading]) -> None:
        """``batch`` is stored: dispatch it, and tell its producers. The delivery ends with a
        flush whatever happens: the queues write what they were offered only then."""
        dispatch = self.fan_out.dispatch
        try:
            for reading in batch:
                if reading.payload is not None:
                    dispatch(reading.payload)
                reading.acknowledge()
        finally:
            self.fan_out.flush(set(map(_DEVELOPER_ID, batch)))

    async def _write_shared(self, log: SharedStreamLog, batch: list[Reading]) -> None:
        """The shared log numbers the batch; what follows on from this node's position is
        dispatched here, the rest by the follower in seq order."""
        submissions = [Submission(r.developer_id, r.uid, r.t, r.d, r.key) for r in batch]
        floors = {r.developer_id: self.fan_out.dispatched_seq(r.developer_id) for r in batch}
        payloads = await until_stored(self.storage, partial(log.append_new, submissions, floors))
        try:
            for reading, payload in zip(batch, payloads):
                if payload is not None:
                    self.payloads_in += 1
                    dev = payload.developer_id
                    if not self.fan_out.watchers.get(dev):
                        self.fan_out.advance(dev, payload.seq)  # the floor of the next batch
                    elif payload.seq == self.fan_out.dispatched_seq(dev) + 1:
                        self.fan_out.dispatch(payload)  # nothing of another node's in between
                reading.acknowledge()
        finally:
            self.fan_out.flush(set(map(_DEVELOPER_ID, batch)))
