"""The streaming data types of the protocol, their units and the shape of their values.

A label ``t`` on the wire is any short string of letters, digits and underscores. Labels the
domain knows (also behind an exercise prefix such as ``RUNNING_HEART_RATE``) get their shape
checked; unknown labels are forwarded untouched, so that new device types never need a broker
upgrade (the compatibility rule of the protocol).

Whether a known type is one of Terra's or an extension of ours is a fact of this table
(``terra``): extension types (BATTERY, OXYGEN_SATURATION, also behind an exercise prefix) reach
only consumers that opt in, so a plain Terra client sees exactly Terra's types plus whatever labels
its own producers send (unknown labels are a producer's, not ours: they pass, by the compatibility
rule). See docs/protocol.md.
"""

from __future__ import annotations

import enum
import functools
import re

import attrs

MAX_LABEL_LENGTH = 64
_LABEL = re.compile(r"[A-Za-z0-9_]{1,%d}" % MAX_LABEL_LENGTH)


class Shape(enum.Enum):
    """How a reading carries its value."""

    SCALAR = "val"  # one number in ``val``
    VECTOR = "vector"  # a fixed-length number array in ``d`` (x/y/z, lat/lon)
    SERIES = "series"  # a non-empty number array of any length in ``d`` (a waveform chunk)

    @property
    def field(self) -> str:
        return "val" if self is Shape.SCALAR else "d"


@attrs.frozen
class DataTypeInfo:
    unit: str
    shape: Shape
    length: int | None = None  # for VECTOR: the number of components
    accumulated: bool = False  # a running total (steps, distance): never decreases in a session
    terra: bool = True  # on Terra's list; False: an extension type of ours


class DataType(enum.Enum):
    """Every data type the domain knows. ``DataType.HEART_RATE.value`` is the wire label."""

    HEART_RATE = "HEART_RATE"
    RR_INTERVAL = "RR_INTERVAL"
    HRV = "HRV"
    ECG = "ECG"
    STEPS = "STEPS"
    STEPS_CADENCE = "STEPS_CADENCE"
    DISTANCE = "DISTANCE"
    SPEED = "SPEED"
    FLOORS_CLIMBED = "FLOORS_CLIMBED"
    ACTIVITY = "ACTIVITY"
    POWER = "POWER"
    BIKE_CADENCE = "BIKE_CADENCE"
    ACCELERATION = "ACCELERATION"
    GYROSCOPE = "GYROSCOPE"
    CALORIES = "CALORIES"
    MET = "MET"
    LOCATION = "LOCATION"
    CORE_TEMPERATURE = "CORE_TEMPERATURE"
    SKIN_TEMPERATURE = "SKIN_TEMPERATURE"
    OXYGEN_SATURATION = "OXYGEN_SATURATION"
    BATTERY = "BATTERY"

    @property
    def info(self) -> DataTypeInfo:
        return _INFO[self]

    @property
    def unit(self) -> str:
        return _INFO[self].unit

    @property
    def shape(self) -> Shape:
        return _INFO[self].shape


_INFO: dict[DataType, DataTypeInfo] = {
    DataType.HEART_RATE: DataTypeInfo("bpm", Shape.SCALAR),
    DataType.RR_INTERVAL: DataTypeInfo("ms", Shape.SCALAR),
    DataType.HRV: DataTypeInfo("ms", Shape.SCALAR),
    DataType.ECG: DataTypeInfo("mV", Shape.SERIES),
    DataType.STEPS: DataTypeInfo("steps", Shape.SCALAR, accumulated=True),
    DataType.STEPS_CADENCE: DataTypeInfo("steps/s", Shape.SCALAR),
    DataType.DISTANCE: DataTypeInfo("m", Shape.SCALAR, accumulated=True),
    DataType.SPEED: DataTypeInfo("m/s", Shape.SCALAR),
    DataType.FLOORS_CLIMBED: DataTypeInfo("floors", Shape.SCALAR, accumulated=True),
    DataType.ACTIVITY: DataTypeInfo("state", Shape.SCALAR),
    DataType.POWER: DataTypeInfo("W", Shape.SCALAR),
    DataType.BIKE_CADENCE: DataTypeInfo("rpm", Shape.SCALAR),
    DataType.ACCELERATION: DataTypeInfo("m/s²", Shape.VECTOR, length=3),
    DataType.GYROSCOPE: DataTypeInfo("rad/s", Shape.VECTOR, length=3),
    DataType.CALORIES: DataTypeInfo("kcal", Shape.SCALAR, accumulated=True),
    DataType.MET: DataTypeInfo("MET", Shape.SCALAR),
    DataType.LOCATION: DataTypeInfo("degrees", Shape.VECTOR, length=2),
    DataType.CORE_TEMPERATURE: DataTypeInfo("°C", Shape.SCALAR),
    DataType.SKIN_TEMPERATURE: DataTypeInfo("°C", Shape.SCALAR),
    # Not in Terra's table; ours, for pulse oximeters (PLX) and device batteries.
    DataType.OXYGEN_SATURATION: DataTypeInfo("%", Shape.SCALAR, terra=False),
    DataType.BATTERY: DataTypeInfo("%", Shape.SCALAR, terra=False),
}

# Longest names first, so that ``X_STEPS_CADENCE`` resolves to STEPS_CADENCE, not STEPS.
_BY_SUFFIX = sorted(DataType, key=lambda dt: len(dt.value), reverse=True)
_BY_NAME = {dt.value: dt for dt in DataType}


def is_label(label: object) -> bool:
    """Whether ``label`` is acceptable as a wire ``t``: letters, digits, underscores, bounded."""
    return isinstance(label, str) and len(label) <= MAX_LABEL_LENGTH and _label_ok(label)


@functools.lru_cache(maxsize=4096)
def _label_ok(label: str) -> bool:
    """Cached (every SUBMIT asks, mostly about a few labels); only for strings no longer than a
    label, so the cache holds at most 4096 × 64 characters whatever producers send."""
    return _LABEL.fullmatch(label) is not None


def resolve(label: str) -> DataType | None:
    """The known data type behind a label, also behind an exercise prefix; None when unknown.

    Matching ignores case, so ``heart_rate`` is checked like ``HEART_RATE``; the label itself is
    always forwarded exactly as it was sent.
    """
    upper = label.upper()
    known = _BY_NAME.get(upper)
    if known is not None:
        return known
    for dt in _BY_SUFFIX:
        name = dt.value
        if len(upper) > len(name) + 1 and upper.endswith(name) and upper[-len(name) - 1] == "_":
            return dt
    return None


@functools.lru_cache(maxsize=4096)
def shape_of(label: str) -> DataTypeInfo | None:
    """What the known data type behind ``label`` carries (see resolve); None when unknown.
    Cached: every reading the broker takes asks, and its labels are checked ones (is_label)."""
    known = resolve(label)
    return None if known is None else known.info


@functools.lru_cache(maxsize=4096)
def is_extension_type(label: str) -> bool:
    """Whether ``label`` is an extension type of ours, which only consumers that opted in are
    sent (cached: the hub asks once per dispatched payload)."""
    known = resolve(label)
    return known is not None and not known.info.terra
