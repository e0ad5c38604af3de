"""Dashboard sessions (our extension, docs/protocol.md): a read-only, lossy view of a live stream.

A browser tab watching a developer's users must never cost the broker anything that matters. So a
dashboard is not a consumer: it is not counted against the consumer cap, it cannot REPLAY (a tab
cannot make the broker read the log), and its queue is small and drops frames when full instead
of holding anyone up or switching to a catch-up from the log. A live chart that misses a point
still shows the truth a moment later; a consumer that misses a payload would be wrong forever.

Besides DISPATCH, a dashboard receives PRESENCE frames (op 10): which of a user's producers are
connected to this broker and what their devices last reported in STATUS. Presence is coalesced:
a STATUS only marks its user changed, and the dashboard's sender builds that user's frame (the
latest state) at most once per ``presence_interval``, so a producer's STATUS flood costs each
dashboard a few small frames a second, not one frame listing every device per STATUS.
"""

from __future__ import annotations

import collections
from typing import Any, Awaitable, Callable, Mapping, Protocol

import orjson
import trio

from ...domain.frames import HeartbeatAck
from ...domain.limits import HubLimits
from .codec import encode
from .stall import Stalled, WriteWatch

PRESENCE_OP = 10
# A few seconds of a busy developer's stream: more would only make a slow tab slower.
DASHBOARD_QUEUE = 256
_DEFAULTS = HubLimits()
# Frames per write (a tab's socket gets a burst in one syscall, as a consumer's does).
MAX_WRITE = 64
# Heartbeat acks owed while the socket is busy: one says as much as many.
MAX_ACKS_OWED = 4
HEARTBEAT_ACK = encode(HeartbeatAck())


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
    """Frames owed to one dashboard; ``offer`` never blocks and drops what does not fit (at most
    ``max_pending`` frames and ``max_bytes`` bytes wait)."""

    extensions = True  # a dashboard charts every data type, extensions included

    def __init__(
        self,
        developer_id: str,
        presence_of: Callable[[str], str],
        *,
        max_pending: int = DASHBOARD_QUEUE,
        max_bytes: int = _DEFAULTS.dashboard_queue_bytes,
        presence_interval: float = _DEFAULTS.presence_interval,
        send_timeout: float = _DEFAULTS.send_timeout,
    ) -> None:
        self.developer_id = developer_id
        self._presence_of = presence_of
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self.presence_interval = presence_interval
        self._frames: collections.deque[str] = collections.deque()
        self._bytes = 0
        self.peak_bytes = 0
        self._changed: dict[str, None] = {}  # users whose presence changed (ordered, unique)
        self._next_presence = -presence_interval
        self._acks_owed = 0
        self._wake = trio.Event()
        self._watch = WriteWatch(send_timeout)
        self.sent = 0
        self.dropped = 0

    @property
    def depth(self) -> int:
        return len(self._frames)

    def release(self) -> None:
        """The connection has ended and the queue is out of the fan-out: drop what it holds."""
        self._frames.clear()
        self._bytes = 0
        self._changed.clear()

    def offer(self, seq: int, frame: str) -> None:
        """A live DISPATCH frame (the same call the hub makes on a consumer's queue)."""
        self.push(frame)

    def flush(self) -> None:
        """Nothing: the dashboard's sender writes on its own beat."""

    def push(self, frame: str) -> None:
        size = len(frame)
        if len(self._frames) >= self.max_pending or self._bytes + size > self.max_bytes:
            self.dropped += 1
            return
        self._frames.append(frame)
        self._bytes += size
        self.peak_bytes = max(self.peak_bytes, self._bytes)
        self._wake.set()

    def presence_changed(self, uid: str) -> None:
        """``uid``'s presence changed: its latest state goes out with the next presence round."""
        self._changed[uid] = None
        self._wake.set()

    def heartbeat_ack(self) -> None:
        """Owe a HEARTBEAT_ACK (sent before the next frames; the reader never waits)."""
        self._acks_owed = min(self._acks_owed + 1, MAX_ACKS_OWED)
        self._wake.set()

    async def run(self, send: Callable[[list[str]], Awaitable[None]], stalled: Stalled | None = None) -> None:
        """Send queued frames, forever; ``send`` writes a list of frames in one go.
        ``stalled(reason)`` is called once if a write waits over ``send_timeout``."""
        async with trio.open_nursery() as nursery:
            if stalled is not None:
                nursery.start_soon(self._watch.watch, stalled)
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                while self._acks_owed or self._frames or self._changed:
                    frames = self._take()
                    if frames:
                        await self._watch.write(send, frames)
                        self.sent += len(frames)
                    else:  # only presence, and its round is not due yet
                        await trio.sleep_until(self._next_presence)

    def _take(self) -> list[str]:
        """The next write: acks owed, the presence round if due, then queued frames."""
        frames = [HEARTBEAT_ACK] * self._acks_owed
        self._acks_owed = 0
        now = trio.current_time()
        if self._changed and now >= self._next_presence:
            frames += [self._presence_of(uid) for uid in self._changed]
            self._changed.clear()
            self._next_presence = now + self.presence_interval
        while self._frames and len(frames) < MAX_WRITE:
            frame = self._frames.popleft()
            self._bytes -= len(frame)
            frames.append(frame)
        return frames

