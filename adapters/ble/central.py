"""The asyncio side of the BLE transport: bleak scans, connects and subscribes here.

Everything in this module runs on the bridge's asyncio loop (``asyncio_bridge``) and talks to
trio only through the ``push`` function it is given, with plain event records. It decides
nothing about retries: one call of ``stream`` is one connection, from finding the device to
its drop, and the trio side (``transport``) owns the reconnect policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any, Awaitable, Callable

import attrs
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from ...ports.clock import Clock
from .gatt import BATTERY_LEVEL, CHARACTERISTICS, SENSOR_SERVICE_UUIDS
from .spec import Target

logger = logging.getLogger(__name__)

DISCONNECT_TIMEOUT_S = 5.0


@attrs.frozen
class Advertised:
    """A device seen by a scan."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    rssi: int | None


@attrs.frozen
class Connected:
    """The connection is up and services are resolved; ``subscribed`` are characteristic UUIDs."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    subscribed: tuple[str, ...]


@attrs.frozen
class Value:
    """A characteristic value (a notification, or the answer to a read) and when it came."""

    uuid: str
    data: bytes
    ts: datetime


class NotFound(Exception):
    """The target did not advertise within the scan window (not fatal: the caller scans again)."""


Push = Callable[[Any], None]  # Connected | Value, or an extension's own events
# Runs once the standard characteristics are subscribed (Polar PMD starts its streams there).
Extension = Callable[[BleakClient, Push, Clock], Awaitable[None]]


async def scan(timeout: float) -> list[Advertised]:
    """Devices advertising one of the sensor services during ``timeout`` seconds."""
    found = await BleakScanner.discover(
        timeout=timeout, return_adv=True, service_uuids=list(SENSOR_SERVICE_UUIDS)
    )
    return [
        Advertised(d.address, adv.local_name or d.name, tuple(adv.service_uuids), adv.rssi)
        for d, adv in found.values()
    ]


async def _find(target: Target, timeout: float) -> BLEDevice:
    if target.address is not None:
        device = await BleakScanner.find_device_by_address(target.address, timeout=timeout)
    else:
        device = await BleakScanner.find_device_by_filter(
            lambda d, adv: target.matches_name(adv.local_name or d.name), timeout=timeout
        )
    if device is None:
        raise NotFound(f"{target} not found within {timeout:g} s; still scanning")
    return device


async def stream(
    target: Target,
    push: Push,
    clock: Clock,
    find_timeout: float,
    connect_timeout: float,
    extension: Extension | None = None,
) -> str:
    """Find, connect, subscribe to every known characteristic, and wait for the drop.

    Returns the reason the connection ended; bleak and D-Bus errors propagate as they are.
    """
    device = await _find(target, find_timeout)
    dropped = asyncio.Event()
    client = BleakClient(
        device, disconnected_callback=lambda _: dropped.set(), timeout=connect_timeout
    )
    await client.connect()
    try:
        known = [c for c in client.services.characteristics.values() if c.uuid in CHARACTERISTICS]
        subscribed = [c for c in known if {"notify", "indicate"} & set(c.properties)]
        push(
            Connected(
                client.address,
                device.name,
                tuple(s.uuid for s in client.services),
                tuple(c.uuid for c in subscribed),
            )
        )
        for char in subscribed:
            await client.start_notify(char, _on_value(char.uuid, push, clock))
        for char in known:
            # Battery Level notifies only on change: read it once for a first value.
            once = char not in subscribed or char.uuid == BATTERY_LEVEL.uuid
            if "read" in char.properties and once:
                data = await client.read_gatt_char(char)
                push(Value(char.uuid, bytes(data), clock.now()))
        if extension is not None:
            await extension(client, push, clock)
        await dropped.wait()
        return "device disconnected"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), DISCONNECT_TIMEOUT_S)


def _on_value(
    uuid: str, push: Push, clock: Clock
) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
    def on_value(_: BleakGATTCharacteristic, data: bytearray) -> None:
        push(Value(uuid, bytes(data), clock.now()))

    return on_value
