"""Producer-side device ports: transports that find devices and sessions that read samples.

A transport is found by its spec prefix (``sim``, ``ble``, ``ant``, …) through the
``wearstream.transports`` entry-point group; the built-in ones register the same way.
"""

from __future__ import annotations

from typing import Protocol

from ..domain.devices import Device, DeviceStatus
from ..domain.samples import Sample


class DeviceEvents(Protocol):
    """Where a device session delivers what it reads. Awaiting ``sample`` is the backpressure."""

    async def sample(self, sample: Sample) -> None: ...

    def status(self, status: DeviceStatus) -> None:
        """Connected, disconnected (with a reason), battery level: never blocks."""
        ...


class SampleSource(Protocol):
    """A session with one device.

    ``run`` reads samples until cancelled. A transport that can reconnect (BLE, ANT+) does so
    inside ``run`` and reports each drop through ``events.status``; it raises DeviceUnavailable
    only when it gives up for good, and never lets a library error escape as anything else.
    ``run`` returns only when the device has nothing more to give (a recording played to its
    end): that is a success, not a failure.
    """

    @property
    def device(self) -> Device: ...

    async def run(self, user_id: str, events: DeviceEvents) -> None: ...


class DeviceScanner(Protocol):
    """Finds the devices of one transport."""

    async def scan(self, timeout: float) -> list[Device]:
        """Devices seen within ``timeout`` seconds, with the services/data types they offer."""
        ...


class DeviceTransport(Protocol):
    """One way of reaching devices, named by its spec prefix (``ble`` in ``ble:AA:BB:…``)."""

    name: str

    def scanner(self) -> DeviceScanner: ...

    def open(self, spec: str) -> SampleSource:
        """A session for ``spec`` (the part after ``name:``); raises SpecError when malformed."""
        ...
