"""The live values behind overlay pages: the latest reading of each (user, data type) watched.

An overlay page polls for one number about once a second, so between polls it holds nothing on
the broker. What the broker holds is here, and bounded:

- per developer with an overlay open on this node, one hub watcher: a dashboard queue (lossy,
  small, outside the consumer cap; it counts as one of the developer's ``--max-dashboards``),
  shared by all of that developer's overlays and dropped ``IDLE_S`` after their last poll;
- per developer, at most ``max_streams`` watched (user, data type) pairs (``--max-overlay-streams``),
  each one latest value; a pair nobody polled for ``IDLE_S`` is forgotten.

A pair starts being watched at its first poll: the page shows the next reading, not an old one.
"""

from __future__ import annotations

import math
from typing import Awaitable, Callable, Protocol

import attrs
import orjson
import trio

DISPATCH_OP = 5
# A DISPATCH frame names its type before its reading: op, uid (≤ 128 characters, escaped), seq, t.
HEAD_CHARS = 1024
# A page polls every second; one that stopped for this long is gone (OBS hid or closed it).
IDLE_S = 30.0
MAX_STREAMS = 32


class Watcher(Protocol):
    """The hub's dashboard queue, as far as this module uses it."""

    developer_id: str

    async def run(self, send: Callable[[list[str]], Awaitable[None]]) -> None: ...


class Watchable(Protocol):
    """The hub, as far as this module uses it."""

    async def add_dashboard(self, developer_id: str) -> Watcher | None: ...

    def remove_consumer(self, queue: Watcher) -> None: ...


class NoWatcher(Exception):
    """The hub has no room for another watcher of this developer (its --max-dashboards)."""


class TooManyStreams(Exception):
    """The developer's overlays already watch ``max_streams`` (user, type) pairs on this node."""


@attrs.define
class Latest:
    """One watched pair: its latest value, when it arrived (trio clock), when it was last asked."""

    value: float | None = None
    received: float = -math.inf
    asked: float = -math.inf


@attrs.define
class _Feed:
    slots: dict[tuple[str, str], Latest] = attrs.Factory(dict)

    def take(self, frames: list[str]) -> None:
        """Keep the values of watched pairs. A developer's stream may be mostly other users' ECG
        chunks, so a frame whose head names no watched type is skipped without parsing it."""
        now = trio.current_time()
        heads = {f'"t":{orjson.dumps(t).decode()}' for _, t in self.slots}
        for frame in frames:
            if not any(frame.find(head, 0, HEAD_CHARS) >= 0 for head in heads):
                continue
            message = orjson.loads(frame)
            if message.get("op") != DISPATCH_OP:
                continue
            slot = self.slots.get((message.get("uid"), message.get("t")))
            value = (message.get("d") or {}).get("val")
            if slot is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                slot.value, slot.received = float(value), now

    def forget_idle(self, before: float) -> None:
        for key in [key for key, slot in self.slots.items() if slot.asked < before]:
            del self.slots[key]


class LiveValues:
    """The latest values of watched (user, type) pairs, fed by the hub; ``run`` in a nursery first."""

    def __init__(self, hub: Watchable, max_streams: int = MAX_STREAMS, idle: float = IDLE_S) -> None:
        self.hub = hub
        self.max_streams = max_streams
        self.idle = idle
        self._feeds: dict[str, _Feed] = {}
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def watched(self) -> int:
        """(user, type) pairs watched now, all developers together (for /healthz)."""
        return sum(len(feed.slots) for feed in self._feeds.values())

    async def latest(self, developer_id: str, user_id: str, t: str) -> Latest:
        """The pair's slot, watched from now on (until ``idle`` without another call).
        Raises TooManyStreams or NoWatcher when a bound says no."""
        feed = self._feeds.get(developer_id)
        if feed is None:
            feed = await self._open(developer_id)
        now = trio.current_time()
        slot = feed.slots.get((user_id, t))
        if slot is None:
            feed.forget_idle(now - self.idle)
            if len(feed.slots) >= self.max_streams:
                raise TooManyStreams(
                    f"this developer's overlays already show {self.max_streams} (user, type) pairs "
                    "on this broker (--max-overlay-streams)"
                )
            slot = feed.slots[(user_id, t)] = Latest()
        slot.asked = now
        return slot

    async def _open(self, developer_id: str) -> _Feed:
        assert self._nursery is not None, "LiveValues.run first"
        feed = self._feeds[developer_id] = _Feed()  # before awaiting: a concurrent poll shares it
        try:
            queue = await self.hub.add_dashboard(developer_id)
        except BaseException:  # storage unavailable, cancelled: the next poll tries afresh
            self._feeds.pop(developer_id, None)
            raise
        if queue is None:
            self._feeds.pop(developer_id, None)
            raise NoWatcher(
                "this developer's dashboards are all in use on this broker (--max-dashboards): "
                "close one and the overlay starts within a second"
            )
        self._nursery.start_soon(self._follow, developer_id, feed, queue)
        return feed

    async def _follow(self, developer_id: str, feed: _Feed, queue: Watcher) -> None:
        """Feed ``feed`` from ``queue`` until no pair of it was asked for in ``idle``."""

        async def take(frames: list[str]) -> None:
            feed.take(frames)

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(queue.run, take)
                while True:
                    await trio.sleep(self.idle / 4)
                    feed.forget_idle(trio.current_time() - self.idle)
                    if not feed.slots:
                        nursery.cancel_scope.cancel()
        finally:
            self.hub.remove_consumer(queue)
            if self._feeds.get(developer_id) is feed:
                del self._feeds[developer_id]
