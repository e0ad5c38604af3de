"""Fan-out: the live consumers and dashboards of each developer, and handing them payloads.

A payload goes to the queues of its own developer and nowhere else; extension data types only to
consumers that opted in (dashboards see everything). Handing over never blocks: each queue is
bounded and deals with its own overflow (consumer_queue.py, dashboard.py). The fan-out also keeps
each developer's dispatched position: the newest seq handed out live, which a new consumer's READY
and a REPLAY's upper bound are measured against.
"""

from __future__ import annotations

import collections
from typing import Callable, Iterable, Protocol

from ...domain.datatypes import is_extension_type
from ...domain.stream import Payload
from .codec import encode_dispatch


class Watcher(Protocol):
    """A consumer's or dashboard's queue, as the fan-out sees it."""

    developer_id: str
    extensions: bool  # sent extension data types too
    peak_bytes: int

    def offer(self, seq: int, frame: str) -> None:
        """Queue a live frame; it may wait for the delivery's flush()."""

    def flush(self) -> None:
        """The end of a delivery: what was offered in it may be written now. Whoever dispatches
        calls flush() for the developers it dispatched to (writer.py, deliver())."""


class FanOut:
    """Per developer: its watchers (consumers and dashboards) and its dispatched position."""

    def __init__(self) -> None:
        self.watchers: dict[str, list[Watcher]] = collections.defaultdict(list)
        self._dispatched: dict[str, int] = {}
        self.payloads_out = 0
        # Told of every live dispatch and how many queues it went to (metrics by data type).
        self.on_dispatch: Callable[[Payload, int], None] | None = None

    def dispatched_seq(self, developer_id: str) -> int:
        return self._dispatched.get(developer_id, 0)

    def advance(self, developer_id: str, seq: int) -> None:
        """Move the developer's position to ``seq`` if that is later (never back)."""
        if seq > self._dispatched.get(developer_id, 0):
            self._dispatched[developer_id] = seq

    def start_at(self, developer_id: str, seq: int) -> None:
        """The developer's position as loaded from the log."""
        self._dispatched[developer_id] = seq

    def of(self, developer_id: str) -> list[Watcher]:
        return self.watchers[developer_id]

    def count(self, kind: type) -> int:
        return sum(isinstance(q, kind) for queues in self.watchers.values() for q in queues)

    def add(self, queue: Watcher) -> None:
        self.watchers[queue.developer_id].append(queue)

    def remove(self, queue: Watcher) -> None:
        queues = self.watchers.get(queue.developer_id, [])
        if queue in queues:
            queues.remove(queue)

    def following(self) -> dict[str, int]:
        """The developers someone watches here, with their positions (a shared log's follower
        reads on from there)."""
        return {dev: self.dispatched_seq(dev) for dev, queues in self.watchers.items() if queues}

    def deliver(self, payloads: Iterable[Payload]) -> None:
        """Dispatch what the shared log's follower read, skipping what was dispatched already."""
        developers = set()
        try:
            for payload in payloads:
                if payload.seq > self.dispatched_seq(payload.developer_id):
                    self.dispatch(payload)
                    developers.add(payload.developer_id)
        finally:
            self.flush(developers)

    def flush(self, developer_ids: Iterable[str]) -> None:
        """The end of a delivery to ``developer_ids``: their queues may write what they were
        offered (one decision per batch, not one clock read per frame)."""
        for developer_id in developer_ids:
            for queue in self.watchers.get(developer_id, ()):
                queue.flush()

    def dispatch(self, payload: Payload) -> None:
        """Hand ``payload`` to each of its developer's watchers that wants it. The caller ends
        its delivery with flush(), also when it fails midway (a queue writes only then)."""
        self._dispatched[payload.developer_id] = payload.seq
        queues = self.watchers.get(payload.developer_id)
        if not queues:
            return
        frame = encode_dispatch(payload)
        plain = not is_extension_type(payload.t)
        sent = 0
        for queue in queues:
            if plain or queue.extensions:
                queue.offer(payload.seq, frame)
                sent += 1
        self.payloads_out += sent
        if self.on_dispatch is not None:
            self.on_dispatch(payload, sent)
