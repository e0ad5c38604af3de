"""IEEE 11073-20601 SFLOAT: the 16-bit medical float of the PLX and other health profiles.

A 4-bit signed exponent (high nibble) and a 12-bit signed mantissa, value = mantissa × 10^exp.
Five raw values with exponent 0 are reserved as special values (IEEE 11073-20601 §F.8, and the
GATT Specification Supplement's "medfloat16" definition).
"""

from __future__ import annotations

import enum
import math


class SFloatSpecial(enum.Enum):
    NAN = 0x07FF  # not a number
    NRES = 0x0800  # not at this resolution
    PLUS_INFINITY = 0x07FE
    MINUS_INFINITY = 0x0802
    RESERVED = 0x0801  # reserved for future use


_SPECIAL_VALUES = {special.value: special for special in SFloatSpecial}
_AS_FLOAT = {
    SFloatSpecial.NAN: math.nan,
    SFloatSpecial.NRES: math.nan,
    SFloatSpecial.RESERVED: math.nan,
    SFloatSpecial.PLUS_INFINITY: math.inf,
    SFloatSpecial.MINUS_INFINITY: -math.inf,
}


def sfloat_special(raw: int) -> SFloatSpecial | None:
    """Which special value ``raw`` is, or None for an ordinary number."""
    return _SPECIAL_VALUES.get(raw & 0xFFFF)


def decode_sfloat(raw: int) -> float:
    """The value of a raw SFLOAT: NaN for NaN/NRes/reserved, ±inf for the infinities."""
    raw &= 0xFFFF
    special = _SPECIAL_VALUES.get(raw)
    if special is not None:
        return _AS_FLOAT[special]
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent = raw >> 12
    if exponent >= 0x8:
        exponent -= 0x10
    # round() removes the binary noise of 10**-n (e.g. 975 × 10^-1 is 97.5, not 97.50000000000001)
    return round(mantissa * 10.0**exponent, max(0, -exponent))
