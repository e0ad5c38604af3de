"""What one client can make the broker hold: the bounds of the hub's queues and tables.

Every bound has a broker flag (entrypoints/broker.py) and is listed in docs/limits.md. A pure
value, so that the CLI can show the defaults without importing the broker.
"""

from __future__ import annotations

import attrs

MIB = 1024 * 1024


@attrs.frozen
class HubLimits:
    """What one client can make the hub hold (each has a broker flag: docs/limits.md)."""

    submit_queue_bytes: int = 8 * MIB  # readings read from producers, not yet stored (all)
    consumer_queue: int = 10_000  # live frames waiting for one consumer
    consumer_queue_bytes: int = 16 * MIB  # … and their bytes; a page is a quarter of it
    max_pending_replays: int = 16  # distinct REPLAY ranges waiting, per consumer
    max_dashboards: int = 8  # dashboard sessions per developer (on each node)
    dashboard_queue_bytes: int = MIB  # frames waiting for one dashboard (then dropped)
    max_devices: int = 32  # devices per user known from STATUS
    presence_interval: float = 0.25  # a dashboard gets a user's presence at most this often
    send_timeout: float = 30.0  # a write to a consumer or dashboard that takes longer closes it
    coalesce: float = 0.002  # a consumer's frames that arrive densely wait this long to share a write

    @property
    def page_bytes(self) -> int:
        return max(1, self.consumer_queue_bytes // 4)
