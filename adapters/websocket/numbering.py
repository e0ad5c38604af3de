"""Numbering: the next sequence number of each developer's stream, and resends recognised.

A developer's position is loaded from the log once (after a restart too), with the newest
idempotency key stored per (user, outbox): a reading whose key is not newer than that was stored
already (a producer resending what it was not told was stored) and gets no number.
"""

from __future__ import annotations

from typing import Any

from ...domain.stream import Payload, Stream, SubmitKey
from ...ports.storage import StreamLog


class Numbering:
    """Allocates seqs per developer (one owner: the hub's writer) and drops known resends."""

    def __init__(self) -> None:
        self._streams: dict[str, Stream] = {}
        self._keys: dict[str, dict[tuple[str, str], int]] = {}

    def knows(self, developer_id: str) -> bool:
        return developer_id in self._streams

    async def open(self, log: StreamLog, developer_id: str) -> int | None:
        """Load the developer's position from ``log`` unless known: its last seq when loaded
        now, None when it was known already."""
        if developer_id in self._streams:
            return None
        last = await log.last_seq(developer_id)
        keys = await log.last_keys(developer_id)
        if developer_id in self._streams:  # another task loaded it meanwhile
            return None
        self._streams[developer_id] = Stream(developer_id, last)
        self._keys[developer_id] = keys
        return last

    def number(
        self, developer_id: str, uid: str, t: str, d: dict[str, Any], key: SubmitKey | None
    ) -> Payload | None:
        """The reading as the developer's next payload, or None for a resend already stored.
        The developer must be open."""
        if key is not None:
            keys = self._keys[developer_id]
            slot = (uid, key.source)
            if key.counter <= keys.get(slot, -1):
                return None
            keys[slot] = key.counter
        return self._streams[developer_id].append(uid, t, d, key=key)
