"""PLX Continuous Measurement (0x2A5F), Pulse Oximeter Service 1.0 §3.2 / GSS "PLX Continuous
Measurement".

Flags (uint8), then SpO2PR-Normal (SpO2 %, pulse rate bpm: two SFLOATs), then in flag order:
bit 0 SpO2PR-Fast (two SFLOATs), bit 1 SpO2PR-Slow (two SFLOATs), bit 2 measurement status
(uint16), bit 3 device and sensor status (uint24), bit 4 pulse amplitude index (SFLOAT, %).
SFLOAT special values decode to NaN or ±inf (see ``sfloat``): the record keeps them, the mapping
to samples drops what is not finite.
"""

from __future__ import annotations

import attrs

from .reader import Reader

NAME = "PLX Continuous Measurement (0x2A5F)"


@attrs.frozen
class SpO2PulseRate:
    spo2_pct: float
    pulse_rate_bpm: float


@attrs.frozen
class PlxContinuousMeasurement:
    normal: SpO2PulseRate
    fast: SpO2PulseRate | None = None
    slow: SpO2PulseRate | None = None
    measurement_status: int | None = None
    device_and_sensor_status: int | None = None
    pulse_amplitude_index_pct: float | None = None


def _pair(r: Reader, which: str) -> SpO2PulseRate:
    spo2 = r.sfloat(f"SpO2PR-{which} SpO2")
    return SpO2PulseRate(spo2, r.sfloat(f"SpO2PR-{which} pulse rate"))


def decode_plx_continuous(data: bytes) -> PlxContinuousMeasurement:
    r = Reader(NAME, data)
    flags = r.uint(1, "flags")
    fields: dict[str, object] = {"normal": _pair(r, "Normal")}
    if flags & 0x01:
        fields["fast"] = _pair(r, "Fast")
    if flags & 0x02:
        fields["slow"] = _pair(r, "Slow")
    if flags & 0x04:
        fields["measurement_status"] = r.uint(2, "measurement status")
    if flags & 0x08:
        fields["device_and_sensor_status"] = r.uint(3, "device and sensor status")
    if flags & 0x10:
        fields["pulse_amplitude_index_pct"] = r.sfloat("pulse amplitude index")
    return PlxContinuousMeasurement(**fields)  # type: ignore[arg-type]
