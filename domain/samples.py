"""Samples: one reading of one data type from one device of one user."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs

from .datatypes import is_label
from .errors import InvalidReading
from .readings import check_value, wire_reading

Value = float | tuple[float, ...]


def _aware_utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise InvalidReading("a sample timestamp must be timezone-aware")
    return ts.astimezone(timezone.utc)


def _freeze_value(value: Any) -> Value:
    if isinstance(value, list):
        return tuple(value)
    return value


@attrs.frozen
class Sample:
    """A validated reading: ``t`` is the wire label, ``value`` a number or a tuple of numbers.

    Timestamps are stored in UTC; creating a sample with a naive timestamp, a label that is not a
    label, or a value of the wrong shape for a known type raises InvalidReading.
    """

    t: str
    ts: datetime = attrs.field(converter=_aware_utc)
    value: Value = attrs.field(converter=_freeze_value)
    user_id: str = ""
    device_id: str = ""

    def __attrs_post_init__(self) -> None:
        if not is_label(self.t):
            raise InvalidReading(f"{self.t!r} is not a data type label")
        check_value(self.t, self.value)

    def to_wire(self) -> dict[str, Any]:
        """The ``d`` object of a SUBMIT frame."""
        return wire_reading(self.ts, self.value)
