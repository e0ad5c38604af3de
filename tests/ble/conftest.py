"""Fixtures for the emulated-BlueZ tests: a recorder of what a device session delivers."""

from __future__ import annotations

from typing import Callable

import pytest
import trio

from wearstream.domain.devices import DeviceStatus
from wearstream.domain.samples import Sample
from wearstream.testing.bluez import DBUS_DAEMON

# A guard against hangs, not a speed assertion: each wait normally ends within a second.
WAIT_LIMIT_S = 15

needs_dbus = pytest.mark.skipif(
    DBUS_DAEMON is None, reason="dbus-daemon is not installed (CI installs it: apt-get install dbus-daemon)"
)


class Recorder:
    """A DeviceEvents that keeps everything, and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.statuses: list[DeviceStatus] = []
        self._changed = trio.Event()

    async def sample(self, sample: Sample) -> None:
        self.samples.append(sample)
        self._wake()

    def status(self, status: DeviceStatus) -> None:
        self.statuses.append(status)
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        with trio.fail_after(WAIT_LIMIT_S):
            while not condition():
                await self._changed.wait()

    def values(self, label: str) -> list[float]:
        return [s.value for s in self.samples if s.t == label]

    def count(self, label: str) -> int:
        return len(self.values(label))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
