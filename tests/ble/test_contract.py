"""The BLE session passes the device-session contract every transport passes, against the
emulated BlueZ (one private dbus-daemon per test, started in the test's nursery)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from wearstream.adapters.ble.transport import BleTransport
from wearstream.ports.devices import SampleSource
from wearstream.testing.bluez import emulated_bluez, heart_rate_strap
from wearstream.testing.contracts.devices import DeviceSessionContract

from .conftest import needs_dbus

pytestmark = [pytest.mark.e2e, needs_dbus]

STRAP = heart_rate_strap()


async def _serve_bluez(path: Path, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    async with emulated_bluez(path, STRAP):
        task_status.started()
        await trio.sleep_forever()


class TestBleSession(DeviceSessionContract):
    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        if not getattr(self, "_bluez_started", False):  # one emulated BlueZ per test
            await nursery.start(_serve_bluez, path)
            self._bluez_started = True
        return BleTransport().open(STRAP.address)
