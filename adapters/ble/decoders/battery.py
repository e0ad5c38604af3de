"""Battery Level (0x2A19), Battery Service 1.0 §3.1: one uint8, percent 0–100."""

from __future__ import annotations

from .reader import Reader

NAME = "Battery Level (0x2A19)"


def decode_battery_level(data: bytes) -> int:
    r = Reader(NAME, data)
    level = r.uint(1, "battery level")
    if level > 100:
        raise r.fail(f"battery level {level} is above 100 %")
    return level
