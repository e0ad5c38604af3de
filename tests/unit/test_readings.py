"""Readings: any finite number / array of the right shape, within what every store holds, is
accepted; everything else is rejected with InvalidReading naming the rule broken (the broker drops
that SUBMIT and keeps the producer)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.closecodes import CloseCode
from wearstream.domain.datatypes import DataType, Shape
from wearstream.domain.errors import InvalidReading
from wearstream.domain.readings import (
    MAX_DEPTH,
    MAX_KEYS,
    MAX_SERIES_LENGTH,
    check_value,
    format_timestamp,
    is_number,
    parse_timestamp,
    validate_reading,
    wire_reading,
)

TS = "2022-05-04T10:26:11.268507+01:00"

finite = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-(2.0**63), max_value=2.0**63,
              exclude_min=True, exclude_max=True),
)
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])
not_numbers = st.one_of(
    st.booleans(), st.text(max_size=5), st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
scalar_types = [dt for dt in DataType if dt.shape is Shape.SCALAR]
vector_types = [dt for dt in DataType if dt.shape is Shape.VECTOR]
prefix = st.sampled_from(["", "RUNNING_", "CYCLING_", "running_"])


def vector_for(dt: DataType) -> st.SearchStrategy[list]:
    n = dt.info.length
    return st.lists(finite, min_size=n, max_size=n)


@given(dt=st.sampled_from(scalar_types), pre=prefix, val=finite)
def test_any_finite_number_is_a_good_scalar(dt: DataType, pre: str, val: float) -> None:
    assert validate_reading(pre + dt.value, {"ts": TS, "val": val}) == parse_timestamp(TS)


@given(data=st.data(), pre=prefix)
def test_any_finite_vector_of_the_right_length_is_good(data: st.DataObject, pre: str) -> None:
    dt = data.draw(st.sampled_from(vector_types))
    d = data.draw(vector_for(dt))
    validate_reading(pre + dt.value, {"ts": TS, "d": d})


@given(d=st.lists(finite, min_size=1, max_size=MAX_SERIES_LENGTH))
def test_any_non_empty_finite_series_is_a_good_ecg(d: list) -> None:
    validate_reading("ECG", {"ts": TS, "d": d})


@given(
    label=st.sampled_from(["FOO", "BLOOD_GLUCOSE", "X_Y"]),
    value=st.one_of(finite, st.lists(finite, min_size=1, max_size=10)),
)
def test_unknown_labels_take_any_finite_value(label: str, value: object) -> None:
    field = "d" if isinstance(value, list) else "val"
    validate_reading(label, {"ts": TS, field: value})


@given(dt=st.sampled_from(scalar_types), bad=non_finite)
def test_non_finite_scalars_are_rejected(dt: DataType, bad: float) -> None:
    with pytest.raises(InvalidReading, match="finite"):
        validate_reading(dt.value, {"ts": TS, "val": bad})


@given(data=st.data())
def test_a_non_finite_component_is_rejected(data: st.DataObject) -> None:
    label = data.draw(st.sampled_from(["ECG", "ACCELERATION", "LOCATION", "UNKNOWN_THING"]))
    good = data.draw(st.lists(finite, min_size=3, max_size=3))
    i = data.draw(st.integers(0, 2))
    good[i] = data.draw(non_finite)
    with pytest.raises(InvalidReading, match="finite"):
        check_value(label, good)


@given(label=st.sampled_from(["HEART_RATE", "ECG", "FOO"]), bad=not_numbers)
def test_bools_strings_and_others_are_not_values(label: str, bad: object) -> None:
    with pytest.raises(InvalidReading):
        validate_reading(label, {"ts": TS, "val": bad})
    with pytest.raises(InvalidReading):
        validate_reading(label, {"ts": TS, "d": [1.0, bad, 2.0]})


@pytest.mark.parametrize("label", ["HEART_RATE", "ECG", "ACCELERATION", "FOO"])
def test_val_and_d_together_are_rejected(label: str) -> None:
    with pytest.raises(InvalidReading, match="never both"):
        validate_reading(label, {"ts": TS, "val": 1, "d": [1, 2, 3]})


@pytest.mark.parametrize("label", ["HEART_RATE", "FOO"])
def test_neither_val_nor_d_is_rejected(label: str) -> None:
    with pytest.raises(InvalidReading, match="val or d"):
        validate_reading(label, {"ts": TS})


@given(dt=st.sampled_from(scalar_types), d=st.lists(finite, min_size=1, max_size=4))
def test_a_scalar_type_rejects_an_array(dt: DataType, d: list) -> None:
    with pytest.raises(InvalidReading, match="val"):
        validate_reading("RUNNING_" + dt.value, {"ts": TS, "d": d})


@given(dt=st.sampled_from(vector_types + [DataType.ECG]), val=finite)
def test_an_array_type_rejects_a_number(dt: DataType, val: float) -> None:
    with pytest.raises(InvalidReading, match="array"):
        validate_reading(dt.value, {"ts": TS, "val": val})


@given(data=st.data())
def test_a_vector_of_the_wrong_length_is_rejected(data: st.DataObject) -> None:
    dt = data.draw(st.sampled_from(vector_types))
    n = data.draw(st.integers(1, 8).filter(lambda k: k != dt.info.length))
    with pytest.raises(InvalidReading, match=str(dt.info.length)):
        check_value(dt.value, data.draw(st.lists(finite, min_size=n, max_size=n)))


def test_empty_and_oversized_arrays_are_rejected() -> None:
    with pytest.raises(InvalidReading, match="empty"):
        check_value("ECG", [])
    with pytest.raises(InvalidReading, match=str(MAX_SERIES_LENGTH)):
        check_value("ECG", [0.0] * (MAX_SERIES_LENGTH + 1))


def test_invalid_reading_closes_with_1003() -> None:
    assert InvalidReading("x").code is CloseCode.MALFORMED_FRAME


def test_a_huge_integer_is_accepted_or_rejected_as_a_domain_error() -> None:
    try:
        check_value("HEART_RATE", 10**400)
    except InvalidReading:
        pass


def nested(depth: int) -> dict:
    """A reading whose extra key makes it ``depth`` levels deep (the reading itself is 1)."""
    inner: object = 1
    for _ in range(depth - 1):
        inner = {"x": inner}
    return {"ts": TS, "val": 1, "extra": inner} if depth > 1 else {"ts": TS, "val": 1}


def test_nesting_is_bounded() -> None:
    validate_reading("HEART_RATE", nested(MAX_DEPTH))
    for depth in (MAX_DEPTH + 1, 254, 2000):
        with pytest.raises(InvalidReading, match="nests at most"):
            validate_reading("HEART_RATE", nested(depth))


def test_keys_are_bounded_in_number_and_length() -> None:
    validate_reading("X", {"val": 1, **{f"k{i}": i for i in range(MAX_KEYS - 1)}})
    with pytest.raises(InvalidReading, match="keys"):
        validate_reading("X", {"val": 1, **{f"k{i}": i for i in range(MAX_KEYS)}})
    with pytest.raises(InvalidReading, match="keys"):
        validate_reading("X", {"val": 1, "k" * 65: 1})


@pytest.mark.parametrize(
    "extra", [2**63, -(2**63) - 1, 10**30, 1.8446744073709552e19, [1, [2, 2**64]]]
)
def test_numbers_beyond_64_bits_are_rejected_anywhere(extra: object) -> None:
    with pytest.raises(InvalidReading, match="64-bit"):
        validate_reading("HEART_RATE", {"ts": TS, "val": 1, "extra": extra})
    with pytest.raises(InvalidReading, match="64-bit"):
        validate_reading("SPEED", {"ts": TS, "val": extra if not isinstance(extra, list) else 2**64})


def test_is_number_excludes_bools() -> None:
    assert is_number(1) and is_number(1.5) and is_number(-0.0)
    assert not is_number(True) and not is_number(False) and not is_number("1")


def test_missing_or_null_ts_means_the_broker_stamps_it() -> None:
    assert validate_reading("HEART_RATE", {"val": 60}) is None
    assert validate_reading("HEART_RATE", {"val": 60, "ts": None}) is None


@pytest.mark.parametrize(
    "ts",
    [
        "2022-05-04T10:26:11", "yesterday", 1651656371, "2022-13-04T10:26:11+00:00", "", "x" * 65,
        "0001-01-01T00:00:00+23:59",  # year 0 in UTC: converting it overflows
        "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
        "1969-12-31T23:59:59Z",  # before the Unix epoch
        "2022-05-04T10:26:11+01:00:30",  # an offset with seconds is no ISO-8601 offset
    ],
)
def test_bad_timestamps_are_rejected(ts: object) -> None:
    with pytest.raises(InvalidReading, match="ts"):
        validate_reading("HEART_RATE", {"ts": ts, "val": 60})


@pytest.mark.parametrize("ts", [TS, "2022-05-04T09:26:11.268507Z", "2022-05-04T09:26:11+00:00"])
def test_good_timestamps_are_aware(ts: str) -> None:
    parsed = parse_timestamp(ts)
    assert parsed.tzinfo is not None


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1),
                 timezones=st.just(timezone.utc)),
    st.integers(-14 * 60, 14 * 60),
)
def test_timestamps_round_trip_through_the_wire_form(ts: datetime, offset_min: int) -> None:
    local = ts.astimezone(timezone(timedelta(minutes=offset_min)))
    text = format_timestamp(local)
    assert text.endswith("Z") and len(text) == 27
    assert datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ") == ts.replace(tzinfo=None)
    assert parse_timestamp(text) == ts


@given(val=finite)
def test_wire_reading_of_a_number_has_val(val: float) -> None:
    ts = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert wire_reading(ts, val) == {"ts": "2024-01-02T03:04:05.000006Z", "val": val}


def test_wire_reading_of_a_tuple_has_d_as_a_list() -> None:
    ts = datetime(2024, 1, 2, tzinfo=timezone.utc)
    assert wire_reading(ts, (1.0, 2.0, 3.0))["d"] == [1.0, 2.0, 3.0]
