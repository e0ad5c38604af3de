"""The intake: readings waiting for the hub's writer, bounded in count and in bytes.

Backpressure, not loss: a log that cannot keep up slows producers down. A producer waits when
``queue_size`` readings or ``max_bytes`` of them wait already (big readings cannot pile up in
memory), and is refused at once (StorageUnavailable) while storage cannot be written, or when
storage fails while it waits.

A producer connection hands over everything one receive brought in one ``put_many``: the queue
is a deque and the writer is woken once per hand-over, not once per reading. ``pending`` counts
what was handed over and is not yet written: while it is zero, the writer has nothing in hand and
a memory log may be appended to inline, in the producer's own task (writer.py), by a plain call
that the writer task cannot interleave with (seq order).
"""

from __future__ import annotations

import collections
from typing import Any, Iterable, Protocol

import attrs
import orjson
import trio

from ...domain.stream import Payload, SubmitKey
from ...ports.storage import StorageUnavailable
from .storage_state import StorageState


class AckTarget(Protocol):
    def stored(self, submit_id: int) -> None: ...


@attrs.define
class Reading:
    """One submitted reading on its way to the log."""

    developer_id: str
    uid: str
    t: str
    d: dict[str, Any]
    key: SubmitKey | None
    ack: AckTarget | None
    size: int = 0  # bytes of the reading, as counted against max_bytes
    payload: Payload | None = None  # once numbered
    numbered: bool = False  # numbering has seen it (payload None then means: a resend)

    def acknowledge(self) -> None:
        """Tell the producer its reading is stored (acks are cumulative: by submit id)."""
        if self.ack is not None and self.key is not None:
            self.ack.stored(self.key.counter)


def reading_size(uid: str, t: str, d: dict[str, Any]) -> int:
    return len(orjson.dumps(d)) + len(uid) + len(t)


class Intake:
    """A bounded queue of Readings from many producers to one writer, in arrival order."""

    def __init__(self, storage: StorageState, queue_size: int, max_bytes: int, max_batch: int) -> None:
        self.storage = storage
        self.queue_size = queue_size
        self.max_bytes = max_bytes
        self.max_batch = max_batch
        self._queue: collections.deque[Reading] = collections.deque()
        self.bytes = 0  # of the readings queued for the writer or being written
        self.pending = 0  # readings queued for the writer or being written
        self._arrived = trio.Event()
        self._room = trio.Event()
        self._closed = False
        self._waiters = 0  # producers waiting for room

    async def put(self, reading: Reading) -> None:
        """Queue ``reading`` (see put_many)."""
        await self.put_many((reading,))

    async def put_many(self, readings: Iterable[Reading]) -> None:
        """Queue ``readings`` in order (waits for room; raises StorageUnavailable as said above).
        No checkpoint when there is room: the caller's read of the next frame is one."""
        if self._closed:
            raise trio.BrokenResourceError("the hub's writer has stopped")
        if not self.storage.ok:
            raise StorageUnavailable(self.storage.error)
        queue = self._queue
        for reading in readings:
            size = reading.size
            if not self._room_for(1, size):
                self._arrived.set()  # what is queued already goes on meanwhile
                await self._wait_for_room(size)
            self.bytes += size
            self.pending += 1
            queue.append(reading)
        self._arrived.set()

    def try_put_many(self, readings: list[Reading]) -> bool:
        """Queue ``readings`` if that needs no wait (room for all of them, storage writable);
        else queue nothing and say False (the caller's put_many waits, or is refused)."""
        if self._closed or not self.storage.ok or self._waiters:
            return False
        size = sum(reading.size for reading in readings)
        if not self._room_for(len(readings), size):
            return False
        self.bytes += size
        self.pending += len(readings)
        self._queue.extend(readings)
        self._arrived.set()
        return True

    def _room_for(self, count: int, size: int) -> bool:
        """Whether ``count`` more readings of ``size`` bytes in all fit (a reading bigger than
        ``max_bytes`` fits into an empty queue, so it is never refused for good)."""
        return len(self._queue) + count <= self.queue_size and not (
            self.bytes and self.bytes + size > self.max_bytes
        )

    async def _wait_for_room(self, size: int) -> None:
        self._waiters += 1
        try:
            with self.storage.waiting() as wait:
                while not self._room_for(1, size):
                    if self._closed:
                        raise trio.BrokenResourceError("the hub's writer has stopped")
                    await self._room.wait()
        finally:
            self._waiters -= 1
        if wait.cancelled_caught:  # storage failed meanwhile: refused, not queued
            raise StorageUnavailable(self.storage.error)

    def requeue(self, readings: list[Reading]) -> None:
        """Put numbered ``readings`` whose inline append failed back at the head of the queue:
        the writer stores them first, retrying (nothing before them is left unwritten)."""
        self._queue.extendleft(reversed(readings))
        self.pending += len(readings)
        self.bytes += sum(reading.size for reading in readings)
        self._arrived.set()

    async def batch(self, window: float = 0.0) -> list[Reading]:
        """Whatever has queued up (at least one, at most ``max_batch``), in order; with a
        ``window`` (seconds), what queues up within it after the first (the log's group commit)."""
        while not self._queue:
            self._arrived = trio.Event()
            await self._arrived.wait()
        if window > 0 and self.max_batch > 1 and len(self._queue) < self.max_batch:
            await trio.sleep(window)
        queue = self._queue
        if len(queue) <= self.max_batch:
            batch = list(queue)
            queue.clear()
        else:
            batch = [queue.popleft() for _ in range(self.max_batch)]
        self._wake_waiting()
        return batch

    def done(self, batch: list[Reading]) -> None:
        """``batch`` is written: its bytes make room for waiting producers."""
        self.bytes -= sum(reading.size for reading in batch)
        self.pending -= len(batch)
        self._wake_waiting()

    def _wake_waiting(self) -> None:
        if not self._waiters:
            return
        self._room.set()
        self._room = trio.Event()

    def close(self) -> None:
        """The writer has stopped: producers still sending get trio.BrokenResourceError."""
        self._closed = True
        self._wake_waiting()
