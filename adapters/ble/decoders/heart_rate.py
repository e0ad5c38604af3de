"""Heart Rate Measurement (0x2A37), Heart Rate Service 1.0 §3.1 / GSS "Heart Rate Measurement".

Flags (uint8): bit 0 value format (0 = uint8, 1 = uint16 bpm); bits 1–2 sensor contact status
(bit 2 = supported, bit 1 = detected); bit 3 energy expended present (uint16 kJ); bit 4 RR
intervals present (one or more uint16 in 1/1024 s, to the end of the value; a value whose flag
announces them but carries none is malformed).
"""

from __future__ import annotations

import attrs

from .reader import Reader

NAME = "Heart Rate Measurement (0x2A37)"
RR_RESOLUTION_S = 1 / 1024


@attrs.frozen
class HeartRateMeasurement:
    bpm: int
    sensor_contact: bool | None = None  # None: the sensor does not report contact
    energy_expended_kj: int | None = None
    rr_intervals_s: list[float] = attrs.field(factory=list)


def decode_heart_rate(data: bytes) -> HeartRateMeasurement:
    r = Reader(NAME, data)
    flags = r.uint(1, "flags")
    bpm = r.uint(2 if flags & 0x01 else 1, "heart rate value")
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = r.uint(2, "energy expended") if flags & 0x08 else None
    rr: list[float] = []
    if flags & 0x10:
        if not r.remaining():  # the flag announces at least one; Bluetooth's own parsers agree
            raise r.fail("the flags announce RR intervals but none follow")
        if r.remaining() % 2:
            raise r.fail("RR intervals are uint16 but an odd number of bytes is left")
        while r.remaining():
            rr.append(r.uint(2, "RR interval") * RR_RESOLUTION_S)
    return HeartRateMeasurement(bpm, contact, energy, rr)
