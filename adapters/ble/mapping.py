"""Decoded characteristic records -> domain Samples, in the units of ``domain.datatypes``.

The mapper is per connection because CSC and Cycling Power report revolution counters: speed,
cadence and distance need the previous measurement, which ``RevolutionCounter`` remembers.
Values that are not finite (SFLOAT NaN/NRes/∞) or that mean "no reading" (a 0 bpm heart rate
from a strap without skin contact) produce no sample rather than a wrong one.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import attrs

from ...domain.datatypes import DataType
from ...domain.samples import Sample
from .decoders import (
    CscMeasurement,
    CyclingPowerMeasurement,
    HeartRateMeasurement,
    IndoorBikeData,
    PlxContinuousMeasurement,
    RevolutionCounter,
    RevolutionEvent,
    RscMeasurement,
    TreadmillData,
)

# ISO 700x23C, the most common road wheel; a CSC sensor reports revolutions, not metres.
DEFAULT_WHEEL_CIRCUMFERENCE_M = 2.096
KJ_PER_KCAL = 4.184

Reading = tuple[DataType, float, datetime]


@attrs.define
class SampleMapper:
    user_id: str
    device_id: str
    wheel_circumference_m: float = DEFAULT_WHEEL_CIRCUMFERENCE_M
    _wheel: RevolutionCounter = attrs.field(factory=RevolutionCounter)
    _crank: RevolutionCounter = attrs.field(factory=RevolutionCounter)

    def samples(self, record: object, ts: datetime) -> list[Sample]:
        """The samples one decoded record stands for, stamped ``ts`` (its arrival time)."""
        readings = self._readings(record, ts)
        return [
            Sample(dt.value, at, value, self.user_id, self.device_id)
            for dt, value, at in readings
            if math.isfinite(value)
        ]

    def _readings(self, record: object, ts: datetime) -> list[Reading]:
        if isinstance(record, HeartRateMeasurement):
            return _heart_rate(record, ts)
        if isinstance(record, int):  # Battery Level
            return [(DataType.BATTERY, record, ts)]
        if isinstance(record, RscMeasurement):
            return _rsc(record, ts)
        if isinstance(record, CscMeasurement):
            return self._revolutions(record.wheel, record.crank, ts)
        if isinstance(record, CyclingPowerMeasurement):
            power = [(DataType.POWER, float(record.power_w), ts)]
            return power + self._revolutions(record.wheel, record.crank, ts)
        if isinstance(record, (IndoorBikeData, TreadmillData)):
            return _fitness_machine(record, ts)
        if isinstance(record, PlxContinuousMeasurement):
            return [
                (DataType.OXYGEN_SATURATION, record.normal.spo2_pct, ts),
                (DataType.HEART_RATE, record.normal.pulse_rate_bpm, ts),
            ]
        raise TypeError(f"no mapping for {type(record).__name__}")

    def _revolutions(
        self, wheel: RevolutionEvent | None, crank: RevolutionEvent | None, ts: datetime
    ) -> list[Reading]:
        out: list[Reading] = []
        if wheel is not None:
            rate = self._wheel.update(wheel)
            if rate is not None:
                out.append((DataType.SPEED, rate * self.wheel_circumference_m, ts))
            distance = self._wheel.total * self.wheel_circumference_m
            out.append((DataType.DISTANCE, distance, ts))
        if crank is not None:
            rate = self._crank.update(crank)
            if rate is not None:
                out.append((DataType.BIKE_CADENCE, rate * 60, ts))
        return out


def _heart_rate(m: HeartRateMeasurement, ts: datetime) -> list[Reading]:
    out: list[Reading] = []
    if m.bpm > 0:
        out.append((DataType.HEART_RATE, float(m.bpm), ts))
    # The last RR interval ended about when the notification came: earlier ones ended earlier.
    ends = []
    end = ts
    for rr in reversed(m.rr_intervals_s):
        ends.append((rr, end))
        end -= timedelta(seconds=rr)
    out.extend((DataType.RR_INTERVAL, rr * 1000, at) for rr, at in reversed(ends))
    if m.energy_expended_kj is not None:
        out.append((DataType.CALORIES, m.energy_expended_kj / KJ_PER_KCAL, ts))
    return out


def _rsc(m: RscMeasurement, ts: datetime) -> list[Reading]:
    out: list[Reading] = [
        (DataType.SPEED, m.speed_m_s, ts),
        (DataType.STEPS_CADENCE, m.cadence_spm / 60, ts),
    ]
    if m.total_distance_m is not None:
        out.append((DataType.DISTANCE, m.total_distance_m, ts))
    return out


def _fitness_machine(m: IndoorBikeData | TreadmillData, ts: datetime) -> list[Reading]:
    fields: list[tuple[DataType, float | None]] = [
        (DataType.SPEED, m.speed_m_s),
        (DataType.DISTANCE, m.total_distance_m),
        (DataType.POWER, m.power_w),
        (DataType.HEART_RATE, m.heart_rate_bpm or None),
        (DataType.MET, m.met),
        (DataType.CALORIES, m.energy.total_kcal if m.energy else None),
    ]
    if isinstance(m, IndoorBikeData):
        fields.append((DataType.BIKE_CADENCE, m.cadence_rpm))
    return [(dt, float(value), ts) for dt, value in fields if value is not None]
