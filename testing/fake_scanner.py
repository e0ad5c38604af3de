"""A ``DeviceScanner`` for tests: finds the devices it was given, after ``delay`` seconds (never
later than the scan's timeout). Passes ``testing/contracts/scanner.py`` as the real scanners do.

    scanner = FakeScanner([Device("strap-1", "Fake strap", "fake", ("HEART_RATE",))])
"""

from __future__ import annotations

from typing import Iterable

import trio

from ..domain.devices import Device


class FakeScanner:
    def __init__(self, devices: Iterable[Device] = (), *, delay: float = 0.0) -> None:
        self.devices = list(devices)
        self.delay = delay
        self.scans = 0

    async def scan(self, timeout: float) -> list[Device]:
        self.scans += 1
        await trio.sleep(min(self.delay, timeout))
        return list(self.devices)
