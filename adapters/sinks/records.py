"""The JSON record of a payload that the jsonl, stdout (``--format jsonl``) and webhook sinks emit.

``{"seq": 7, "uid": "user-1", "t": "HEART_RATE", "d": {...}}``: the DISPATCH fields a backend
needs, with ``d`` exactly as the broker forwarded it (key order and number types kept). As on the
wire, ``"synthetic": true`` is added only for generated test data.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...domain.stream import Payload
from ...ports.sinks import UnwritablePayload


def record(payload: Payload) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "seq": payload.seq,
        "uid": payload.uid,
        "t": payload.t,
        "d": payload.d,
    }
    if payload.synthetic:
        fields["synthetic"] = True
    return fields


def json_record(payload: Payload) -> bytes:
    """The record as JSON; a ``d`` that cannot be written as JSON (too deep, an integer beyond
    64 bits) fails with UnwritablePayload naming the seq."""
    try:
        return orjson.dumps(record(payload))
    except TypeError as error:  # orjson.JSONEncodeError
        raise UnwritablePayload(payload.seq, f"d cannot be written as JSON: {error}") from None


def json_line(payload: Payload) -> bytes:
    return json_record(payload) + b"\n"
