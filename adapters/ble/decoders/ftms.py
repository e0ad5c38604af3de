"""Fitness Machine Service 1.0: Indoor Bike Data (0x2AD2, §4.9) and Treadmill Data (0x2ACD, §4.8).

Both start with flags (uint16). Bit 0 ("More Data") is inverted: 0 means the instantaneous speed
(uint16, 0.01 km/h) IS present. Every other bit set means its field is present, in bit order.
Speeds are converted to m/s here, so that records speak SI like the domain.
"""

from __future__ import annotations

import attrs

from .reader import Reader

BIKE_NAME = "Indoor Bike Data (0x2AD2)"
TREADMILL_NAME = "Treadmill Data (0x2ACD)"
KMH_TO_M_S = 1 / 3.6


@attrs.frozen
class ExpendedEnergy:
    total_kcal: int
    per_hour_kcal: int
    per_minute_kcal: int


@attrs.frozen
class IndoorBikeData:
    speed_m_s: float | None = None
    average_speed_m_s: float | None = None
    cadence_rpm: float | None = None
    average_cadence_rpm: float | None = None
    total_distance_m: int | None = None
    resistance_level: int | None = None
    power_w: int | None = None
    average_power_w: int | None = None
    energy: ExpendedEnergy | None = None
    heart_rate_bpm: int | None = None
    met: float | None = None
    elapsed_time_s: int | None = None
    remaining_time_s: int | None = None


@attrs.frozen
class TreadmillData:
    speed_m_s: float | None = None
    average_speed_m_s: float | None = None
    total_distance_m: int | None = None
    inclination_pct: float | None = None
    ramp_angle_deg: float | None = None
    elevation_gain_m: tuple[float, float] | None = None  # (positive, negative)
    pace_km_min: float | None = None
    average_pace_km_min: float | None = None
    energy: ExpendedEnergy | None = None
    heart_rate_bpm: int | None = None
    met: float | None = None
    elapsed_time_s: int | None = None
    remaining_time_s: int | None = None
    force_on_belt_n: int | None = None
    power_w: int | None = None


def _speed(r: Reader, field: str) -> float:
    return r.uint(2, field) / 100 * KMH_TO_M_S


def _energy(r: Reader) -> ExpendedEnergy:
    total = r.uint(2, "total energy")
    per_hour = r.uint(2, "energy per hour")
    return ExpendedEnergy(total, per_hour, r.uint(1, "energy per minute"))


def _tail(r: Reader, flags: int, first_bit: int, fields: dict[str, object]) -> None:
    """Expended energy, heart rate, MET, elapsed and remaining time: the same run in both."""
    if flags & (1 << first_bit):
        fields["energy"] = _energy(r)
    if flags & (1 << (first_bit + 1)):
        fields["heart_rate_bpm"] = r.uint(1, "heart rate")
    if flags & (1 << (first_bit + 2)):
        fields["met"] = r.uint(1, "metabolic equivalent") / 10
    if flags & (1 << (first_bit + 3)):
        fields["elapsed_time_s"] = r.uint(2, "elapsed time")
    if flags & (1 << (first_bit + 4)):
        fields["remaining_time_s"] = r.uint(2, "remaining time")


def decode_indoor_bike_data(data: bytes) -> IndoorBikeData:
    r = Reader(BIKE_NAME, data)
    flags = r.uint(2, "flags")
    fields: dict[str, object] = {}
    if not flags & 0x0001:
        fields["speed_m_s"] = _speed(r, "instantaneous speed")
    if flags & 0x0002:
        fields["average_speed_m_s"] = _speed(r, "average speed")
    if flags & 0x0004:
        fields["cadence_rpm"] = r.uint(2, "instantaneous cadence") / 2
    if flags & 0x0008:
        fields["average_cadence_rpm"] = r.uint(2, "average cadence") / 2
    if flags & 0x0010:
        fields["total_distance_m"] = r.uint(3, "total distance")
    if flags & 0x0020:
        fields["resistance_level"] = r.sint(2, "resistance level")
    if flags & 0x0040:
        fields["power_w"] = r.sint(2, "instantaneous power")
    if flags & 0x0080:
        fields["average_power_w"] = r.sint(2, "average power")
    _tail(r, flags, 8, fields)
    return IndoorBikeData(**fields)  # type: ignore[arg-type]


def decode_treadmill_data(data: bytes) -> TreadmillData:
    r = Reader(TREADMILL_NAME, data)
    flags = r.uint(2, "flags")
    fields: dict[str, object] = {}
    if not flags & 0x0001:
        fields["speed_m_s"] = _speed(r, "instantaneous speed")
    if flags & 0x0002:
        fields["average_speed_m_s"] = _speed(r, "average speed")
    if flags & 0x0004:
        fields["total_distance_m"] = r.uint(3, "total distance")
    if flags & 0x0008:
        fields["inclination_pct"] = r.sint(2, "inclination") / 10
        fields["ramp_angle_deg"] = r.sint(2, "ramp angle setting") / 10
    if flags & 0x0010:
        positive = r.uint(2, "positive elevation gain") / 10
        fields["elevation_gain_m"] = (positive, r.uint(2, "negative elevation gain") / 10)
    if flags & 0x0020:
        fields["pace_km_min"] = r.uint(1, "instantaneous pace") / 10
    if flags & 0x0040:
        fields["average_pace_km_min"] = r.uint(1, "average pace") / 10
    _tail(r, flags, 7, fields)
    if flags & 0x1000:
        fields["force_on_belt_n"] = r.sint(2, "force on belt")
        fields["power_w"] = r.sint(2, "power output")
    return TreadmillData(**fields)  # type: ignore[arg-type]
