"""The ``replay`` transport: a recording made by the ``jsonl`` sink, played back as a device.

``replay:/data/run.jsonl?speed=4`` sends the recorded readings as the producer's user, spaced as
they were recorded (divided by ``speed``), for demos, load tests and reproducing a user's bug
from their recording. Samples keep their recorded timestamps unless ``retime=1`` (always with
``loop=1``). A line that is not a reading is logged with its file and line number, counted in
``skipped`` and passed over: a damaged recording plays everything it still holds.
"""

from __future__ import annotations

import logging
from datetime import datetime

import attrs
import trio

from ...adapters.clock import SystemClock
from ...domain.devices import Device, DeviceStatus, Transport
from ...domain.errors import DeviceUnavailable, SpecError
from ...ports.clock import Clock
from ...ports.devices import DeviceEvents
from .recording import BadLine, parse_line
from .spec import ReplaySpec, parse_spec

log = logging.getLogger("wearstream.replay")

NAME = Transport.REPLAY.value
READ_BYTES = 64 * 1024  # lines read per trip to the worker thread, about
MAX_LAG_S = 1.0  # as the sim transport: a session held back longer carries on from now
LOGGED_BAD_LINES = 20  # per pass; the others are only counted


class ReplaySource:
    """A session playing one recording: ends at its end, or loops until cancelled."""

    def __init__(self, spec: ReplaySpec, clock: Clock | None = None) -> None:
        self._spec = spec
        self._clock = clock or SystemClock()
        self._device = Device(id=spec.device_id, name=f"recording {spec.path.name}", transport=NAME)
        self.played = 0  # samples sent, over every pass
        self.skipped = 0  # bad lines passed over, over every pass
        self._pass = _Pass()

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        events.status(DeviceStatus(self._device.id, connected=True, source=NAME))
        while True:
            played = await self._play(user_id, events)
            if played == 0 and self.played == 0:  # an empty or wholly damaged recording
                raise DeviceUnavailable(f"{self._spec.path} holds no reading to play")
            if not self._spec.loop:
                return  # the end of the recording: the session is finished, successfully

    async def _play(self, user_id: str, events: DeviceEvents) -> int:
        """One pass over the recording; returns how many samples it sent."""
        path = self._spec.path
        self._pass = _Pass()
        try:
            file = await trio.open_file(path, "rb")
        except OSError as error:
            raise DeviceUnavailable(f"cannot read the recording {path}: {error.strerror}") from None
        async with file:
            while lines := await file.readlines(READ_BYTES):
                for line in lines:
                    await self._line(line, user_id, events)
        if self._pass.bad:
            log.warning("%s: %d bad line(s) skipped in this pass", path, self._pass.bad)
        return self._pass.played

    async def _line(self, line: bytes, user_id: str, events: DeviceEvents) -> None:
        """Play one line of the recording at its time, or report why it cannot be played."""
        current = self._pass
        current.number += 1
        if not line.strip():
            return
        try:
            record = parse_line(line, self._spec.path, current.number)
        except BadLine as bad:
            self._report(bad)
            return
        if self._spec.user is not None and record.uid != self._spec.user:
            return
        await trio.sleep_until(current.due(record.ts, self._spec.speed))
        ts = self._clock.now() if self._spec.retime else None
        await events.sample(record.sample(user_id, self._device.id, ts))
        current.played += 1
        self.played += 1

    def _report(self, bad_line: BadLine) -> None:
        self.skipped += 1
        self._pass.bad += 1
        if self._pass.bad <= LOGGED_BAD_LINES:
            log.warning("%s", bad_line)
        if self._pass.bad == LOGGED_BAD_LINES:
            log.warning("%s: further bad lines are counted, not shown", self._spec.path)


@attrs.define
class _Pass:
    """Where one pass over the recording is: line number, counts, and its time base."""

    number: int = 0
    played: int = 0
    bad: int = 0
    first: datetime | None = None
    start: float = 0.0

    def due(self, ts: datetime, speed: float) -> float:
        """The trio time at which a reading recorded at ``ts`` is sent: the first at once, the
        others spaced as recorded (divided by ``speed``). A pass held back (backpressure) or a
        recording that goes back in time carries on from now rather than bursting."""
        now = trio.current_time()
        if self.first is None:
            self.first, self.start = ts, now
        due = self.start + (ts - self.first).total_seconds() / speed
        if now - due > MAX_LAG_S:
            self.start, due = self.start + now - due, now
        return due


class ReplayScanner:
    async def scan(self, timeout: float) -> list[Device]:
        """Recordings are named, not found: there is nothing to scan for."""
        await trio.lowlevel.checkpoint()
        return []


class ReplayTransport:
    """What the ``replay`` entry point of ``wearstream.transports`` names. It produces whatever
    data types the recording holds, so it declares none."""

    name = NAME

    def scanner(self) -> ReplayScanner:
        return ReplayScanner()

    def open(self, spec: str) -> ReplaySource:
        parsed = parse_spec(spec)
        if not parsed.path.is_file():
            raise SpecError(f"replay: no recording at {parsed.path}")
        return ReplaySource(parsed)
