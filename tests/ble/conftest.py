"""Fixtures for the emulated-BlueZ tests: a recorder of what a device session delivers."""

from __future__ import annotations

import pytest

from wearstream.testing.bluez import DBUS_DAEMON
from wearstream.testing.fake_device import EventRecorder

needs_dbus = pytest.mark.skipif(
    DBUS_DAEMON is None, reason="dbus-daemon is not installed (CI installs it: apt-get install dbus-daemon)"
)


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()
