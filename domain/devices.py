"""Devices: a wearable as the producer sees it."""

from __future__ import annotations

import enum

import attrs


class Transport(enum.Enum):
    BLE = "ble"
    ANT = "ant"
    SIMULATED = "sim"
    REPLAY = "replay"
    OTHER = "other"


@attrs.frozen
class Device:
    """A device found by a scanner or opened from a spec.

    ``id`` is stable across reconnects (a BLE address, an ANT device number, a sim name), so that
    samples from one device keep one ``device_id``.
    """

    id: str
    name: str
    transport: str
    data_types: tuple[str, ...] = ()
    battery: int | None = None
    services: tuple[str, ...] = ()


@attrs.frozen
class DeviceStatus:
    """A change in a device's presence, reported by a session and sent as STATUS (op 8)."""

    device_id: str
    connected: bool
    source: str = ""  # the transport name
    reason: str | None = None
    battery: int | None = None
