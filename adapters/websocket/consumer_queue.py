"""What one consumer connection still has to be sent: live frames, replays, or a catch-up.

Consumers never slow anyone down. Each has a bounded queue of encoded DISPATCH frames (in frames
and in bytes); a consumer whose queue is full is switched to catch-up mode: it stops receiving live
frames and its sender reads the missed payloads from the log, in order, in pages bounded in bytes,
until it has caught up with the live stream, then goes live again. A slow consumer therefore gets
everything, late, and costs the others nothing. Heartbeat acks ride with the next write, so the
connection's reader never waits for a busy socket; a write that waits over ``send_timeout`` is
reported (stall.py). Live frames are coalesced (``--coalesce``, 2 ms): one that comes after a
quiet spell leaves at once; ones that come densely (within the window of the last write) wait for
the window to end and leave together, in one write: a write is a syscall and a wake-up of the
consumer, and at 1,000 readings/s they were a quarter of the broker's time. While the sender has
nothing else to do, live frames are written by the code that delivered them (``flush``, once per
batch), without waiting, when the socket takes them whole; frames waiting for the window's end
go with the next delivery after it: at 1 Hz × many producers the sender's task is not woken per
write at all. REPLAY ranges wait
in a bounded list: an identical one adds nothing, past ``max_pending_replays`` distinct ones
TooManyReplays closes the consumer.
"""

from __future__ import annotations

import collections
import logging
import math
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol

import trio

from ...domain.datatypes import is_extension_type
from ...domain.limits import HubLimits
from ...domain.stream import ReplayRange
from .codec import encode_dispatch
from .dashboard import HEARTBEAT_ACK, MAX_ACKS_OWED
from .stall import Stalled, WriteWatch

if TYPE_CHECKING:  # pragma: no cover
    from .hub import Hub

log = logging.getLogger("wearstream.broker")

REPLAY_PAGE = 500
# Frames per write to one consumer: large enough that a lagging consumer's sender does far more
# per turn than one producer's reader, small enough that the other tasks still get their turns.
MAX_WRITE = 500
# A catch-up reads big pages: it runs when the consumer lags, when every turn must count.
CATCH_UP_PAGE = 2000
# Until a consumer's frames have been seen, a page of the log is this many payloads (payloads can
# be 256 KiB each); later pages are sized from the largest frame of the page before.
FIRST_PAGE = 32
# Bytes of one write of live frames (besides MAX_WRITE frames).
WRITE_BYTES = 1024 * 1024
# Live frames that a delivery writes itself (flush): a few, as at 1 Hz × many producers. More
# come when frames come fast (maximum rate): the sender writes those, after the deliverer's turn.
INLINE_FRAMES = 16
SendFrames = Callable[[list[str]], Awaitable[None]]


class WritesNow(Protocol):
    """A socket that can take frames without waiting (ServerSocket)."""

    def send_now(self, messages: list[str]) -> bool | bytes:
        """True: all written; False: nothing written; bytes: the rest, for ``finish_send``."""
        ...

    async def finish_send(self, rest: bytes) -> None:
        ...


class TooManyReplays(Exception):
    """A consumer asked for more distinct REPLAY ranges than may wait (closed with its code)."""


