"""Producer-side ports: single-use tokens, the durable outbox, and the link to the broker.

The producer core drains the outbox into the broker link and deletes entries only once the broker
has acknowledged them; it knows nothing of SQLite, HTTP or WebSockets.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import attrs

from ..domain.devices import DeviceStatus
from ..domain.samples import Sample


class TokenProvider(Protocol):
    """Mints a fresh single-use token for each connection attempt.

    Raises ``TokenUnavailable`` (retry with backoff) or ``CredentialsError`` (stop: retrying will not
    help) from ``wearstream.domain.errors``.
    """

    async def token(self) -> str: ...


@attrs.frozen
class OutboxEntry:
    """A sample waiting in the outbox; ``id`` grows strictly and is the SUBMIT idempotency counter."""

    id: int
    sample: Sample


class Outbox(Protocol):
    """A durable FIFO of samples not yet acknowledged by the broker."""

    @property
    def source(self) -> str:
        """A stable name for this outbox (the idempotency key source sent in IDENTIFY)."""
        ...

    async def add(self, samples: Sequence[Sample]) -> list[int]:
        """Append in order, durable on return; returns the ids given, consecutive and higher than
        any id this outbox ever gave before (also after a restart, also when it was emptied)."""
        ...

    async def peek(self, after: int, limit: int) -> list[OutboxEntry]:
        """Up to ``limit`` entries with ``id > after``, ascending."""
        ...

    async def ack(self, upto: int) -> None:
        """Delete every entry with ``id <= upto``."""
        ...

    async def depth(self) -> int:
        """How many entries wait for an acknowledgement."""
        ...

    async def aclose(self) -> None: ...


class BrokerLink(Protocol):
    """The producer's connection to the broker: drains the outbox, reports device presence.

    ``run`` keeps a connection up (reconnecting with backoff) until cancelled, and raises
    ``LinkStopped`` only when retrying cannot help (a fatal close, credentials refused).
    """

    def notify(self) -> None:
        """New entries were added to the outbox."""
        ...

    def report(self, status: DeviceStatus) -> None:
        """A device's presence changed: sent as STATUS now, and again after each reconnect."""
        ...

    async def wait_acked(self, upto: int) -> None:
        """Return once every entry with ``id <= upto`` is acknowledged and gone from the outbox."""
        ...

    def drain_until(self, deadline: float) -> None:
        """The producer stops at ``deadline`` (trio time): deliver what can be delivered until
        then, but do not wait for a reconnection that could only start after it."""
        ...

    async def run(self) -> None: ...
