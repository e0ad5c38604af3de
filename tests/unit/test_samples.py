"""Sample: validated on creation, stored in UTC."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.errors import InvalidReading
from wearstream.domain.readings import validate_reading
from wearstream.domain.samples import Sample

CET = timezone(timedelta(hours=1))


def test_a_sample_stores_utc_and_freezes_lists() -> None:
    s = Sample("ACCELERATION", datetime(2024, 1, 1, 13, tzinfo=CET), [0.1, 0.2, 9.8], "u1", "dev")
    assert s.ts == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    assert s.ts.utcoffset() == timedelta(0)
    assert s.value == (0.1, 0.2, 9.8)
    hash(s)  # frozen and hashable


def test_a_naive_timestamp_is_rejected() -> None:
    with pytest.raises(InvalidReading, match="timezone"):
        Sample("HEART_RATE", datetime(2024, 1, 1), 60.0)


@pytest.mark.parametrize("label", ["", "HEART RATE", "A" * 65, "HR-1"])
def test_a_bad_label_is_rejected(label: str) -> None:
    with pytest.raises(InvalidReading, match="label"):
        Sample(label, datetime(2024, 1, 1, tzinfo=timezone.utc), 60.0)


@pytest.mark.parametrize(
    "label, value",
    [("HEART_RATE", [60.0]), ("ACCELERATION", 1.0), ("LOCATION", (1.0, 2.0, 3.0)),
     ("HEART_RATE", float("nan")), ("HEART_RATE", True)],
)
def test_a_wrong_value_is_rejected(label: str, value: object) -> None:
    with pytest.raises(InvalidReading):
        Sample(label, datetime(2024, 1, 1, tzinfo=timezone.utc), value)  # type: ignore[arg-type]


@given(
    val=st.floats(min_value=-1e18, max_value=1e18),
    ts=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1),
                    timezones=st.just(timezone.utc)),
)
def test_to_wire_is_a_valid_reading_of_the_same_sample(val: float, ts: datetime) -> None:
    s = Sample("RUNNING_HEART_RATE", ts, val)
    wire = s.to_wire()
    assert validate_reading(s.t, wire) == ts
    assert wire["val"] == val
