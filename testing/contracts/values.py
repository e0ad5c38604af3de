"""Values the contract suites build and compare: payloads, JSON objects, exact equality."""

from __future__ import annotations

from typing import Any, Sequence

import orjson
from hypothesis import strategies as st

from ...domain.stream import Payload, SubmitKey

INT64_MIN, UINT64_MAX = -(2**63), 2**64 - 1

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, UINT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)
"""The ``d`` of a payload: any JSON object the wire codec (orjson) can carry."""


def payload(
    developer_id: str,
    seq: int,
    *,
    uid: str = "user-1",
    d: dict[str, Any] | None = None,
    synthetic: bool = False,
    key: SubmitKey | None = None,
) -> Payload:
    """A heart-rate payload, with a ``d`` whose key order is not sorted (order must survive)."""
    if d is None:
        d = {"val": 60 + seq % 100, "type": "HR", "device": {"name": "Polar H10", "id": "a1"}}
    return Payload(developer_id, seq, uid, f"2025-01-01T00:00:{seq % 60:02d}.000Z", d, synthetic, key)


def assert_same_payloads(got: Sequence[Payload], want: Sequence[Payload]) -> None:
    """Equal payloads, and each ``d`` the same JSON text: key order and 1 vs 1.0 vs true kept."""
    assert list(got) == list(want)
    for g, w in zip(got, want):
        assert type(g.synthetic) is bool
        assert orjson.dumps(g.d) == orjson.dumps(w.d), f"seq {w.seq}: d differs in order or type"
