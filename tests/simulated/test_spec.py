"""Parsing ``sim:`` specs: defaults, parameters, and errors that say what would have been valid."""

from __future__ import annotations

import pytest

from wearstream.adapters.simulated.spec import SimSpec, parse_spec
from wearstream.domain.errors import SpecError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hr-strap", SimSpec("hr-strap", 1.0, 0)),
        ("footpod?rate=50", SimSpec("footpod", 50.0, 0)),
        ("bike?seed=7&rate=0.5", SimSpec("bike", 0.5, 7)),
        ("watch?seed=-3", SimSpec("watch", 1.0, -3)),
    ],
)
def test_valid_specs(text: str, expected: SimSpec) -> None:
    assert parse_spec(text) == expected


def test_the_device_id_is_stable_for_a_kind_and_seed() -> None:
    assert parse_spec("hr-strap?seed=4&rate=9").device_id == "sim-hr-strap-4"
    assert parse_spec("hr-strap?seed=4").device_id == parse_spec("hr-strap?rate=2&seed=4").device_id


@pytest.mark.parametrize("text", ["", "treadmill", "HR-STRAP", "hr-strap:x", "?rate=1"])
def test_an_unknown_kind_lists_the_valid_ones(text: str) -> None:
    with pytest.raises(SpecError, match="hr-strap, footpod, bike, watch") as error:
        parse_spec(text)
    assert "rate=HZ" in str(error.value) and "seed=N" in str(error.value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hr-strap?rate=0", "rate '0'"),
        ("hr-strap?rate=-1", "rate '-1'"),
        ("hr-strap?rate=nan", "rate 'nan'"),
        ("hr-strap?rate=inf", "rate 'inf'"),
        ("hr-strap?rate=fast", "rate 'fast'"),
        ("hr-strap?rate=5000", "rate '5000'"),
        ("hr-strap?seed=1.5", "seed '1.5'"),
        ("hr-strap?colour=red", "bad sim parameter 'colour=red'.*rate=HZ"),
        ("hr-strap?rate", "bad sim parameter 'rate'"),
        ("hr-strap?", None),
        ("hr-strap?seed=1&seed=2", "'seed' given twice"),
        ("hr-strap?rate=1&&seed=2", "bad sim parameter ''"),
    ],
)
def test_bad_parameters_are_named(text: str, reason: str | None) -> None:
    if reason is None:  # an empty query is just no parameters
        assert parse_spec(text) == SimSpec("hr-strap")
        return
    with pytest.raises(SpecError, match=reason):
        parse_spec(text)
