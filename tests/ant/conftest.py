from __future__ import annotations

import random
from typing import AsyncIterator

import pytest

from wearstream.adapters.ant.transport import AntSettings
from wearstream.domain.backoff import Backoff
from wearstream.testing.ant_stick import (
    BikeSpeedCadenceSensor,
    EmulatedStick,
    HeartRateStrap,
    PowerMeter,
    StrideSensor,
)
from wearstream.testing.fake_device import EventRecorder


@pytest.fixture
def events() -> EventRecorder:
    return EventRecorder()


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
