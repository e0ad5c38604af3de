"""Encoders of GATT characteristic values: what an emulated peripheral sends.

The inverse of ``adapters.ble.decoders`` for the characteristics the emulated BlueZ plays, so
property tests can round-trip and the emulator's values are built the way a sensor builds them.
"""

from __future__ import annotations


def _u(value: int, size: int) -> bytes:
    return value.to_bytes(size, "little")


def encode_heart_rate(
    bpm: int,
    *,
    contact: bool | None = None,
    energy_kj: int | None = None,
    rr_1024: list[int] = (),  # type: ignore[assignment]
    wide: bool = False,
) -> bytes:
    """Heart Rate Measurement; ``rr_1024`` in 1/1024 s, ``wide`` forces the uint16 format."""
    wide = wide or bpm > 0xFF
    flags = (0x01 if wide else 0) | (0x08 if energy_kj is not None else 0) | (0x10 if rr_1024 else 0)
    if contact is not None:
        flags |= 0x04 | (0x02 if contact else 0)
    out = bytes([flags]) + _u(bpm, 2 if wide else 1)
    if energy_kj is not None:
        out += _u(energy_kj, 2)
    return out + b"".join(_u(rr, 2) for rr in rr_1024)


def encode_battery_level(level: int) -> bytes:
    return bytes([level])


def encode_rsc(
    speed_256: int, cadence_spm: int, *, stride_cm: int | None = None,
    distance_dm: int | None = None, running: bool = True,
) -> bytes:
    flags = (0x01 if stride_cm is not None else 0) | (0x02 if distance_dm is not None else 0)
    flags |= 0x04 if running else 0
    out = bytes([flags]) + _u(speed_256, 2) + _u(cadence_spm, 1)
    if stride_cm is not None:
        out += _u(stride_cm, 2)
    if distance_dm is not None:
        out += _u(distance_dm, 4)
    return out


def encode_csc(
    wheel: tuple[int, int] | None = None, crank: tuple[int, int] | None = None
) -> bytes:
    """CSC Measurement from (cumulative revolutions, last event time in 1/1024 s) pairs."""
    flags = (0x01 if wheel else 0) | (0x02 if crank else 0)
    out = bytes([flags])
    if wheel:
        out += _u(wheel[0], 4) + _u(wheel[1], 2)
    if crank:
        out += _u(crank[0], 2) + _u(crank[1], 2)
    return out
