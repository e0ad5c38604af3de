"""CSC Measurement (0x2A5B), Cycling Speed and Cadence Service 1.0 §3.1 / GSS "CSC Measurement".

Flags (uint8): bit 0 wheel revolution data present (cumulative wheel revolutions uint32, last
wheel event time uint16 in 1/1024 s), bit 1 crank revolution data present (cumulative crank
revolutions uint16, last crank event time uint16 in 1/1024 s).
"""

from __future__ import annotations

import attrs

from .reader import Reader
from .revolutions import RevolutionEvent

NAME = "CSC Measurement (0x2A5B)"


@attrs.frozen
class CscMeasurement:
    wheel: RevolutionEvent | None = None
    crank: RevolutionEvent | None = None


def decode_csc_measurement(data: bytes) -> CscMeasurement:
    r = Reader(NAME, data)
    flags = r.uint(1, "flags")
    wheel = crank = None
    if flags & 0x01:
        revs = r.uint(4, "cumulative wheel revolutions")
        wheel = RevolutionEvent(revs, r.uint(2, "last wheel event time"), 32)
    if flags & 0x02:
        revs = r.uint(2, "cumulative crank revolutions")
        crank = RevolutionEvent(revs, r.uint(2, "last crank event time"), 16)
    return CscMeasurement(wheel, crank)
