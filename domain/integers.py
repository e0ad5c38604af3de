"""Integers on the wire: the 64-bit range every store and sink can hold, and the lenient reading
of integers that Terra clients send sloppily (``28.0``, ``"28"``).

JSON has no integer width, but every part behind the broker has one: SQLite and PostgreSQL
columns hold signed 64 bits, orjson writes at most unsigned 64 bits and reads anything wider as a
float (silently losing digits). So the broker accepts only what all of them hold, at the boundary.
"""

from __future__ import annotations

import math
import re

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_DECIMAL = re.compile(r"[+-]?([0-9]{1,20})(?:\.0*)?")


def in_int64(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def lenient_int(value: object) -> int | None:
    """``value`` as an integer when it is one in all but type: an int, an integral float
    (``28.0``) or a decimal string (``"28"``, ``"28.0"``, no exponent, no ``_``); None otherwise. Booleans are not
    numbers here (Python counts them as ints, JSON does not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        match = _DECIMAL.fullmatch(value.strip())
        if match is None:
            return None
        return int(value.strip().split(".")[0])
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None
