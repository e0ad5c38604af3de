"""The device-session contract against the sim transport and the kit's FakeDevice."""

from __future__ import annotations

from pathlib import Path

import trio

from wearstream.entrypoints.plugins import open_device
from wearstream.ports.devices import SampleSource
from wearstream.testing.contracts.devices import DeviceSessionContract
from wearstream.testing.fake_device import FakeDevice, Reading


class TestSimulatedStrap(DeviceSessionContract):
    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        return open_device("sim:hr-strap?rate=50&seed=4")


class TestSimulatedWatch(DeviceSessionContract):
    min_samples = 10

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        return open_device("sim:watch?rate=50")


class TestFakeDeviceScript(DeviceSessionContract):
    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        script = [Reading("HEART_RATE", 60 + n) for n in range(self.min_samples)]
        return FakeDevice("fake-7", script=script)


class TestFakeDeviceDriven(DeviceSessionContract):
    """Readings sent by the test while the session runs, and a drop between them."""

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        device = FakeDevice("fake-8", ("HEART_RATE", "RR_INTERVAL"))
        device.send("HEART_RATE", 70)
        device.drop("out of range")
        device.reconnect()
        for n in range(self.min_samples):
            device.send("RR_INTERVAL", 850.0 + n)
        return device
