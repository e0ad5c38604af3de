"""Dashboard sessions (our extension, docs/protocol.md): a read-only, lossy view of a live stream.

A browser tab watching a developer's users must never cost the broker anything that matters. So a
dashboard is not a consumer: it is not counted against the consumer cap, it cannot REPLAY (a tab
cannot make the broker read the log), and its queue is small and drops frames when full instead
of holding anyone up or switching to a catch-up from the log. A live chart that misses a point
still shows the truth a moment later; a consumer that misses a payload would be wrong forever.

Besides DISPATCH, a dashboard receives PRESENCE frames (op 10): which of a user's producers are
connected to this broker and what their devices last reported in STATUS.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Mapping, Protocol

import orjson
import trio

PRESENCE_OP = 10
# A few seconds of a busy developer's stream: more would only make a slow tab slower.
DASHBOARD_QUEUE = 256


class DeviceReport(Protocol):
    """What the hub remembers of a device from its last STATUS."""

    connected: bool
    source: str | None
    reason: str | None


def encode_presence(uid: str, online: bool, devices: Mapping[str, DeviceReport]) -> str:
    """A PRESENCE frame: ``online`` = a producer of ``uid`` is connected to this broker now."""
    listed = [
        {
            "device_id": device_id or None,
            "connected": report.connected,
            "source": report.source,
            "reason": report.reason,
        }
        for device_id, report in sorted(devices.items())
    ]
    frame: dict[str, Any] = {"op": PRESENCE_OP, "d": {"uid": uid, "online": online, "devices": listed}}
    return orjson.dumps(frame).decode()


class DashboardQueue:
    """Frames owed to one dashboard; ``offer`` never blocks and drops what does not fit."""

    def __init__(self, developer_id: str, max_pending: int = DASHBOARD_QUEUE) -> None:
        self.developer_id = developer_id
        self._send, self._receive = trio.open_memory_channel[str](max_pending)
        self.sent = 0
        self.dropped = 0

    @property
    def depth(self) -> int:
        return self._send.statistics().current_buffer_used

    def offer(self, seq: int, frame: str) -> None:
        """A live DISPATCH frame (the same call the hub makes on a consumer's queue)."""
        self.push(frame)

    def push(self, frame: str) -> None:
        try:
            self._send.send_nowait(frame)
        except trio.WouldBlock:
            self.dropped += 1

    async def run(self, send: Callable[[str], Awaitable[None]]) -> None:
        """Send queued frames, forever; ``send`` is the connection's async send function."""
        async for frame in self._receive:
            await send(frame)
            self.sent += 1
