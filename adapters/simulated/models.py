"""Pure models of simulated wearables: timelines of readings as a function of a seed.

A timeline is an endless iterator of ``Reading``s in order of their offset (seconds since the
device started). It is plain Python, deterministic for a (seed, rate) pair and free of I/O and
time, so properties (ranges, monotonic totals, valid shapes) are tested without waiting; the
trio session in ``transport`` only paces it against the clock.

Every kind shares one ``Body``: a seeded athlete whose effort (0..1) drifts smoothly through a
workout, from which heart rate, speed, power and cadence follow.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from typing import Callable, Iterator

import attrs

from ...domain.datatypes import DataType

IMU_RATE_HZ = 50.0
GRAVITY = 9.81
METRES_PER_DEGREE = 111_320.0
BATTERY_EVERY_S = 60.0

Value = float | tuple[float, ...]


@attrs.frozen
class Reading:
    """One value of one data type, ``at`` seconds after the device started."""

    at: float
    data_type: DataType
    value: Value


@attrs.frozen
class Body:
    """A seeded athlete. ``effort`` is a pure function of time, so everything derived is too."""

    rest_hr: float
    max_hr: float
    breath_s: float  # breathing period: the rhythm of respiratory sinus arrhythmia
    weight_kg: float
    waves: tuple[tuple[float, float, float], ...]  # (amplitude, period s, phase)

    @classmethod
    def from_seed(cls, rng: random.Random) -> Body:
        waves = tuple(
            (amplitude, rng.uniform(low, high), rng.uniform(0, 2 * math.pi))
            for amplitude, low, high in ((0.22, 300, 900), (0.1, 60, 180), (0.04, 15, 40))
        )
        return cls(
            rest_hr=rng.uniform(50, 70),
            max_hr=rng.uniform(170, 195),
            breath_s=rng.uniform(3.5, 5.5),
            weight_kg=rng.uniform(55, 90),
            waves=waves,
        )

    def effort(self, t: float) -> float:
        """Between 0 and 1: a warm-up over the first minute, then slow intervals."""
        base = 0.2 + 0.35 * min(1.0, t / 60.0)
        swing = sum(a * math.sin(2 * math.pi * t / p + phase) for a, p, phase in self.waves)
        return min(1.0, max(0.0, base + swing))

    def heart_rate(self, t: float) -> float:
        return self.rest_hr + (self.max_hr - self.rest_hr) * self.effort(t)

    def running_speed(self, t: float) -> float:
        """m/s, from a brisk walk (1.5) to a fast run (4.5)."""
        return 1.5 + 3.0 * self.effort(t)

    def step_cadence(self, speed: float) -> float:
        """steps/s: faster runners take quicker steps."""
        return 1.6 + 0.3 * speed


def _rng(seed: int, stream: str) -> random.Random:
    """An independent generator per stream, so adding a stream never shifts another's values."""
    return random.Random(f"wearstream-sim:{seed}:{stream}")


def _ticks(rate: float) -> Iterator[tuple[float, float]]:
    """(offset, step) pairs at ``rate`` Hz, starting at 0."""
    step = 1.0 / rate
    return ((n * step, step) for n in itertools.count())


def _merge(*timelines: Iterator[Reading]) -> Iterator[Reading]:
    return heapq.merge(*timelines, key=lambda r: r.at)


# hr-strap ---------------------------------------------------------------------------------------


def _heart_rate(body: Body, rate: float) -> Iterator[Reading]:
    for at, _ in _ticks(rate):
        yield Reading(at, DataType.HEART_RATE, round(body.heart_rate(at)))


def _beats(body: Body, rng: random.Random) -> Iterator[Reading]:
    """One RR interval per beat: 60000/HR, plus sinus arrhythmia (damped by effort) and noise."""
    at = rng.uniform(0.0, 0.5)  # the first beat, which ends no interval
    while True:
        rsa_ms = 45.0 * (1.0 - body.effort(at))
        rr = 60_000.0 / body.heart_rate(at)
        rr += rsa_ms * math.sin(2 * math.pi * at / body.breath_s) + rng.gauss(0.0, 12.0)
        rr = round(min(2000.0, max(300.0, rr)), 1)
        at += rr / 1000.0
        yield Reading(at, DataType.RR_INTERVAL, rr)  # known when the beat that ends it comes


def battery_start(seed: int) -> int:
    """The charge (%) a battery-powered simulated device starts with."""
    return _rng(seed, "battery").randint(60, 100)


