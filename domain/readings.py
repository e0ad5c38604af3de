"""Readings: the ``d`` object of SUBMIT and DISPATCH, and the rules every reading obeys.

A reading has ``ts`` (ISO-8601 with a UTC offset) and exactly one of ``val`` (a finite number) or
``d`` (an array of finite numbers). For data types the domain knows, the shape is checked too.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping

from .datatypes import Shape, resolve
from .errors import InvalidReading

MAX_SERIES_LENGTH = 4096


def is_number(value: object) -> bool:
    """A JSON number: int or float, but not bool (which Python counts as int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    """Integers are always finite (math.isfinite would overflow on huge ones)."""
    return isinstance(value, int) or math.isfinite(value)


def parse_timestamp(text: object) -> datetime:
    """An aware datetime from an ISO-8601 string that carries an offset (``Z`` included)."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidReading("ts must be an ISO-8601 string with a UTC offset")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReading(f"ts {text!r} is not ISO-8601") from None
    if ts.tzinfo is None:
        raise InvalidReading(f"ts {text!r} has no UTC offset")
    return ts


def format_timestamp(ts: datetime) -> str:
    """The wire form of a timestamp: ISO-8601 in UTC with microseconds and ``+00:00``."""
    return ts.astimezone(timezone.utc).isoformat(timespec="microseconds")


def check_value(label: str, value: float | tuple[float, ...] | list[float]) -> None:
    """Check a value against the shape of its data type (when known) and the finite-number rule."""
    if is_number(value):
        if not _finite(value):  # type: ignore[arg-type]
            raise InvalidReading(f"{label}: val must be a finite number")
        shape = Shape.SCALAR
    elif isinstance(value, (list, tuple)):
        if not value:
            raise InvalidReading(f"{label}: d must not be empty")
        if len(value) > MAX_SERIES_LENGTH:
            raise InvalidReading(f"{label}: d has more than {MAX_SERIES_LENGTH} numbers")
        for x in value:
            if not is_number(x) or not _finite(x):
                raise InvalidReading(f"{label}: d must hold finite numbers only")
        shape = None
    else:
        raise InvalidReading(f"{label}: a value must be a number or an array of numbers")
    known = resolve(label)
    if known is None:
        return
    info = known.info
    if info.shape is Shape.SCALAR and shape is not Shape.SCALAR:
        raise InvalidReading(f"{label} carries one number in val, not an array in d")
    if info.shape is not Shape.SCALAR and shape is Shape.SCALAR:
        raise InvalidReading(f"{label} carries an array in d, not a number in val")
    if info.length is not None and len(value) != info.length:  # type: ignore[arg-type]
        raise InvalidReading(f"{label} carries exactly {info.length} numbers in d")


def validate_reading(label: str, reading: Mapping[str, Any]) -> datetime | None:
    """Check a wire reading; returns its timestamp, or None when it has none (the broker stamps it).

    Raises InvalidReading (close 1003) with a reason that names the rule broken.
    """
    has_val = "val" in reading
    has_d = "d" in reading
    if has_val and has_d:
        raise InvalidReading(f"{label}: a reading has val or d, never both")
    if not has_val and not has_d:
        raise InvalidReading(f"{label}: a reading needs val or d")
    check_value(label, reading["val"] if has_val else reading["d"])
    ts = reading.get("ts")
    return None if ts is None else parse_timestamp(ts)


def wire_reading(ts: datetime, value: float | tuple[float, ...]) -> dict[str, Any]:
    """The wire ``d`` object for a timestamp and a value."""
    if is_number(value):
        return {"ts": format_timestamp(ts), "val": value}
    return {"ts": format_timestamp(ts), "d": list(value)}  # type: ignore[arg-type]
