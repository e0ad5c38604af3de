"""The intake: readings waiting for the hub's writer, bounded in count and in bytes.

Backpressure, not loss: a log that cannot keep up slows producers down. A producer waits when
``queue_size`` readings or ``max_bytes`` of them wait already (big readings cannot pile up in
memory), and is refused at once (StorageUnavailable) while storage cannot be written, or when
storage fails while it waits.
"""

from __future__ import annotations

from typing import Any, Protocol

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
        self.max_bytes = max_bytes
        self.max_batch = max_batch
        self._send, self._receive = trio.open_memory_channel[Reading](queue_size)
        self.bytes = 0  # of the readings queued for the writer or being written
        self._room = trio.Event()

    async def put(self, reading: Reading) -> None:
        """Queue ``reading`` (waits for room; raises StorageUnavailable as said above).
        No checkpoint when there is room: the caller's read of the next frame is one."""
        if not self.storage.ok:
            raise StorageUnavailable(self.storage.error)
        if self.bytes and self.bytes + reading.size > self.max_bytes:
            with self.storage.waiting() as wait:
                while self.bytes and self.bytes + reading.size > self.max_bytes:
                    await self._room.wait()
            if wait.cancelled_caught:  # storage failed meanwhile: refused, not queued
                raise StorageUnavailable(self.storage.error)
        self.bytes += reading.size
        try:
            self._send.send_nowait(reading)
        except trio.WouldBlock:
            try:
                with self.storage.waiting() as wait:
                    await self._send.send(reading)
            except BaseException:
                self.bytes -= reading.size
                raise
            if wait.cancelled_caught:
                self.bytes -= reading.size
                raise StorageUnavailable(self.storage.error)

    async def batch(self, window: float = 0.0) -> list[Reading]:
        """Whatever has queued up (at least one, at most ``max_batch``), in order; with a
        ``window`` (seconds), what queues up within it after the first (the log's group commit)."""
        batch = [await self._receive.receive()]
        if window > 0 and self.max_batch > 1:
            await trio.sleep(window)
        while len(batch) < self.max_batch:
            try:
                batch.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return batch

    def done(self, batch: list[Reading]) -> None:
        """``batch`` is written: its bytes make room for waiting producers."""
        self.bytes -= sum(reading.size for reading in batch)
        self._room.set()
        self._room = trio.Event()

    def close(self) -> None:
        """The writer has stopped: producers still sending get trio.BrokenResourceError."""
        self._receive.close()
