"""The device-scanner contract: what ``wearstream scan`` relies on from every ``DeviceScanner``.

Subclass ``DeviceScannerContract`` as ``Test…`` and implement ``open_scanner(path)``, an async
context manager yielding a scanner with ``min_devices`` devices in range (it may start an
emulated peer, as ``wearstream.testing.bluez.emulated_bluez`` does, and stop it on exit)::

    class TestMyScanner(DeviceScannerContract):
        @asynccontextmanager
        async def open_scanner(self, path):
            async with my_emulator(path):
                yield MyTransport().scanner()

A scan returns within its timeout (``slack_s`` allows for start-up), each device described (a
non-empty stable id, a transport name, data types that are labels), each id once.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import AsyncContextManager

import trio

from ...domain.datatypes import is_label
from ...domain.devices import Device
from ...ports.devices import DeviceScanner


class DeviceScannerContract(abc.ABC):
    min_devices: int = 1
    """Devices in range of the scanner ``open_scanner`` gives."""

    timeout: float = 0.5
    """The scan timeout the tests pass."""

    slack_s: float = 5.0
    """How far past ``timeout`` a scan may return (start-up), before the test fails."""

    @abc.abstractmethod
    def open_scanner(self, path: Path) -> AsyncContextManager[DeviceScanner]:
        """A scanner with ``min_devices`` devices in range; ``path`` is an empty directory."""

    async def _scan(self, scanner: DeviceScanner) -> list[Device]:
        with trio.fail_after(self.timeout + self.slack_s):
            return await scanner.scan(self.timeout)

    async def test_devices_are_described_once_each(self, tmp_path: Path) -> None:
        async with self.open_scanner(tmp_path) as scanner:
            devices = await self._scan(scanner)
        assert len(devices) >= self.min_devices, f"found {len(devices)} of {self.min_devices}"
        ids = [d.id for d in devices]
        assert len(ids) == len(set(ids)), f"a device found twice: {ids}"
        for device in devices:
            assert isinstance(device, Device), device
            assert isinstance(device.id, str) and device.id.strip(), "a device needs an id"
            assert isinstance(device.transport, str) and device.transport, device
            assert all(is_label(t) for t in device.data_types), device.data_types

    async def test_ids_are_stable_across_scans(self, tmp_path: Path) -> None:
        async with self.open_scanner(tmp_path) as scanner:
            first = {d.id for d in await self._scan(scanner)}
            second = {d.id for d in await self._scan(scanner)}
        assert first == second, "the same devices in range must keep their ids"

    async def test_a_scan_ends_by_its_timeout(self, tmp_path: Path) -> None:
        async with self.open_scanner(tmp_path) as scanner:
            start = trio.current_time()
            await self._scan(scanner)
        assert trio.current_time() - start <= self.timeout + self.slack_s
