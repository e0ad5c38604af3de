"""Bluetooth LE tests without hardware: a private D-Bus daemon serving an emulated BlueZ.

bleak's BlueZ backend talks to ``org.bluez`` on the system bus; ``emulated_bluez`` starts a
private ``dbus-daemon``, points ``DBUS_SYSTEM_BUS_ADDRESS`` at it for the duration, and serves
the ``org.bluez`` tree of ``bluez_objects`` from an asyncio bridge thread (dbus-fast runs on
asyncio). The real bleak, the real D-Bus wire protocol and the real transport code all run; only
the radio is played: the peripherals send generated values (``heart_rate_strap`` …) whose
n-th notification is known, so a test can check every decoded sample.

Misbehaviour is asked for through ``BlueZControl``: ``drop`` (link lost), ``remove`` (device
gone from BlueZ for a while), ``fail_connects`` (Connect answers an ``org.bluez.Error``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import trio

from ..adapters.ble.asyncio_bridge import AsyncioLoop, open_asyncio_loop
from ..adapters.ble.gatt import uuid16
from .bluez_objects import CharacteristicPlan, EmulatedBlueZ, PeripheralPlan
from .bluez_payloads import encode_battery_level, encode_csc, encode_heart_rate, encode_rsc

DBUS_DAEMON = shutil.which("dbus-daemon")
SYSTEM_BUS_VARIABLE = "DBUS_SYSTEM_BUS_ADDRESS"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


@asynccontextmanager
async def dbus_daemon(directory: Path) -> AsyncIterator[str]:
    """A private dbus-daemon listening in ``directory``; yields its address."""
    if DBUS_DAEMON is None:
        raise RuntimeError("dbus-daemon is not installed (apt-get install dbus-daemon)")
    config = directory / "bus.conf"
    config.write_text(_CONFIG.format(socket=directory / "bus.sock"))
    command = [DBUS_DAEMON, f"--config-file={config}", "--nofork", "--print-address=1"]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(10):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError("dbus-daemon exited before printing its address")
                line += chunk
        yield line.decode().strip()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()


# --- generated sensors: the n-th value of each characteristic is a pure function of n --------

HEART_RATE_SERVICE = uuid16(0x180D)
BATTERY_SERVICE = uuid16(0x180F)
CSC_SERVICE = uuid16(0x1816)
RSC_SERVICE = uuid16(0x1814)
BATTERY_PERCENT = 87


def strap_bpm(n: int) -> int:
    return 60 + n % 100


def strap_rr_1024(n: int) -> int:
    """The RR interval that goes with ``strap_bpm(n)``, in 1/1024 s."""
    return round(60 / strap_bpm(n) * 1024)


def strap_value(n: int) -> bytes:
    return encode_heart_rate(strap_bpm(n), contact=True, rr_1024=[strap_rr_1024(n)])


def cadence_value(n: int) -> bytes:
    """4 wheel rev/s and 90 crank rpm; the crank counter starts near its uint16 rollover."""
    wheel = (4 * n, (1024 * n) % 65536)
    crank = ((65530 + 3 * n) % 65536, (2048 * n) % 65536)
    return encode_csc(wheel, crank)


def footpod_value(n: int) -> bytes:
    """3 m/s at 180 steps/min, 100 m + 0.3 m per notification."""
    return encode_rsc(768, 180, distance_dm=1000 + 3 * n)


def _battery() -> CharacteristicPlan:
    return CharacteristicPlan(
        uuid16(0x2A19), lambda n: encode_battery_level(BATTERY_PERCENT), ("read", "notify"), on_change=True
    )


def heart_rate_strap(address: str = "C0:FF:EE:00:00:01", name: str = "Polar H10 0001") -> PeripheralPlan:
    return PeripheralPlan(
        address,
        name,
        {
            HEART_RATE_SERVICE: [CharacteristicPlan(uuid16(0x2A37), strap_value)],
            BATTERY_SERVICE: [_battery()],
        },
    )


def cadence_sensor(address: str = "C0:FF:EE:00:00:02", name: str = "Wahoo CADENCE 02") -> PeripheralPlan:
    return PeripheralPlan(
        address, name, {CSC_SERVICE: [CharacteristicPlan(uuid16(0x2A5B), cadence_value)]}
    )


def footpod(address: str = "C0:FF:EE:00:00:03", name: str = "Stryd 03") -> PeripheralPlan:
    return PeripheralPlan(
        address,
        name,
        {RSC_SERVICE: [CharacteristicPlan(uuid16(0x2A53), footpod_value)], BATTERY_SERVICE: [_battery()]},
    )


def not_a_sensor(address: str = "C0:FF:EE:00:00:09", name: str = "Headphones") -> PeripheralPlan:
    """Advertises only a service wearstream does not stream (Battery alone)."""
    return PeripheralPlan(address, name, {BATTERY_SERVICE: [_battery()]})


# --- the trio side -------------------------------------------------------------------------


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class BlueZControl:
    """What a test can ask of the emulated BlueZ (each call runs on its asyncio thread)."""

    def __init__(self, loop: AsyncioLoop, bluez: EmulatedBlueZ, address: str) -> None:
        self._loop = loop
        self._bluez = bluez
        self.bus_address = address

    def _peripheral(self, address: str) -> Any:
        return self._bluez.peripherals[address.upper()]

    async def drop(self, address: str) -> None:
        """The link is lost: Connected becomes False, the GATT objects go away."""
        await self._loop.run(_call, self._peripheral(address).drop)

    async def remove(self, address: str, absent_s: float = 0.3) -> None:
        """The device disappears from BlueZ (InterfacesRemoved) and comes back after a while."""
        await self._loop.run(_call, self._peripheral(address).remove, absent_s)

    async def fail_connects(
        self, address: str, count: int, error: str = "org.bluez.Error.Failed",
        text: str = "Software caused connection abort",
    ) -> None:
        """The next ``count`` Connect calls answer the D-Bus error ``error``."""
        failures = self._peripheral(address).failures
        await self._loop.run(_call, failures.extend, [(error, text)] * count)

    async def connect_calls(self, address: str) -> int:
        return await self._loop.run(_call, lambda: self._peripheral(address).connect_calls)


@asynccontextmanager
async def emulated_bluez(directory: Path, *plans: PeripheralPlan) -> AsyncIterator[BlueZControl]:
    """A private bus with the emulated BlueZ serving ``plans``, as bleak's system bus."""
    async with dbus_daemon(directory) as address, open_asyncio_loop() as loop:
        bluez = EmulatedBlueZ(list(plans))
        await loop.run(bluez.start, address)
        previous = os.environ.get(SYSTEM_BUS_VARIABLE)
        os.environ[SYSTEM_BUS_VARIABLE] = address
        try:
            yield BlueZControl(loop, bluez, address)
        finally:
            if previous is None:
                del os.environ[SYSTEM_BUS_VARIABLE]
            else:
                os.environ[SYSTEM_BUS_VARIABLE] = previous
            with trio.CancelScope(shield=True):
                await loop.run(bluez.stop)
