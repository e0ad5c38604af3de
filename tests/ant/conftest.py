from __future__ import annotations

import random
from typing import AsyncIterator, Callable

import pytest
import trio

from wearstream.adapters.ant.transport import AntSettings
from wearstream.domain.backoff import Backoff
from wearstream.domain.devices import DeviceStatus
from wearstream.domain.samples import Sample
from wearstream.testing.ant_stick import (
    BikeSpeedCadenceSensor,
    EmulatedStick,
    HeartRateStrap,
    PowerMeter,
    StrideSensor,
)

DEADLINE_S = 30  # only so that a broken test fails instead of hanging


class RecordingEvents:
    """DeviceEvents that keep everything, and let a test wait until something has arrived."""

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

    def values(self, label: str) -> list[float]:
        return [s.value for s in self.samples if s.t == label]

    async def until(self, condition: Callable[[], bool]) -> None:
        with trio.fail_after(DEADLINE_S):
            while not condition():
                await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = trio.Event()


@pytest.fixture
def events() -> RecordingEvents:
    return RecordingEvents()


@pytest.fixture
def settings() -> AntSettings:
    return AntSettings(
        open_attempts=2,
        silence_s=0.3,
        backoff=lambda: Backoff(initial=0.01, maximum=0.05, rng=random.Random(7)),
    )


@pytest.fixture
def sensors() -> list:
    return [
        HeartRateStrap(number=4242, bpm=150, battery=87),
        StrideSensor(number=77, speed=3.25, strides_per_min=84),
        BikeSpeedCadenceSensor(number=5, speed=8.0, rpm=90, wheel_m=2.105),
        PowerMeter(number=9, watts=240, rpm=88),
    ]


@pytest.fixture
async def stick(sensors) -> AsyncIterator[EmulatedStick]:
    async with EmulatedStick(sensors).running() as running:
        yield running
