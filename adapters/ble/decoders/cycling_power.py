"""Cycling Power Measurement (0x2A63), Cycling Power Service 1.1 §3.2 / GSS "Cycling Power
Measurement".

Flags (uint16) then instantaneous power (sint16 W), then the optional fields in flag order:
bit 0 pedal power balance (uint8, 1/2 %; bit 1 set: it is the left pedal's share, clear: unknown
pedal), bit 2 accumulated torque (uint16, 1/32 N·m; bit 3 set: crank based, clear: wheel based), bit 4 wheel revolution data (uint32 revolutions,
uint16 event time in 1/2048 s), bit 5 crank revolution data (uint16 revolutions, uint16 event
time in 1/1024 s), bit 6 extreme force magnitudes (sint16 max, sint16 min, N), bit 7 extreme
torque magnitudes (sint16 max, sint16 min, 1/32 N·m), bit 8 extreme angles (uint12 max and uint12
min in one uint24, degrees), bit 9 top dead spot angle (uint16 degrees), bit 10 bottom dead spot
angle (uint16 degrees), bit 11 accumulated energy (uint16 kJ), bit 12 offset compensation
indicator (no field).
"""

from __future__ import annotations

import attrs

from .reader import Reader
from .revolutions import RevolutionEvent

NAME = "Cycling Power Measurement (0x2A63)"


@attrs.frozen
class CyclingPowerMeasurement:
    power_w: int
    pedal_power_balance_pct: float | None = None
    pedal_power_balance_is_left: bool | None = None  # flag bit 1; None without a balance
    accumulated_torque_nm: float | None = None
    accumulated_torque_from_crank: bool | None = None  # flag bit 3; None without a torque
    wheel: RevolutionEvent | None = None
    crank: RevolutionEvent | None = None
    extreme_force_n: tuple[int, int] | None = None  # (max, min)
    extreme_torque_nm: tuple[float, float] | None = None  # (max, min)
    extreme_angles_deg: tuple[int, int] | None = None  # (max, min)
    top_dead_spot_deg: int | None = None
    bottom_dead_spot_deg: int | None = None
    accumulated_energy_kj: int | None = None
    offset_compensation: bool = False


def decode_cycling_power(data: bytes) -> CyclingPowerMeasurement:
    r = Reader(NAME, data)
    flags = r.uint(2, "flags")
    fields: dict[str, object] = {"power_w": r.sint(2, "instantaneous power")}
    if flags & 0x0001:
        fields["pedal_power_balance_pct"] = r.uint(1, "pedal power balance") / 2
        fields["pedal_power_balance_is_left"] = bool(flags & 0x0002)  # else: unknown pedal
    if flags & 0x0004:
        fields["accumulated_torque_nm"] = r.uint(2, "accumulated torque") / 32
        fields["accumulated_torque_from_crank"] = bool(flags & 0x0008)  # else: wheel based
    if flags & 0x0010:
        revs = r.uint(4, "cumulative wheel revolutions")
        fields["wheel"] = RevolutionEvent(revs, r.uint(2, "last wheel event time"), 32, 2048)
    if flags & 0x0020:
        revs = r.uint(2, "cumulative crank revolutions")
        fields["crank"] = RevolutionEvent(revs, r.uint(2, "last crank event time"), 16)
    if flags & 0x0040:
        fields["extreme_force_n"] = (r.sint(2, "maximum force"), r.sint(2, "minimum force"))
    if flags & 0x0080:
        high = r.sint(2, "maximum torque") / 32
        fields["extreme_torque_nm"] = (high, r.sint(2, "minimum torque") / 32)
    if flags & 0x0100:
        angles = r.uint(3, "extreme angles")
        fields["extreme_angles_deg"] = (angles & 0xFFF, angles >> 12)
    if flags & 0x0200:
        fields["top_dead_spot_deg"] = r.uint(2, "top dead spot angle")
    if flags & 0x0400:
        fields["bottom_dead_spot_deg"] = r.uint(2, "bottom dead spot angle")
    if flags & 0x0800:
        fields["accumulated_energy_kj"] = r.uint(2, "accumulated energy")
    fields["offset_compensation"] = bool(flags & 0x1000)
    return CyclingPowerMeasurement(**fields)  # type: ignore[arg-type]