def _battery(start: int) -> Iterator[Reading]:
    """A slowly draining battery (1 % per quarter hour), reported once a minute."""
    for n in itertools.count():
        at = n * BATTERY_EVERY_S
        yield Reading(at, DataType.BATTERY, max(1, start - int(at // 900)))


def hr_strap(seed: int, rate: float) -> Iterator[Reading]:
    body = Body.from_seed(_rng(seed, "body"))
    beats = _beats(body, _rng(seed, "rr"))
    return _merge(_heart_rate(body, rate), beats, _battery(battery_start(seed)))


# footpod ----------------------------------------------------------------------------------------


def footpod(seed: int, rate: float) -> Iterator[Reading]:
    body = Body.from_seed(_rng(seed, "body"))
    rng = _rng(seed, "footpod")
    distance = steps = 0.0
    for at, step in _ticks(rate):
        speed = max(0.0, body.running_speed(at) + rng.gauss(0.0, 0.05))
        cadence = body.step_cadence(speed)
        yield Reading(at, DataType.SPEED, round(speed, 2))
        yield Reading(at, DataType.STEPS_CADENCE, round(cadence, 2))
        yield Reading(at, DataType.DISTANCE, round(distance, 2))
        yield Reading(at, DataType.STEPS, int(steps))
        distance += speed * step
        steps += cadence * step


# bike -------------------------------------------------------------------------------------------


def bike_speed(power: float) -> float:
    """m/s on the flat: air drag dominates, so speed grows with the cube root of power."""
    return (power / 0.32) ** (1.0 / 3.0)


def bike(seed: int, rate: float) -> Iterator[Reading]:
    body = Body.from_seed(_rng(seed, "body"))
    rng = _rng(seed, "bike")
    distance = 0.0
    for at, step in _ticks(rate):
        effort = body.effort(at)
        power = max(0.0, 80.0 + 240.0 * effort + rng.gauss(0.0, 8.0))
        cadence = max(0.0, 70.0 + 25.0 * effort + rng.gauss(0.0, 2.0))
        speed = bike_speed(power)
        yield Reading(at, DataType.POWER, round(power))
        yield Reading(at, DataType.BIKE_CADENCE, round(cadence))
        yield Reading(at, DataType.SPEED, round(speed, 2))
        yield Reading(at, DataType.DISTANCE, round(distance, 2))
        distance += speed * step


# watch ------------------------------------------------------------------------------------------


def _noisy(rng: random.Random, sigma: float, *xs: float) -> tuple[float, ...]:
    return tuple(round(x + rng.gauss(0.0, sigma), 3) for x in xs)


def _imu(body: Body, rng: random.Random) -> Iterator[Reading]:
    """A wrist swinging once per stride: acceleration around gravity, rotation around the swing."""
    phase = 0.0
    for at, step in _ticks(IMU_RATE_HZ):
        swing_hz = body.step_cadence(body.running_speed(at)) / 2.0
        phase += 2 * math.pi * swing_hz * step
        amplitude = 2.0 + 8.0 * body.effort(at)
        acc = _noisy(
            rng, 0.15,
            amplitude * math.sin(phase),
            0.2 * GRAVITY + 0.5 * amplitude * math.sin(2 * phase),
            0.97 * GRAVITY + 0.3 * amplitude * math.cos(phase),
        )
        gyro = _noisy(
            rng, 0.05,
            0.4 * amplitude * math.cos(phase),
            0.1 * amplitude * math.sin(2 * phase),
            0.05 * amplitude * math.sin(phase),
        )
        yield Reading(at, DataType.ACCELERATION, acc)
        yield Reading(at, DataType.GYROSCOPE, gyro)


def _wrist(body: Body, rng: random.Random, rate: float) -> Iterator[Reading]:
    """Steps, calories and a GPS track at ``rate``; the heart rate from the optical sensor."""
    steps = calories = 0.0
    lat, lon = rng.uniform(-50.0, 60.0), rng.uniform(-120.0, 150.0)
    heading = rng.uniform(0.0, 2 * math.pi)
    for at, step in _ticks(rate):
        effort = body.effort(at)
        speed = body.running_speed(at)
        yield Reading(at, DataType.HEART_RATE, round(body.heart_rate(at)))
        yield Reading(at, DataType.STEPS, int(steps))
        yield Reading(at, DataType.CALORIES, round(calories, 1))
        yield Reading(at, DataType.LOCATION, (round(lat, 7), round(lon, 7)))
        met = 2.0 + 9.0 * effort
        calories += met * body.weight_kg * step / 3600.0
        steps += body.step_cadence(speed) * step
        heading += rng.gauss(0.0, 0.05)
        lat += speed * step * math.cos(heading) / METRES_PER_DEGREE
        lon += speed * step * math.sin(heading) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))


def watch(seed: int, rate: float) -> Iterator[Reading]:
    body = Body.from_seed(_rng(seed, "body"))
    return _merge(_imu(body, _rng(seed, "imu")), _wrist(body, _rng(seed, "wrist"), rate))


# the kinds --------------------------------------------------------------------------------------


@attrs.frozen
class Kind:
    """A kind of simulated device: what it is called, what it produces, how."""

    name: str
    label: str
    data_types: tuple[DataType, ...]
    timeline: Callable[[int, float], Iterator[Reading]]


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "hr-strap", "Simulated heart-rate strap",
            (DataType.HEART_RATE, DataType.RR_INTERVAL, DataType.BATTERY), hr_strap,
        ),
        Kind(
            "footpod", "Simulated running footpod",
            (DataType.SPEED, DataType.STEPS_CADENCE, DataType.DISTANCE, DataType.STEPS), footpod,
        ),
        Kind(
            "bike", "Simulated bike power meter",
            (DataType.POWER, DataType.BIKE_CADENCE, DataType.SPEED, DataType.DISTANCE), bike,
        ),
        Kind(
            "watch", "Simulated sports watch",
            (
                DataType.ACCELERATION, DataType.GYROSCOPE, DataType.STEPS, DataType.CALORIES,
                DataType.LOCATION, DataType.HEART_RATE,
            ),
            watch,
        ),
    )
}
