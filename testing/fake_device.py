"""A fake device at the SampleSource port, and a DeviceEvents that records what a session says.

``FakeDevice`` plays a script of readings, then does what the test tells it (more readings, a
drop, a failure, the end), so a test of code that runs devices (a producer, a transport's
plumbing) needs no radio and no sleeps. It passes the device-session contract suite
(``wearstream.testing.contracts.devices``), like the real transports.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Callable, Iterable, Union

import attrs
import trio

from ..adapters.clock import SystemClock
from ..domain.devices import Device, DeviceStatus
from ..domain.errors import DeviceUnavailable
from ..domain.samples import Sample, Value
from ..ports.clock import Clock
from ..ports.devices import DeviceEvents

TRANSPORT = "fake"
WAIT_LIMIT_S = 30.0  # only so that a broken test fails instead of hanging


@attrs.frozen
class Reading:
    """What a FakeDevice says next: a data type label, a value, and optionally its timestamp
    (else the device's clock stamps it when it is delivered)."""

    t: str
    value: Value
    ts: datetime | None = None


@attrs.frozen
class _Presence:
    connected: bool
    reason: str | None = None


@attrs.frozen
class _Stop:
    failure: str | None  # None: the session ends normally


_Action = Union[Reading, _Presence, _Stop]


class FakeDevice:
    """A SampleSource driven by the test. ``script`` plays first, as fast as it is taken; then
    the session waits for ``send``/``drop``/``fail``/``end``, or ends at once with ``ends=True``.
    One FakeDevice runs one session at a time."""

    def __init__(
        self,
        device_id: str = "fake-1",
        data_types: Iterable[str] = ("HEART_RATE",),
        *,
        script: Iterable[Reading] = (),
        ends: bool = False,
        battery: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._device = Device(device_id, f"fake {device_id}", TRANSPORT, tuple(data_types), battery)
        self._script = list(script)
        self._ends = ends
        self._clock = clock or SystemClock()
        self._send, self._receive = trio.open_memory_channel[_Action](math.inf)

    @property
    def device(self) -> Device:
        return self._device

    def send(self, t: str, value: Value, ts: datetime | None = None) -> None:
        """Have the running (or next) session deliver this reading, after those before it."""
        self._send.send_nowait(Reading(t, value, ts))

    def drop(self, reason: str = "out of range") -> None:
        """Report a disconnection, as a transport that reconnects by itself would."""
        self._send.send_nowait(_Presence(False, reason))

    def reconnect(self) -> None:
        self._send.send_nowait(_Presence(True))

    def fail(self, reason: str = "gone") -> None:
        """Make the session give up for good: ``run`` raises DeviceUnavailable(reason)."""
        self._send.send_nowait(_Stop(reason))

    def end(self) -> None:
        """Make the session end normally once what was sent before is delivered."""
        self._send.send_nowait(_Stop(None))

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        device = self._device
        events.status(DeviceStatus(device.id, True, TRANSPORT, battery=device.battery))
        for reading in self._script:
            await self._deliver(reading, user_id, events)
        if self._ends:
            return
        while True:
            action = await self._receive.receive()
            if isinstance(action, Reading):
                await self._deliver(action, user_id, events)
            elif isinstance(action, _Presence):
                events.status(DeviceStatus(device.id, action.connected, TRANSPORT, action.reason))
            elif action.failure is not None:
                raise DeviceUnavailable(action.failure)
            else:
                return

    async def _deliver(self, reading: Reading, user_id: str, events: DeviceEvents) -> None:
        ts = reading.ts or self._clock.now()
        await events.sample(Sample(reading.t, ts, reading.value, user_id, self._device.id))


class EventRecorder:
    """A DeviceEvents that keeps every sample and status, for assertions; ``wait_for`` and
    ``until`` let a test wait for what it expects instead of sleeping. While ``hold`` is set,
    ``sample`` waits for ``release()``, so a test can apply backpressure."""

    def __init__(self, *, hold: bool = False) -> None:
        self.samples: list[Sample] = []
        self.statuses: list[DeviceStatus] = []
        self.in_sample = 0  # calls of ``sample`` under way right now
        self.most_in_sample = 0
        self._released = trio.Event()
        if not hold:
            self._released.set()
        self._changed = trio.Event()

    async def sample(self, sample: Sample) -> None:
        self.in_sample += 1
        self.most_in_sample = max(self.most_in_sample, self.in_sample)
        try:
            await self._released.wait()
            self.samples.append(sample)
            self._wake()
        finally:
            self.in_sample -= 1

    def status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)
        self._wake()

    def release(self) -> None:
        self._released.set()

    def values(self, label: str) -> list[Value]:
        """The values of the samples of type ``label``, in arrival order."""
        return [s.value for s in self.samples if s.t == label]

    def count(self, label: str) -> int:
        return len(self.values(label))

    async def wait_for(self, samples: int = 0, statuses: int = 0) -> None:
        """Wait until at least ``samples`` samples and ``statuses`` statuses have arrived."""
        await self.until(
            lambda: len(self.samples) >= samples and len(self.statuses) >= statuses, timeout=math.inf
        )

    async def until(self, condition: Callable[[], bool], *, timeout: float = WAIT_LIMIT_S) -> None:
        """Wait until ``condition()`` holds; fail after ``timeout`` seconds (a hang guard for a
        broken test, not a speed assertion)."""
        with trio.fail_after(timeout):
            while not condition():
                await self._changed.wait()

    def _wake(self) -> None:
        """Wake every waiter, and give the next ones a fresh event to wait on."""
        self._changed.set()
        self._changed = trio.Event()