class ConsumerQueue:
    """What one consumer connection still has to be sent: live frames, replays, or a catch-up."""

    def __init__(
        self, hub: "Hub", developer_id: str, limits: HubLimits, extensions: bool = False
    ) -> None:
        self.hub = hub
        self.developer_id = developer_id
        self.limits = limits
        self.extensions = extensions  # opted in to extension data types (docs/protocol.md)
        self._first_live: int | None = None  # the seq of the first frame offered live
        self._pending: collections.deque[str] = collections.deque()
        self._pending_bytes = 0
        self.peak_bytes = 0
        self._replays: list[ReplayRange] = []
        self._catch_up_after: int | None = None
        self._acks_owed = 0
        self._frame_bytes: int | None = None  # the largest frame of the last page read
        self._wake = trio.Event()
        self.sent = 0
        self._last_write = -math.inf  # when the last write of live frames began
        self.writes = 0
        self._now: WritesNow | None = None  # writes live frames from flush(), when it can
        self._idle: trio.CancelScope | None = None  # the sender's wait while it owes nothing else
        self._idle_until = math.inf  # its deadline, kept here: trio's getter is a Python call
        # trio.current_time(); once run() has begun, its clock's own method (two calls fewer)
        self._time: Callable[[], float] = trio.current_time
        self._rest: bytes | None = None  # what a flush's write left over: the sender finishes it
        self._watch = WriteWatch(limits.send_timeout)

    @property
    def depth(self) -> int:
        return len(self._pending)

    def release(self) -> None:
        """The connection has ended and the queue is out of the fan-out: drop what it holds."""
        self._pending.clear()
        self._pending_bytes = 0
        self._replays.clear()
        self._rest = None

    @property
    def lagging(self) -> bool:
        return self._catch_up_after is not None

    def offer(self, seq: int, frame: str) -> None:
        """Queue a live frame without ever blocking; fall back to catch-up when full."""
        if self._first_live is None:
            self._first_live = seq
        if self._catch_up_after is not None:
            return
        size = len(frame)
        limits = self.limits
        if len(self._pending) >= limits.consumer_queue or self._pending_bytes + size > limits.consumer_queue_bytes:
            self._catch_up_after = seq - 1
            log.warning(
                "consumer of %s fell %d payloads (%d bytes) behind: catching up from the log",
                self.developer_id,
                len(self._pending),
                self._pending_bytes,
            )
        else:
            self._pending.append(frame)
            self._pending_bytes += size
            if self._pending_bytes > self.peak_bytes:
                self.peak_bytes = self._pending_bytes
            if self._idle is not None:
                # The sender stays idle: flush(), which every delivery calls when it ends (the
                # fan-out's callers), writes the frames or sets the sender's wait for them. No
                # clock is read and no deadline moved per frame here (a deadline move costs as
                # much as the rest of offer(); a lone frame's would be undone by its write).
                return
        self._wake.set()

    def flush(self) -> None:
        """The end of a delivery (the fan-out's): while the sender is idle, write what was
        offered now, without waiting, or leave it for the coalescing window's end; wake the
        sender when it must write it."""
        idle = self._idle
        if idle is not None and self._pending and not self._write_offered(idle):
            self._wake.set()

    def _write_offered(self, idle: trio.CancelScope) -> bool:
        """The sender is idle and only live frames are queued: write them now, or leave them
        for the end of the coalescing window (the sender's wait ends then, unless a later
        delivery writes them first). False when the sender must be woken to write them."""
        if self._acks_owed or self._replays or self._rest is not None:
            return False
        # Frames that come fast (maximum rate) are the sender's: it writes them after the
        # deliverer's turn, at the window's end.
        pending = self._pending
        many = len(pending) > INLINE_FRAMES or self._pending_bytes >= WRITE_BYTES
        due = self._live_due()
        now = self._time()
        if now < due:
            # Few: the first delivery after the window's end writes them; the sender only if
            # none comes within one more window (a timer wake per write otherwise: it would
            # always win).
            wake_at = due if many else self._last_write + 2 * self.limits.coalesce  # the wait limit
            if self._idle_until != wake_at:  # moving a deadline costs a heap push
                idle.deadline = self._idle_until = wake_at
            return True
        if many or self._now is None:
            return False
        written = self._now.send_now(list(pending))
        if written is False:  # the socket is busy or full: the sender waits for it
            return False
        # A dense stream (this write shares several frames and comes within two windows of the
        # last): more frames will come within the window, and the sender's wait is set now to
        # the limit flush() would set for them (one deadline move per write instead of two;
        # should none come, the sender wakes once for nothing). Else (a lone frame, a backlog
        # after a quiet spell) the sender waits for nothing but a wake-up.
        window = self.limits.coalesce
        dense = len(pending) > 1 and now - self._last_write < 2 * window
        limit = now + 2 * window if dense else math.inf
        self._last_write = now
        self.sent += len(pending)
        self.writes += 1
        pending.clear()
        self._pending_bytes = 0
        if self._idle_until != limit:
            idle.deadline = self._idle_until = limit
        if written is not True:  # part of a frame is on the wire: the sender writes the rest
            self._rest = written
            return False
        return True

    def position(self) -> int:
        """The latest seq this consumer can get only by REPLAY (sent in READY): every later one
        comes live. Exact even while frames are already queued for it."""
        if self._first_live is not None:
            return self._first_live - 1
        return self.hub.dispatched_seq(self.developer_id)

    def wants(self, t: str) -> bool:
        """Whether this consumer is sent payloads of type ``t``."""
        return self.extensions or not is_extension_type(t)

    def replay(self, rng: ReplayRange) -> None:
        """Owe the consumer ``rng``. An empty range owes nothing, and one identical to a range
        still waiting adds nothing (its frames all leave after this request anyway); past
        ``max_pending_replays`` distinct ranges waiting, raise TooManyReplays. Overlapping
        requests are each answered in full, as the protocol says."""
        if rng.empty or rng in self._replays:
            return
        if len(self._replays) >= self.limits.max_pending_replays:
            raise TooManyReplays(
                f"more than {self.limits.max_pending_replays} REPLAY requests waiting"
            )
        self._replays.append(rng)
        self._wake.set()

    def heartbeat_ack(self) -> None:
        """Owe a HEARTBEAT_ACK: sent before the next frames, so the reader never waits for a
        busy socket (a consumer that heartbeats is not closed for want of a heartbeat)."""
        self._acks_owed = min(self._acks_owed + 1, MAX_ACKS_OWED)
        self._wake.set()

    async def run(
        self, send: SendFrames, stalled: Stalled | None = None, now: WritesNow | None = None
    ) -> None:
        """Send everything owed, forever. ``send`` writes a list of frames in one go: whatever
        has queued up leaves in one write, so a busy consumer costs one syscall per batch.
        ``stalled(reason)`` is called once if a write waits over ``send_timeout``. ``now``,
        the same socket, lets live frames be written by the delivery that brought them."""
        self._now = now
        self._time = trio.lowlevel.current_clock().current_time
        async with trio.open_nursery() as nursery:
            if stalled is not None:
                nursery.start_soon(self._watch.watch, stalled)
            await self._send_forever(send)

    def _owes(self) -> bool:
        """Whether there is something to write now (live frames within the coalescing window
        wait for its end)."""
        return (
            bool(self._acks_owed or self._replays or self._rest is not None)
            or self._catch_up_after is not None
            or self._live_due() <= trio.current_time()
        )

    def _live_due(self) -> float:
        """When the queued live frames are to be written (the end of the coalescing window
        of the last write; at once when they fill a write); inf when none are queued. While the
        sender is idle they may wait one window more for a delivery to take them along: the
        wait limit, last write + 2 windows, which flush() sets as its deadline."""
        if not self._pending:
            return math.inf
        if len(self._pending) >= MAX_WRITE or self._pending_bytes >= WRITE_BYTES:
            return -math.inf
        if self._catch_up_after is not None:  # they go before the catch-up's first page
            return -math.inf
        return self._last_write + self.limits.coalesce

    async def _send_forever(self, send: SendFrames) -> None:
        while True:
            while self._owes():
                if self._rest is not None:
                    rest, self._rest = self._rest, None
                    assert self._now is not None
                    await self._watch.finish(self._now.finish_send, rest)
                elif self._replays:
                    await self._replay(send, self._replays.pop(0))
                elif self._live_due() <= trio.current_time():
                    self._last_write = trio.current_time()
                    await self._write(send, self._take_pending())
                elif self._catch_up_after is not None:
                    await self._catch_up(send)
                else:
                    await self._write(send, [])
            # Nothing due: wait to be woken, or for the window's end (no await since _owes(),
            # so no frame can slip between). flush() writes live frames meanwhile when it can.
            self._wake = trio.Event()
            try:
                self._idle_until = self._live_due()
                with trio.CancelScope(deadline=self._idle_until) as self._idle:
                    await self._wake.wait()
            finally:
                self._idle = None

    def _take_pending(self) -> list[str]:
        pending, frames, size = self._pending, [], 0
        while pending and len(frames) < MAX_WRITE and size < WRITE_BYTES:
            frame = pending.popleft()
            frames.append(frame)
            size += len(frame)
        self._pending_bytes -= size
        return frames

    async def _write(self, send: SendFrames, frames: list[str]) -> None:
        """One write: the heartbeat acks owed, then ``frames``."""
        if self._acks_owed:
            frames = [HEARTBEAT_ACK] * self._acks_owed + frames
            self._acks_owed = 0
        await self._watch.write(send, frames)
        self.sent += len(frames)
        self.writes += 1

    def _page_size(self, cap: int) -> int:
        """Payloads per read of the log: ``cap``, fewer when frames are big (a page holds about
        ``page_bytes``)."""
        if self._frame_bytes is None:
            return min(cap, FIRST_PAGE)
        return max(1, min(cap, self.limits.page_bytes // self._frame_bytes))

    async def _read_page(self, rng: ReplayRange, cap: int) -> tuple[list[str], int]:
        """The next page of ``rng`` as the frames this consumer wants, and the seq of the page's
        last payload (``rng.after`` when the page is empty: nothing more to read)."""
        page = await self.hub.log.read_range(self.developer_id, rng, self._page_size(cap))
        if not page:
            return [], rng.after
        encoded = [encode_dispatch(payload) for payload in page]
        self._frame_bytes = max(map(len, encoded))
        self.peak_bytes = max(self.peak_bytes, sum(map(len, encoded)))
        frames = [frame for frame, payload in zip(encoded, page) if self.wants(payload.t)]
        return frames, page[-1].seq

    async def _replay(self, send: SendFrames, rng: ReplayRange) -> None:
        rng = rng.clamp(self.hub.dispatched_seq(self.developer_id))
        if rng.empty:
            return
        # Retention may have removed the start of the range: the first frame says so.
        trimmed = await self.hub.log.trimmed_upto(self.developer_id)
        notice = f'{{"trimmed":{trimmed},' if rng.after < trimmed else None
        after = rng.after
        while after + 1 < rng.before:
            frames, last = await self._read_page(ReplayRange(after, rng.before), REPLAY_PAGE)
            if last <= after:
                return
            if notice is not None and frames:
                frames[0], notice = notice + frames[0][1:], None
            if frames:
                await self._write(send, frames)
            after = last

    async def _catch_up(self, send: SendFrames) -> None:
        after = self._catch_up_after
        assert after is not None
        live = self.hub.dispatched_seq(self.developer_id)
        frames, last = await self._read_page(ReplayRange(after, live + 1), CATCH_UP_PAGE)
        if frames:
            await self._write(send, frames)
        after = max(after, last)
        # No await between this check and the switch: nothing dispatched can slip between.
        if after >= self.hub.dispatched_seq(self.developer_id):
            self._catch_up_after = None
        else:
            self._catch_up_after = after
