"""The ``sim`` transport: realistic synthetic devices, the default when there is no hardware.

``sim:hr-strap?rate=50&seed=3`` opens a heart-rate strap whose values follow the pure timeline of
``models``; the session only paces that timeline against trio's clock and stamps each sample with
the wall clock, so what a device says is reproducible and only when it says it depends on time.
"""

from __future__ import annotations

import trio

from ...adapters.clock import SystemClock
from ...domain.datatypes import DataType
from ...domain.devices import Device, DeviceStatus, Transport
from ...domain.samples import Sample
from ...ports.clock import Clock
from ...ports.devices import DeviceEvents
from .models import KINDS, battery_start
from .spec import SimSpec, parse_spec

NAME = Transport.SIMULATED.value

# A session that falls further behind its timeline than this (a slow consumer applying
# backpressure) carries on from now instead of bursting the backlog with crowded timestamps.
MAX_LAG_S = 1.0


def describe(spec: SimSpec) -> Device:
    """The Device a spec stands for; battery only for kinds that report one."""
    kind = KINDS[spec.kind]
    has_battery = DataType.BATTERY in kind.data_types
    return Device(
        id=spec.device_id,
        name=kind.label,
        transport=NAME,
        data_types=tuple(dt.value for dt in kind.data_types),
        battery=battery_start(spec.seed) if has_battery else None,
    )


class SimulatedSource:
    """A session with one simulated device: runs until cancelled."""

    def __init__(self, spec: SimSpec, clock: Clock | None = None) -> None:
        self._spec = spec
        self._device = describe(spec)
        self._clock = clock or SystemClock()

    @property
    def device(self) -> Device:
        return self._device

    async def run(self, user_id: str, events: DeviceEvents) -> None:
        device = self._device
        events.status(DeviceStatus(device.id, connected=True, source=NAME, battery=device.battery))
        timeline = KINDS[self._spec.kind].timeline(self._spec.seed, self._spec.rate)
        start = trio.current_time()
        for reading in timeline:
            lag = trio.current_time() - (start + reading.at)
            if lag > MAX_LAG_S:
                start += lag
            await trio.sleep_until(start + reading.at)
            label, now = reading.data_type.value, self._clock.now()
            await events.sample(Sample(label, now, reading.value, user_id, device.id))


class SimulatedScanner:
    async def scan(self, timeout: float) -> list[Device]:
        """Every kind, at once: simulated devices are always in range."""
        await trio.lowlevel.checkpoint()
        return [describe(SimSpec(kind)) for kind in KINDS]


class SimulatedTransport:
    """What the ``sim`` entry point of ``wearstream.transports`` names."""

    name = NAME
    data_types = tuple(dict.fromkeys(dt.value for kind in KINDS.values() for dt in kind.data_types))

    def scanner(self) -> SimulatedScanner:
        return SimulatedScanner()

    def open(self, spec: str) -> SimulatedSource:
        return SimulatedSource(parse_spec(spec))
