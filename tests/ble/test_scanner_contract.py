"""The real BLE scanner (bleak's BlueZ backend) passes the scanner contract against the emulated
BlueZ, as the simulated scanner and the kit's FakeScanner do."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest

from wearstream.adapters.ble.transport import BleTransport
from wearstream.ports.devices import DeviceScanner
from wearstream.testing.bluez import cadence_sensor, emulated_bluez, heart_rate_strap
from wearstream.testing.contracts.scanner import DeviceScannerContract

from .conftest import needs_dbus

pytestmark = [pytest.mark.e2e, needs_dbus]


class TestBleScanner(DeviceScannerContract):
    min_devices = 2

    @asynccontextmanager
    async def open_scanner(self, path: Path) -> AsyncIterator[DeviceScanner]:
        async with emulated_bluez(path, heart_rate_strap(), cadence_sensor()):
            yield BleTransport().scanner()
