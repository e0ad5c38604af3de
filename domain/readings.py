"""Readings: the ``d`` object of SUBMIT and DISPATCH, and the rules every reading obeys.

A reading has ``ts`` (ISO-8601 with a UTC offset) and exactly one of ``val`` (a finite number) or
``d`` (an array of finite numbers). For data types the domain knows, the shape is checked too.

Whatever a reading carries besides (extra keys are forwarded untouched) must be something every
store and sink can write back: JSON writers stop at a nesting depth (orjson at 254, below what its
reader accepts), columns hold 64-bit integers, and a timestamp must convert to UTC. A reading the
broker accepts is therefore bounded in depth, keys and number range (``check_structure``), so that
nothing accepted can later stop a log append or a consumer's sink.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping

from .datatypes import Shape, shape_of
from .errors import InvalidReading
from .integers import INT64_MAX, INT64_MIN, in_int64

MAX_SERIES_LENGTH = 4096
# Nesting of a reading, the reading object itself being level 1 (``{"ts":…,"d":[…]}`` is 2 deep).
# Far below every JSON writer's limit, with room for the frames and records that wrap a reading.
MAX_DEPTH = 8
MAX_KEYS = 64  # keys of any one object in a reading
MAX_KEY_LENGTH = 64
# Floats this large are integers that overflowed on the way in (orjson reads integers wider than
# 64 bits as floats), never a sensor value: refused like the integers themselves.
MAX_MAGNITUDE = 2.0**63
# Timestamps must convert to UTC (year 1 with a positive offset does not) and fall in the years
# every tool reads as an ordinary time: from the Unix epoch to 9999.
MIN_YEAR = 1970
# As a plain name: on Python 3.11 ``Shape.SCALAR`` takes EnumType.__getattr__'s slow path (see
# domain/session.py), and check_value runs for every reading.
_SCALAR = Shape.SCALAR


def is_number(value: object) -> bool:
    """A JSON number: int or float, but not bool (which Python counts as int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    """Integers are always finite (math.isfinite would overflow on huge ones)."""
    return isinstance(value, int) or math.isfinite(value)


def _in_range(value: int | float) -> bool:
    """Within what every store and sink holds: 64-bit integers, floats below 2**63 in size.

    The checks below that run for every reading (check_value, check_structure) test exact
    ``int`` and ``float`` against the same bounds inline first, without a call, and fall back
    to is_number and this for anything else (bool, subclasses, what is refused)."""
    if isinstance(value, int):
        return in_int64(value)
    return math.isfinite(value) and abs(value) < MAX_MAGNITUDE


def parse_timestamp(text: object) -> datetime:
    """An aware datetime from an ISO-8601 string that carries an offset (``Z`` included), which
    converts to UTC within the years MIN_YEAR..9999 and has a whole-minute offset."""
    if not isinstance(text, str) or len(text) > 64:
        raise InvalidReading("ts must be an ISO-8601 string with a UTC offset")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidReading(f"ts {text!r} is not ISO-8601") from None
    offset = ts.utcoffset()
    if offset is None:
        raise InvalidReading(f"ts {text!r} has no UTC offset")
    if offset.seconds % 60 or offset.microseconds:
        raise InvalidReading(f"ts {text!r}: a UTC offset is whole minutes")
    if MIN_YEAR < ts.year < 9999:  # an offset (under a day) cannot take it out of range
        return ts
    try:
        year = ts.astimezone(timezone.utc).year
    except OverflowError:
        raise InvalidReading(f"ts {text!r} is outside the years UTC can represent") from None
    if year < MIN_YEAR:
        raise InvalidReading(f"ts {text!r} is before {MIN_YEAR}")
    return ts


def format_timestamp(ts: datetime) -> str:
    """The wire form of a time wearstream makes itself: UTC with microseconds and ``Z``
    (``2026-12-06T02:17:12.123456Z``), which Terra clients parse with a literal ``Z``."""
    utc = ts.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def utc_time(ts: object) -> datetime | None:
    """A reading's time in UTC, for display and sink columns; None when it has none that converts
    (a payload stored before the broker checked this, or by another broker, must not stop a sink).
    """
    if not isinstance(ts, str) or len(ts) > 64:
        return None
    try:
        moment = datetime.fromisoformat(ts)
        return None if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def check_structure(label: str, reading: Mapping[str, Any], checked: str | None = None) -> None:
    """Bound what a reading nests (MAX_DEPTH levels, MAX_KEYS per object, keys of at most
    MAX_KEY_LENGTH characters) and the numbers anywhere in it (64-bit range, finite), so that every
    store and sink can write back whatever the broker accepted. Iterative: depth costs no stack.
    ``checked``: a top-level key whose value check_value has already checked (``val`` or ``d``).

    The reading's own level is checked in one plain loop: it is all most readings have, and this
    runs for every reading the broker takes (docs/benchmarks.md, "Validation")."""
    nested: list[tuple[object, int]] = []
    _check_object(label, reading, 1, _NO_KEY if checked is None else checked, nested)
    while nested:
        value, depth = nested.pop()
        if depth > MAX_DEPTH:
            raise InvalidReading(f"{label}: a reading nests at most {MAX_DEPTH} levels")
        if isinstance(value, dict):
            _check_object(label, value, depth, _NO_KEY, nested)
        else:
            _check_items(label, value, depth, nested)  # type: ignore[arg-type]


_NO_KEY: Any = object()  # what nested objects skip: no key at all (not even a None key)


def _check_object(
    label: str, value: Mapping[str, Any], depth: int, skip: object, nested: list[tuple[object, int]]
) -> None:
    """One object's keys and plain values; its objects and arrays go to ``nested``."""
    if len(value) > MAX_KEYS:
        raise InvalidReading(f"{label}: an object in a reading has at most {MAX_KEYS} keys")
    for key, item in value.items():
        if key == skip:
            continue
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidReading(f"{label}: keys are at most {MAX_KEY_LENGTH} characters")
        kind = type(item)  # exact types first: what orjson makes, without a call
        if kind is str or item is None or kind is bool:
            continue
        if kind is int and INT64_MIN <= item <= INT64_MAX:
            continue
        if kind is float and math.isfinite(item) and abs(item) < MAX_MAGNITUDE:
            continue
        if isinstance(item, (dict, list)):
            nested.append((item, depth + 1))
        elif is_number(item) and not _in_range(item):
            raise _out_of_range(label)


def _check_items(label: str, items: list[object], depth: int, nested: list[tuple[object, int]]) -> None:
    for item in items:
        if isinstance(item, (dict, list)):
            nested.append((item, depth + 1))
        elif is_number(item) and not _in_range(item):
            raise _out_of_range(label)


def _out_of_range(label: str) -> InvalidReading:
    return InvalidReading(f"{label}: numbers must be finite and within the 64-bit integer range")


def check_value(label: str, value: float | tuple[float, ...] | list[float]) -> None:
    """Check a value against the shape of its data type (when known) and the finite-number rule."""
    kind = type(value)  # exact types first: what orjson makes, without a call
    if kind is int and INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
        scalar = True
    elif kind is float and math.isfinite(value) and abs(value) < MAX_MAGNITUDE:  # type: ignore[arg-type]
        scalar = True
    elif is_number(value):
        if not _in_range(value):  # type: ignore[arg-type]
            if not _finite(value):  # type: ignore[arg-type]
                raise InvalidReading(f"{label}: val must be a finite number")
            raise InvalidReading(f"{label}: val must be within the 64-bit integer range")
        scalar = True
    elif isinstance(value, (list, tuple)):
        if not value:
            raise InvalidReading(f"{label}: d must not be empty")
        if len(value) > MAX_SERIES_LENGTH:
            raise InvalidReading(f"{label}: d has more than {MAX_SERIES_LENGTH} numbers")
        for x in value:
            kind = type(x)
            if kind is float and math.isfinite(x) and abs(x) < MAX_MAGNITUDE:
                continue
            if kind is int and INT64_MIN <= x <= INT64_MAX:
                continue
            if not is_number(x) or not _in_range(x):
                raise InvalidReading(
                    f"{label}: d must hold finite numbers within the 64-bit integer range only"
                )
        scalar = False
    else:
        raise InvalidReading(f"{label}: a value must be a number or an array of numbers")
    info = shape_of(label)
    if info is None:
        return
    if (info.shape is _SCALAR) != scalar:
        if scalar:
            raise InvalidReading(f"{label} carries an array in d, not a number in val")
        raise InvalidReading(f"{label} carries one number in val, not an array in d")
    if info.length is not None and len(value) != info.length:  # type: ignore[arg-type]
        raise InvalidReading(f"{label} carries exactly {info.length} numbers in d")


def validate_reading(label: str, reading: Mapping[str, Any]) -> datetime | None:
    """Check a wire reading; returns its timestamp, or None when it has none (the broker stamps it).

    Raises InvalidReading with a reason that names the rule broken (the broker drops the reading
    and the producer stays connected).
    """
    has_val = "val" in reading
    has_d = "d" in reading
    if has_val and has_d:
        raise InvalidReading(f"{label}: a reading has val or d, never both")
    if not has_val and not has_d:
        raise InvalidReading(f"{label}: a reading needs val or d")
    check_value(label, reading["val"] if has_val else reading["d"])
    check_structure(label, reading, "val" if has_val else "d")
    ts = reading.get("ts")
    return None if ts is None else parse_timestamp(ts)


def wire_reading(ts: datetime, value: float | tuple[float, ...]) -> dict[str, Any]:
    """The wire ``d`` object for a timestamp and a value."""
    if is_number(value):
        return {"ts": format_timestamp(ts), "val": value}
    return {"ts": format_timestamp(ts), "d": list(value)}  # type: ignore[arg-type]
