"""The consumer's decisions, pure: where to resume, what to replay, what is a duplicate (what a
close code means is in ``linkfaults``, shared with the producer).

A consumer keeps one number, its cursor: the last seq it has passed on. After every (re)connect
the protocol prescribes how to close the gap: on the first live DISPATCH with seq S, send REPLAY
``{after: cursor, before: S}`` and hold the live payloads back until the replay has streamed.

READY may carry the developer's latest seq L (our extension, ``{"op":4,"d":{"seq":L}}``): then the
consumer need not wait for a live DISPATCH (none may come for hours while the log holds data): it
closes the gap to L at once, exactly as if L had just arrived live (``ready``).

The protocol gives no end-of-replay marker, and seq numbers may have gaps, so "the replay is done"
cannot be read off the seqs alone. The broker sends REPLAY ranges one after another, in the order
asked, before any live frame still queued. So right behind the gap replay the consumer asks for a
second, one-payload replay of S itself (a *fence*): S arriving a second time means the gap replay
has fully arrived. S exists (it was just dispatched), so the fence always comes back.

The live buffer is bounded. When it is full, further live payloads are dropped, remembering the
last one dropped, D: once the fence is in, the consumer opens another gap replay up to D (D itself
as its fence). Memory stays bounded and nothing is lost.
"""

from __future__ import annotations

import collections
import enum
from typing import Sequence

import attrs

from .stream import Payload, ReplayRange
from .subscriptions import Subscription

DEFAULT_BUFFER = 10_000


class Phase(enum.Enum):
    AWAITING_LIVE = "awaiting-live"  # connected; the first live DISPATCH decides about a replay
    REPLAYING = "replaying"  # a gap replay is streaming; live payloads are held back
    LIVE = "live"  # no gap: every payload above the cursor is passed on


@attrs.frozen
class Step:
    """What to do after one DISPATCH: REPLAY ranges to send, then payloads to pass on (in order)."""

    replays: tuple[ReplayRange, ...] = ()
    deliver: tuple[Payload, ...] = ()


@attrs.define
class Resume:
    """Per consumer: gap closing and duplicate dropping across connections."""

    cursor: int = 0
    buffer_limit: int = DEFAULT_BUFFER
    phase: Phase = Phase.AWAITING_LIVE
    duplicates: int = 0
    _fence: int = 0  # the live seq whose second arrival ends the gap replay
    _held: collections.deque[Payload] = attrs.field(factory=collections.deque)
    _dropped: int | None = None  # the last live seq dropped while the buffer was full

    def connected(self) -> None:
        """A new connection reached READY: whatever was in flight on the old one is gone."""
        self.phase = Phase.AWAITING_LIVE
        self._held.clear()
        self._dropped = None

    def ready(self, latest: int | None) -> tuple[ReplayRange, ...]:
        """READY said the stream's latest seq is ``latest``: the REPLAYs that fetch what lies
        between the cursor and it (none when there is nothing new, or READY did not say)."""
        if latest is None or latest <= self.cursor or self.phase is not Phase.AWAITING_LIVE:
            return ()
        return self._open_gap(latest)

    def received(self, payload: Payload) -> Step:
        seq = payload.seq
        if self.phase is Phase.REPLAYING:
            return self._while_replaying(payload)
        if seq <= self.cursor:
            self.duplicates += 1
            return Step()
        if self.phase is Phase.LIVE or seq == self.cursor + 1:
            self.phase = Phase.LIVE
            return Step(deliver=(self._pass(payload),))
        return Step(replays=self._open_gap(seq))

    def _open_gap(self, live: int) -> tuple[ReplayRange, ...]:
        """Replay what lies between the cursor and ``live``, then ``live`` itself as the fence;
        the fence's copy of ``live`` is the one passed on."""
        self.phase = Phase.REPLAYING
        self._fence = live
        return (ReplayRange(self.cursor, live), ReplayRange(live - 1, live + 1))

    def _while_replaying(self, payload: Payload) -> Step:
        seq = payload.seq
        if seq <= self.cursor or (seq > self._fence and seq <= self._last_held()):
            self.duplicates += 1
            return Step()
        if seq < self._fence:
            return Step(deliver=(self._pass(payload),))
        if seq > self._fence:
            if self._dropped is None and len(self._held) < self.buffer_limit:
                self._held.append(payload)
            else:
                self._dropped = seq  # replayed once the fence is in: see the module docstring
            return Step()
        deliver = (self._pass(payload), *map(self._pass, self._held))
        self._held.clear()
        if self._dropped is None:
            self.phase = Phase.LIVE
            return Step(deliver=deliver)
        replays = self._open_gap(self._dropped)
        self._dropped = None
        return Step(replays, deliver)

    def _last_held(self) -> int:
        return self._held[-1].seq if self._held else self._fence

    def _pass(self, payload: Payload) -> Payload:
        self.cursor = payload.seq
        return payload


# Fan-out to sinks -----------------------------------------------------------------------------


def resume_cursor(cursors: Sequence[int]) -> int:
    """Where a consumer with several sinks resumes: the sink that is furthest behind decides."""
    return min(cursors, default=0)


def share_for_sink(
    payloads: Sequence[Payload], cursor: int, subscription: Subscription
) -> tuple[list[Payload], int]:
    """What one sink at ``cursor`` stores of a batch (ascending seqs), and its cursor afterwards.

    Payloads the subscription does not want are not stored but still move the cursor: otherwise a
    sink that filters out everything would replay the whole stream after every restart."""
    fresh = [p for p in payloads if p.seq > cursor]
    if not fresh:
        return [], cursor
    return [p for p in fresh if subscription.matches(p.uid, p.t)], fresh[-1].seq
