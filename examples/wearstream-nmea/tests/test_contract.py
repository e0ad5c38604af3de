"""The nmea session passes the device-session contract from ``wearstream.testing``, the same
suite the built-in transports pass."""

from __future__ import annotations

from pathlib import Path

import trio

from wearstream.entrypoints.plugins import open_device
from wearstream.ports.devices import SampleSource
from wearstream.testing.contracts.devices import DeviceSessionContract

from .pty_gps import play_gps, recorded_lines


class TestNmeaSession(DeviceSessionContract):
    min_samples = 6

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        link = path / "gps0"
        if not link.exists():
            await nursery.start(play_gps, link, recorded_lines())
        return open_device(f"nmea:{link}")
