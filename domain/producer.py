"""The producer's decisions, free of I/O: the in-flight window, heartbeats and the per-device
figures of the status line (what a close or a failed connection means: ``linkfaults``).

The WebSocket link and the producer entrypoint only move bytes and time; every rule that could
lose or duplicate a sample (what to send next, what an acknowledgement frees, when a link is
dead, when to give up) lives here and is tested without a socket.
"""

from __future__ import annotations

import collections
from typing import Iterable

import attrs

from .devices import DeviceStatus
from .errors import DomainError
from .samples import Sample


class LinkStopped(DomainError):
    """The link gave up for good (``linkfaults`` decided that retrying would only repeat the
    failure); the message is the one line the producer stops with."""


class BrokerMisbehaved(DomainError):
    """The broker broke the acknowledged-submit rules (e.g. acknowledged an id never sent); the
    connection is dropped and made again, and nothing is deleted on the strength of that ack."""


# The in-flight window ----------------------------------------------------------------------


@attrs.define
class InFlight:
    """SUBMITs sent on the current connection and not yet acknowledged, at most ``window``.

    ``acked`` is the highest id the broker has confirmed (across connections: it is durable on
    the broker's side). After a reconnect ``rewind`` forgets what was sent, so everything after
    ``acked`` is sent again, in order; the broker drops the resends it had already stored.
    """

    window: int
    acked: int = -1
    _sent: collections.deque[int] = attrs.field(factory=collections.deque)

    def __attrs_post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the in-flight window must be at least 1")

    @property
    def room(self) -> int:
        return self.window - len(self._sent)

    @property
    def cursor(self) -> int:
        """The id after which the next entries to send come."""
        return self._sent[-1] if self._sent else self.acked

    @property
    def in_flight(self) -> int:
        return len(self._sent)

    def sent(self, entry_id: int) -> None:
        if entry_id <= self.cursor:
            raise ValueError(f"id {entry_id} sent out of order (after {self.cursor})")
        if not self.room:
            raise ValueError("the in-flight window is full")
        self._sent.append(entry_id)

    def ack(self, upto: int) -> bool:
        """Apply a cumulative ack; True when it confirmed something new.

        Raises BrokerMisbehaved for an ack beyond the last id sent on this connection.
        """
        if upto <= self.acked:
            return False  # stale or repeated: acks are cumulative
        if not self._sent or upto > self._sent[-1]:
            raise BrokerMisbehaved(f"SUBMIT_ACK upto={upto} covers ids never sent (last {self.cursor})")
        while self._sent and self._sent[0] <= upto:
            self._sent.popleft()
        self.acked = upto
        return True

    def rewind(self) -> None:
        """A new connection: whatever was not acknowledged is to be sent again."""
        self._sent.clear()


# The status line --------------------------------------------------------------------------

RATE_WINDOW_S = 5.0


@attrs.define
class DeviceView:
    """What the status line shows for one device, fed with samples and presence changes."""

    device_id: str
    connected: bool = False
    last: Sample | None = None
    battery: int | None = None
    problem: str | None = None
    samples: int = 0
    _since: float | None = None
    _times: collections.deque[float] = attrs.field(factory=collections.deque)

    def sample(self, sample: Sample, now: float) -> None:
        self.last = sample
        self.samples += 1
        if self._since is None:
            self._since = now
        self.connected = True
        self._times.append(now)
        self._forget_before(now - RATE_WINDOW_S)

    def status(self, status: DeviceStatus) -> None:
        self.connected = status.connected
        if status.battery is not None:
            self.battery = status.battery
        self.problem = None if status.connected else status.reason

    def stopped(self, reason: str) -> None:
        self.connected = False
        self.problem = reason

    def rate(self, now: float) -> float:
        """Samples per second over the last few seconds (fewer, just after the first sample)."""
        self._forget_before(now - RATE_WINDOW_S)
        if self._since is None:
            return 0.0
        return len(self._times) / max(min(RATE_WINDOW_S, now - self._since), 1.0)

    def _forget_before(self, cutoff: float) -> None:
        while self._times and self._times[0] < cutoff:
            self._times.popleft()


def foreign_user(user_ids: Iterable[str], user_id: str) -> str | None:
    """The first user other than ``user_id`` among the waiting samples: the outbox belongs to one
    user, since a link identifies as one user and could never deliver another's samples."""
    return next((u for u in user_ids if u != user_id), None)
