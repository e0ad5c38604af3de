"""From ANT+ pages to domain Samples.

A reader per profile keeps the page before (and the session totals), feeds both to the pure
calculators of ``decoders`` and says which readings the new page yields. Totals (distance,
steps) start at zero when the session does: the sensors' own counters roll over every 256 m or
256 strides, so only their differences mean anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ...domain.datatypes import DataType
from ...domain.samples import Sample
from . import decoders as d
from .profiles import BIKE_POWER, BIKE_SPEED_CADENCE, HEART_RATE, STRIDE_SDM, Profile

Reading = tuple[DataType, float]
DEFAULT_WHEEL_CIRCUMFERENCE_M = 2.105  # a 700x25c road wheel
STOPPED_AFTER_PAGES = 12  # about 3 s at 4 Hz with no new wheel or crank event: standing still


class PageReader(Protocol):
    def read(self, page: bytes) -> list[Reading]:
        """The readings one new page yields; raises DecodeError for a malformed page."""
        ...


class HeartRateReader:
    def __init__(self) -> None:
        self._last: d.HeartRatePage | None = None

    def read(self, page: bytes) -> list[Reading]:
        current = d.decode_heart_rate(page)
        readings: list[Reading] = []
        if current.heart_rate is not None:
            readings.append((DataType.HEART_RATE, current.heart_rate))
        readings += [(DataType.RR_INTERVAL, rr) for rr in d.rr_intervals_ms(self._last, current)]
        if current.battery_percent is not None:
            readings.append((DataType.BATTERY, current.battery_percent))
        self._last = current
        return readings


class StrideReader:
    def __init__(self) -> None:
        self._last: d.SdmPage1 | None = None
        self._last_stride: d.SdmPage1 | None = None  # the page where the stride count last changed
        self._distance = 0.0
        self._steps = 0

    def read(self, page: bytes) -> list[Reading]:
        current = d.decode_sdm(page)
        if current is None:
            return []
        readings: list[Reading] = [(DataType.SPEED, current.speed_m_s)]
        if self._last is not None:
            distance, strides = d.sdm_progress(self._last, current)
            self._distance += distance
            self._steps += 2 * strides
            if strides:
                cadence = d.step_cadence(self._last_stride or self._last, current)
                if cadence is not None:
                    readings.append((DataType.STEPS_CADENCE, cadence))
                self._last_stride = current
        readings += [(DataType.DISTANCE, self._distance), (DataType.STEPS, self._steps)]
        self._last = current
        return readings


class _Staleness:
    """Counts pages without a new event; says once when a sensor has been still long enough."""

    def __init__(self) -> None:
        self._quiet = 0

    def still(self, moved: bool) -> bool:
        self._quiet = 0 if moved else self._quiet + 1
        return self._quiet == STOPPED_AFTER_PAGES


class BikeSpeedCadenceReader:
    def __init__(self, circumference_m: float = DEFAULT_WHEEL_CIRCUMFERENCE_M) -> None:
        self._circumference = circumference_m
        self._last: d.BikeSpeedCadencePage | None = None
        self._distance = 0.0
        self._wheel_still = _Staleness()
        self._crank_still = _Staleness()

    def read(self, page: bytes) -> list[Reading]:
        current = d.decode_bike_speed_cadence(page)
        last, self._last = self._last, current
        if last is None:
            return [(DataType.DISTANCE, 0.0)]
        readings: list[Reading] = []
        rpm = d.cadence_rpm(last, current)
        if rpm is not None:
            readings.append((DataType.BIKE_CADENCE, rpm))
        if self._crank_still.still(moved=rpm is not None):
            readings.append((DataType.BIKE_CADENCE, 0.0))
        distance, speed = d.wheel_progress(last, current, self._circumference)
        if speed is not None:
            self._distance += distance
            readings += [(DataType.SPEED, speed), (DataType.DISTANCE, self._distance)]
        if self._wheel_still.still(moved=speed is not None):
            readings.append((DataType.SPEED, 0.0))
        return readings


class PowerReader:
    def __init__(self) -> None:
        self._last: d.PowerOnlyPage | None = None

    def read(self, page: bytes) -> list[Reading]:
        current = d.decode_power(page)
        if current is None:
            return []
        last, self._last = self._last, current
        if last is None:
            power: float | None = current.instantaneous_power
        else:
            power = d.average_power(last, current)
        if power is None:
            return []
        readings: list[Reading] = [(DataType.POWER, power)]
        if current.cadence_rpm is not None:
            readings.append((DataType.BIKE_CADENCE, current.cadence_rpm))
        return readings


def reader_for(profile: Profile, wheel_circumference_m: float | None = None) -> PageReader:
    """A fresh reader (no previous page, zero totals) for one session with one sensor."""
    if profile is HEART_RATE:
        return HeartRateReader()
    if profile is STRIDE_SDM:
        return StrideReader()
    if profile is BIKE_SPEED_CADENCE:
        return BikeSpeedCadenceReader(wheel_circumference_m or DEFAULT_WHEEL_CIRCUMFERENCE_M)
    if profile is BIKE_POWER:
        return PowerReader()
    raise ValueError(f"no reader for the {profile.title} profile")


def to_samples(
    readings: list[Reading], ts: datetime, user_id: str, device_id: str
) -> list[Sample]:
    return [Sample(dt.value, ts, value, user_id, device_id) for dt, value in readings]
