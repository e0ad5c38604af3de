"""Recordings for the replay tests, written by the real ``jsonl`` sink, and a clock that follows
trio's (virtual) clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import trio

from wearstream.adapters.sinks.jsonl import JsonlSink
from wearstream.domain.readings import format_timestamp
from wearstream.domain.stream import Payload
from wearstream.ports.sinks import SinkOptions

T0 = datetime(2024, 3, 9, 7, 30, tzinfo=timezone.utc)
EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc)

# (seconds after T0, uid, t, value): a strap, an RR interval and an accelerometer, two users.
READINGS: list[tuple[float, str, str, Any]] = [
    (0.0, "ann", "HEART_RATE", 61),
    (0.5, "ann", "RR_INTERVAL", 980.5),
    (1.0, "ann", "HEART_RATE", 62),
    (1.0, "ben", "HEART_RATE", 90),
    (2.5, "ann", "ACCELERATION", [0.1, -9.8, 0.3]),
    (4.0, "ann", "HEART_RATE", 64),
]


def payload(seq: int, at: float, uid: str, t: str, value: Any) -> Payload:
    field = "d" if isinstance(value, list) else "val"
    d = {"ts": format_timestamp(T0 + timedelta(seconds=at)), field: value}
    return Payload("dev_1", seq, uid, t, d)


async def record(path: Path, readings: list[tuple[float, str, str, Any]] = READINGS) -> Path:
    """Write ``readings`` to ``path`` with the jsonl sink, as a consumer would have recorded them."""
    sink = JsonlSink(str(path), SinkOptions())
    await sink.open()
    payloads = [payload(seq, *r) for seq, r in enumerate(readings, start=1)]
    await sink.write(payloads, len(payloads))
    await sink.aclose()
    return path


class TrioClock:
    """Wall time that follows trio's clock, so retimed samples can be checked exactly."""

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=trio.current_time())
