"""Consumer leases: the consumer cap across broker nodes that share one backend.

Each consumer admitted on a node holds a lease in the backend (ConsumerLeases) under a holder
name unique to the node and the queue. This node renews its leases well within their time to
live and releases a lease promptly when its consumer goes; a node that dies stops renewing, so
its leases lapse and free their slots.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from typing import Hashable

import trio

from ...ports.storage import ConsumerLeases, StorageUnavailable

log = logging.getLogger("wearstream.broker")


class LeaseKeeper:
    """The leases this node holds, one per admitted consumer (``key``: its queue)."""

    def __init__(self, leases: ConsumerLeases, node_id: str | None = None) -> None:
        self.leases = leases
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self._holders: dict[Hashable, tuple[str, str]] = {}  # key -> (developer, holder)
        self._ids = itertools.count(1)
        self._releases: list[tuple[str, str]] = []
        self._release_wanted = trio.Event()

    async def acquire(self, key: Hashable, developer_id: str, cap: int) -> bool:
        """Take a lease for ``key`` if fewer than ``cap`` consumers of the developer hold one
        (across nodes). Remembered before the backend answers: ``release(key)`` undoes it."""
        holder = f"{self.node_id}/{next(self._ids)}"
        self._holders[key] = (developer_id, holder)
        return await self.leases.acquire(developer_id, holder, cap)

    def release(self, key: Hashable) -> None:
        """Give ``key``'s lease back (by the keeper's task: this method cannot await)."""
        held = self._holders.pop(key, None)
        if held is not None:
            self._releases.append(held)
            self._release_wanted.set()

    def held(self) -> list[tuple[str, str]]:
        return list(self._holders.values())

    async def run(self) -> None:
        """Renew this node's leases every third of their time to live; release promptly."""
        interval = self.leases.ttl.total_seconds() / 3
        while True:
            with trio.move_on_after(interval):
                await self._release_wanted.wait()
            self._release_wanted = trio.Event()
            await self.keep()

    async def keep(self) -> None:
        """One turn: the releases owed, then a renewal of every lease held."""
        releases, self._releases = self._releases, []
        try:
            for developer_id, holder in releases:
                await self.leases.release(developer_id, holder)
            await self.leases.renew(self.held())
        except StorageUnavailable as error:
            # Next turn tries again; a lease not renewed in time frees its slot, nothing worse.
            self._releases = releases + self._releases  # releasing twice is harmless
            log.warning("consumer leases not kept up now: %s", error)
