"""RSC Measurement (0x2A53), Running Speed and Cadence Service 1.0 §3.1 / GSS "RSC Measurement".

Flags (uint8): bit 0 stride length present, bit 1 total distance present, bit 2 running (1) or
walking (0). Then speed (uint16, 1/256 m/s), cadence (uint8, steps per minute), stride length
(uint16, 1/100 m), total distance (uint32, 1/10 m).
"""

from __future__ import annotations

import attrs

from .reader import Reader

NAME = "RSC Measurement (0x2A53)"


@attrs.frozen
class RscMeasurement:
    speed_m_s: float
    cadence_spm: int  # steps per minute, as on the wire
    running: bool
    stride_length_m: float | None = None
    total_distance_m: float | None = None


def decode_rsc_measurement(data: bytes) -> RscMeasurement:
    r = Reader(NAME, data)
    flags = r.uint(1, "flags")
    speed = r.uint(2, "instantaneous speed") / 256
    cadence = r.uint(1, "instantaneous cadence")
    stride = r.uint(2, "stride length") / 100 if flags & 0x01 else None
    distance = r.uint(4, "total distance") / 10 if flags & 0x02 else None
    return RscMeasurement(speed, cadence, bool(flags & 0x04), stride, distance)
