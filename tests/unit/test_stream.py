"""Stream sequence numbers and replay ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wearstream.domain.errors import ReplayRangeError
from wearstream.domain.stream import Payload, ReplayRange, Stream, SubmitKey

seqs = st.integers(min_value=0, max_value=10**12)


@given(start=st.integers(min_value=0, max_value=10**9), n=st.integers(min_value=1, max_value=200))
def test_append_is_strictly_increasing_and_never_reuses(start: int, n: int) -> None:
    stream = Stream("dev", last_seq=start)
    numbers = [stream.append("u", "HEART_RATE", {"val": i}).seq for i in range(n)]
    assert all(a < b for a, b in zip(numbers, numbers[1:]))
    assert numbers[0] > start
    assert len(set(numbers)) == n
    assert stream.last_seq == numbers[-1]


def test_append_builds_the_payload() -> None:
    stream = Stream("dev-1")
    key = SubmitKey("outbox-a", 7)
    p = stream.append("user-9", "RUNNING_HEART_RATE", {"ts": "x", "val": 1}, synthetic=True, key=key)
    assert p == Payload("dev-1", 1, "user-9", "RUNNING_HEART_RATE", {"ts": "x", "val": 1}, True, key)
    assert stream.append("user-9", "STEPS", {"val": 2}).synthetic is False


def test_streams_of_different_developers_are_independent() -> None:
    a, b = Stream("a"), Stream("b")
    a.append("u", "X", {"val": 1})
    a.append("u", "X", {"val": 1})
    assert b.append("u", "X", {"val": 1}).seq == 1


def test_the_protocol_example() -> None:
    r = ReplayRange(28, 43)
    assert (r.first, r.last) == (29, 42)
    assert [s for s in range(100) if s in r] == list(range(29, 43))
    assert not r.empty


@given(after=seqs, before=seqs, seq=seqs)
def test_bounds_are_exclusive(after: int, before: int, seq: int) -> None:
    r = ReplayRange(after, before)
    assert (seq in r) is (after < seq < before)
    assert after not in r and before not in r
    assert r.empty is (not any(s in r for s in range(after, max(after, before) + 1)))
    if not r.empty:
        assert r.first in r and r.last in r


@given(after=seqs, before=seqs, last_seq=seqs, seq=seqs)
def test_clamp_never_reaches_beyond_what_exists(after: int, before: int, last_seq: int, seq: int) -> None:
    r = ReplayRange(after, before)
    c = r.clamp(last_seq)
    assert c.after == r.after
    assert (seq in c) is (seq in r and seq <= last_seq)


@given(after=seqs, before=seqs)
def test_from_wire_takes_good_bounds(after: int, before: int) -> None:
    assert ReplayRange.from_wire({"after": after, "before": before}) == ReplayRange(after, before)


@pytest.mark.parametrize(
    "d, fragment",
    [
        (None, "after and before"),
        ([28, 43], "after and before"),
        ("28..43", "after and before"),
        ({"after": 28}, "before"),
        ({"before": 43}, "after"),
        ({}, "after"),
        ({"after": 28, "before": None}, "before"),
        ({"after": "x28", "before": 43}, "after must be an integer"),
        ({"after": 28, "before": 43.5}, "before must be an integer"),
        ({"after": 28, "before": "43.5"}, "before must be an integer"),
        ({"after": True, "before": 43}, "after must be an integer"),
        ({"after": 28, "before": False}, "before must be an integer"),
        ({"after": -1, "before": 43}, "between 0 and"),
        ({"after": 1, "before": -43}, "between 0 and"),
        ({"after": 1, "before": 2**63}, "between 0 and"),
    ],
)
def test_from_wire_rejects_bad_bounds(d: object, fragment: str) -> None:
    with pytest.raises(ReplayRangeError, match=fragment) as info:
        ReplayRange.from_wire(d)
    assert "nothing" in info.value.reason


@pytest.mark.parametrize("before", [43, 43.0, "43", "43.0", " 43"])
def test_from_wire_reads_integral_floats_and_numeric_strings(before: object) -> None:
    assert ReplayRange.from_wire({"after": "28", "before": before}) == ReplayRange(28, 43)


@given(after=st.integers(min_value=1, max_value=500), gap=st.integers(min_value=0, max_value=500))
def test_a_reversed_range_covers_nothing(after: int, gap: int) -> None:
    r = ReplayRange.from_wire({"after": after + gap, "before": after})
    assert r.empty
    assert not any(s in r for s in range(0, after + gap + 2))
