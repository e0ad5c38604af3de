"""How wearstream's data types and LSL streams describe each other.

Out (the sink): one LSL stream per (user, data type), named ``<prefix> <user> <type>``, its LSL
type the data type label (``HEART_RATE``, ``ECG``, …), ``double64`` channels, and XML metadata
LabRecorder stores in the XDF file: ``desc/channels/channel`` (label, unit, type) for each
channel, ``desc/acquisition`` (manufacturer wearstream) and ``desc/wearstream`` (developer, user,
data type). The nominal rate is the type's where it has a fixed one (ECG: 130 Hz, a Polar H10's),
else irregular (0): a heart rate comes when the strap sends it.

In (the transport): an LSL stream's type (or its single channel's type) is matched to a data type
by name, ignoring case and a few common spellings (``ACC``/``Accelerometer`` → ACCELERATION,
``HR`` → HEART_RATE, ``GYRO`` → GYROSCOPE); the channel count must fit the type's shape. A stream
that fits no data type is streamed as the extension type ``LSL_<TYPE>`` (letters, digits and ``_``
of its LSL type, upper case), one reading per sample with its channels as ``d``.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ...domain.datatypes import DataType, Shape, resolve
from ...domain.errors import SpecError

NOMINAL_RATE = {DataType.ECG: 130.0}
_ALIASES = {
    "ACC": DataType.ACCELERATION,
    "ACCEL": DataType.ACCELERATION,
    "ACCELEROMETER": DataType.ACCELERATION,
    "GYRO": DataType.GYROSCOPE,
    "HR": DataType.HEART_RATE,
    "HEARTRATE": DataType.HEART_RATE,
    "RR": DataType.RR_INTERVAL,
    "IBI": DataType.RR_INTERVAL,
    "GPS": DataType.LOCATION,
}
_NOT_LABEL = re.compile(r"[^A-Z0-9_]+")
MAX_LABEL = 64


def quote_free(what: str, text: str, limit: int = 200) -> str:
    """``text`` for a stream name or an XPath predicate of liblsl's (quoted with ``'``)."""
    if not text or "'" in text or len(text) > limit:
        raise SpecError(f"{what} {text!r} must be 1-{limit} characters without quotes")
    return text


def records_info(library: Any, prefix: str) -> Any:
    """The StreamInfo of the ``<prefix> records`` marker stream (one JSON record per reading)."""
    info = library.StreamInfo(f"{prefix} records", "Markers", 1, 0.0, "string", f"{prefix}/records")
    info.desc().append_child("acquisition").append_child_value("manufacturer", "wearstream")
    return info


def outlet_info(library: Any, prefix: str, developer: str, uid: str, t: str, channels: int, rate: float) -> Any:
    """The StreamInfo of the outlet for one user's data type (``rate`` 0: irregular)."""
    known = resolve(t)
    name = f"{prefix} {uid} {t}"
    info = library.StreamInfo(name, t, channels, rate, "double64", f"{prefix}/{developer}/{uid}/{t}")
    desc = info.desc()
    chans = desc.append_child("channels")
    for label in channel_labels(known, t, channels):
        channel = chans.append_child("channel")
        channel.append_child_value("label", label)
        channel.append_child_value("unit", known.unit if known else "")
        channel.append_child_value("type", t)
    desc.append_child("acquisition").append_child_value("manufacturer", "wearstream")
    about = desc.append_child("wearstream")
    about.append_child_value("developer", developer)
    about.append_child_value("user", uid)
    about.append_child_value("data_type", t)
    return info


def channel_labels(known: DataType | None, t: str, channels: int) -> list[str]:
    if known in (DataType.ACCELERATION, DataType.GYROSCOPE) and channels == 3:
        return ["x", "y", "z"]
    if known is DataType.LOCATION and channels == 2:
        return ["latitude", "longitude"]
    return [t] if channels == 1 else [f"{t}_{i}" for i in range(channels)]


@attrs.frozen
class InletMapping:
    """What readings one LSL stream becomes: the wire label and how samples make values."""

    t: str
    shape: Shape  # SCALAR: one reading per sample; VECTOR: channels as d; SERIES: a chunk as d


def mapping_for(lsl_type: str, channels: int, channel_types: list[str]) -> InletMapping:
    """The data type an LSL stream carries (see the module docstring)."""
    candidates = [lsl_type] + (channel_types[:1] if channels == 1 else [])
    for candidate in candidates:
        known = _known(candidate)
        if known is None:
            continue
        if known.shape is Shape.SCALAR and channels == 1:
            return InletMapping(known.value, Shape.SCALAR)
        if known.shape is Shape.VECTOR and channels == known.info.length:
            return InletMapping(known.value, Shape.VECTOR)
        if known.shape is Shape.SERIES and channels == 1:
            return InletMapping(known.value, Shape.SERIES)
    label = _NOT_LABEL.sub("_", lsl_type.upper()).strip("_") or "DATA"
    return InletMapping(f"LSL_{label}"[:MAX_LABEL], Shape.VECTOR)


def _known(name: str) -> DataType | None:
    key = name.strip().upper().replace(" ", "_")
    return _ALIASES.get(key.replace("_", "")) or _ALIASES.get(key) or (resolve(key) if key else None)
