"""Fakes shared by the broker's tests."""

from __future__ import annotations

from typing import Sequence

from wearstream.adapters.storage.memory import MemoryStreamLog
from wearstream.domain.stream import Payload
from wearstream.ports.storage import StorageUnavailable


class Acks:
    """An acknowledged producer as the hub sees it: notes every submit id it is told is stored."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def stored(self, submit_id: int) -> None:
        self.ids.append(submit_id)


class Watcher:
    """A consumer queue as the fan-out sees it: notes the seq of every frame it is offered."""

    def __init__(self, developer_id: str = "dev") -> None:
        self.developer_id = developer_id
        self.extensions = False
        self.peak_bytes = 0
        self.seqs: list[int] = []
        self.unflushed = 0  # frames offered since the last flush(): a delivery must end in one

    def offer(self, seq: int, frame: str) -> None:
        self.seqs.append(seq)
        self.unflushed += 1

    def flush(self) -> None:
        self.unflushed = 0


class FlakyLog(MemoryStreamLog):
    """The real memory log, refusing every append while ``full`` (inline ones too: the memory
    log's ``append`` is its ``append_now``)."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.refused = 0

    def append_now(self, payloads: Sequence[Payload]) -> None:
        if self.full:
            self.refused += 1
            raise StorageUnavailable("database or disk is full")
        super().append_now(payloads)
