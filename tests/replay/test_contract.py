"""The replay transport passes the device-session contract every transport passes."""

from __future__ import annotations

from pathlib import Path

import trio

from wearstream.entrypoints.plugins import open_device
from wearstream.ports.devices import SampleSource
from wearstream.testing.contracts.devices import DeviceSessionContract

from .conftest import READINGS, record


class TestReplaySession(DeviceSessionContract):
    min_samples = len(READINGS)
    ends = True

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        recording = path / "run.jsonl"
        if not recording.exists():
            await record(recording)
        return open_device(f"replay:{recording}?speed=1000")


class TestLoopedReplaySession(DeviceSessionContract):
    min_samples = 2 * len(READINGS)

    async def make_source(self, path: Path, nursery: trio.Nursery) -> SampleSource:
        recording = path / "run.jsonl"
        if not recording.exists():
            await record(recording)
        return open_device(f"replay:{recording}?speed=1000&loop=1")
