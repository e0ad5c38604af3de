"""DataType, labels and label resolution (the compatibility rule of the protocol)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.datatypes import (
    MAX_LABEL_LENGTH,
    DataType,
    Shape,
    is_label,
    resolve,
)

LABEL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
labels = st.text(alphabet=LABEL_CHARS, min_size=1, max_size=MAX_LABEL_LENGTH)
prefixes = st.text(alphabet=LABEL_CHARS, min_size=1, max_size=20)

# The protocol's table: type -> the field that carries the value.
PROTOCOL_TABLE = {
    "HEART_RATE": "val", "RR_INTERVAL": "val", "HRV": "val", "ECG": "d", "STEPS": "val",
    "STEPS_CADENCE": "val", "DISTANCE": "val", "SPEED": "val", "FLOORS_CLIMBED": "val",
    "ACTIVITY": "val", "POWER": "val", "BIKE_CADENCE": "val", "ACCELERATION": "d",
    "GYROSCOPE": "d", "CALORIES": "val", "MET": "val", "LOCATION": "d",
    "CORE_TEMPERATURE": "val", "SKIN_TEMPERATURE": "val",
}


@pytest.mark.parametrize("label, field", sorted(PROTOCOL_TABLE.items()))
def test_every_protocol_type_is_known_with_its_field(label: str, field: str) -> None:
    dt = DataType(label)
    assert dt.value == label
    assert dt.shape.field == field
    assert dt.unit


@pytest.mark.parametrize("label, length", [("ACCELERATION", 3), ("GYROSCOPE", 3), ("LOCATION", 2)])
def test_vectors_have_a_fixed_length(label: str, length: int) -> None:
    assert DataType(label).shape is Shape.VECTOR
    assert DataType(label).info.length == length


def test_ecg_is_a_series_of_any_length() -> None:
    assert DataType.ECG.shape is Shape.SERIES
    assert DataType.ECG.info.length is None


@pytest.mark.parametrize("dt", list(DataType))
def test_every_type_resolves_to_itself(dt: DataType) -> None:
    assert resolve(dt.value) is dt
    assert is_label(dt.value)


@pytest.mark.parametrize(
    "label, expected",
    [
        ("RUNNING_HEART_RATE", DataType.HEART_RATE),
        ("CYCLING_POWER", DataType.POWER),
        ("WALKING_STEPS", DataType.STEPS),
        ("X_STEPS_CADENCE", DataType.STEPS_CADENCE),  # the longest known suffix wins
        ("RUNNING_STEPS_CADENCE", DataType.STEPS_CADENCE),
        ("ROWING_BIKE_CADENCE", DataType.BIKE_CADENCE),
        ("SWIMMING_RR_INTERVAL", DataType.RR_INTERVAL),
        ("RUNNING_LOCATION", DataType.LOCATION),
        ("RUNNING_MET", DataType.MET),
        ("running_heart_rate", DataType.HEART_RATE),  # checking ignores case
        ("heart_rate", DataType.HEART_RATE),
    ],
)
def test_exercise_prefixes_resolve_to_the_known_type(label: str, expected: DataType) -> None:
    assert resolve(label) is expected


@pytest.mark.parametrize(
    "label",
    ["FOO", "HEART_RATE_VARIABILITY", "_HEART_RATE", "RUNNINGHEART_RATE", "HEARTRATE", "CADENCE",
     "TEMPERATURE", "BLOOD_GLUCOSE", "X"],
)
def test_unknown_labels_resolve_to_none(label: str) -> None:
    assert is_label(label)  # still acceptable on the wire
    assert resolve(label) is None


@given(prefix=prefixes, dt=st.sampled_from(list(DataType)))
def test_any_prefix_resolves_to_the_type_behind_it(prefix: str, dt: DataType) -> None:
    resolved = resolve(f"{prefix}_{dt.value}")
    assert resolved is not None
    # The longest matching known name wins, so the result ends the label and is at least as long.
    assert f"{prefix}_{dt.value}".upper().endswith(resolved.value)
    assert len(resolved.value) >= len(dt.value)


@given(labels)
def test_any_label_text_is_a_label(label: str) -> None:
    assert is_label(label)
    resolve(label)  # never raises


@pytest.mark.parametrize(
    "bad",
    ["", "HEART RATE", "HEART-RATE", "HEART.RATE", "é", "A" * (MAX_LABEL_LENGTH + 1), None, 1,
     b"HEART_RATE", ["HEART_RATE"], "HEART_RATE\n"],
)
def test_non_labels_are_rejected(bad: object) -> None:
    assert not is_label(bad)


@given(st.text(max_size=80))
def test_is_label_matches_the_rule(text: str) -> None:
    expected = 0 < len(text) <= MAX_LABEL_LENGTH and all(c in LABEL_CHARS for c in text)
    assert is_label(text) is expected
