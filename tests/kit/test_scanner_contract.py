"""The scanner contract, run on the simulated scanner and the kit's FakeScanner (the BLE scanner
runs it in tests/ble/test_scanner_contract.py); and on broken scanners, which it must fail."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest
import trio

from wearstream.adapters.simulated.transport import SimulatedTransport
from wearstream.domain.devices import Device
from wearstream.ports.devices import DeviceScanner
from wearstream.testing.contracts.scanner import DeviceScannerContract
from wearstream.testing.fake_scanner import FakeScanner

STRAP = Device("strap-1", "Fake strap", "fake", ("HEART_RATE",))


class TestSimulatedScanner(DeviceScannerContract):
    @asynccontextmanager
    async def open_scanner(self, path: Path) -> AsyncIterator[DeviceScanner]:
        yield SimulatedTransport().scanner()


class TestFakeScanner(DeviceScannerContract):
    @asynccontextmanager
    async def open_scanner(self, path: Path) -> AsyncIterator[DeviceScanner]:
        yield FakeScanner([STRAP], delay=0.1)


class Broken(DeviceScannerContract):
    slack_s = 0.3

    def __init__(self, scanner: DeviceScanner) -> None:
        self.scanner = scanner

    @asynccontextmanager
    async def open_scanner(self, path: Path) -> AsyncIterator[DeviceScanner]:
        yield self.scanner


class Forever(FakeScanner):
    async def scan(self, timeout: float) -> list[Device]:
        await trio.sleep_forever()
        raise AssertionError("unreachable")


class NewIds(FakeScanner):
    async def scan(self, timeout: float) -> list[Device]:
        self.scans += 1
        return [Device(f"strap-{self.scans}", "strap", "fake")]


async def test_a_scanner_finding_a_device_twice_fails(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="found twice"):
        await Broken(FakeScanner([STRAP, STRAP])).test_devices_are_described_once_each(tmp_path)


async def test_a_device_without_an_id_fails(tmp_path: Path) -> None:
    nameless = Device("", "strap", "fake")
    with pytest.raises(AssertionError, match="needs an id"):
        await Broken(FakeScanner([nameless])).test_devices_are_described_once_each(tmp_path)


async def test_a_scanner_ignoring_its_timeout_fails(tmp_path: Path) -> None:
    with pytest.raises(trio.TooSlowError):
        await Broken(Forever()).test_a_scan_ends_by_its_timeout(tmp_path)


async def test_ids_that_change_between_scans_fail(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="keep their ids"):
        await Broken(NewIds()).test_ids_are_stable_across_scans(tmp_path)
