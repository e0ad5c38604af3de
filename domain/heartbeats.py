"""The client's heartbeat rule, one for the producer and the consumer (protocol.md: the first
HEARTBEAT after ``interval × jitter``, then one per interval; the broker's side of the rule is
``session.SessionConfig.heartbeat_window``)."""

from __future__ import annotations

import attrs


@attrs.define
class Heartbeats:
    """The client's heartbeat cadence: the first after ``interval × jitter``, then one per
    interval; a heartbeat still unanswered when the next is due means the link is dead."""

    interval: float
    next_at: float
    awaiting_ack: bool = False

    @classmethod
    def start(cls, now: float, interval: float, jitter: float) -> "Heartbeats":
        if interval <= 0:
            raise ValueError("the heartbeat interval must be positive")
        return cls(interval, now + interval * min(max(jitter, 0.0), 1.0))

    def beat(self, now: float) -> bool:
        """Called at ``next_at``: True to send a HEARTBEAT, False when the last one had no ACK."""
        if self.awaiting_ack:
            return False
        self.awaiting_ack = True
        self.next_at = now + self.interval
        return True

    def acked(self) -> None:
        self.awaiting_ack = False
