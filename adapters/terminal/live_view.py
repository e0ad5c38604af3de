"""The live terminal view of the demo: per user the heart rate, pace or power, and a sparkline.

It is a consumer of payloads like any other: ``add`` takes each payload with the time it arrived,
``render`` draws the current picture as text, and ``summary`` the final figures. No terminal I/O
happens here, so it is tested like a function; the demo decides when and how to draw.
"""

from __future__ import annotations

import collections
import statistics
from datetime import datetime
from typing import Any

import attrs

from ...domain.datatypes import DataType, resolve
from ...domain.stream import Payload

SPARK = "▁▂▃▄▅▆▇█"
WINDOW_S = 60.0


@attrs.define
class UserView:
    heart_rate: float | None = None
    speed: float | None = None
    power: float | None = None
    cadence: float | None = None
    steps: float | None = None
    devices: set[str] = attrs.field(factory=set)
    payloads: int = 0
    hr_history: collections.deque[tuple[float, float]] = attrs.field(
        factory=lambda: collections.deque(maxlen=4096)
    )


def _value(d: dict[str, Any]) -> float | None:
    val = d.get("val")
    return float(val) if isinstance(val, (int, float)) else None


def _timestamp(d: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(d["ts"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def sparkline(values: list[float], width: int) -> str:
    """``values`` squeezed into ``width`` columns (mean per column), scaled to their own range."""
    if not values:
        return " " * width
    columns: list[float] = []
    for i in range(width):
        chunk = values[i * len(values) // width : (i + 1) * len(values) // width]
        if chunk:
            columns.append(sum(chunk) / len(chunk))
    low, high = min(columns), max(columns)
    span = (high - low) or 1.0
    line = "".join(SPARK[round((v - low) / span * (len(SPARK) - 1))] for v in columns)
    return line.rjust(width)


def pace(speed_mps: float) -> str:
    """Running pace as min:s per km."""
    if speed_mps < 0.3:
        return "--:--"
    seconds = 1000 / speed_mps
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


class LiveView:
    def __init__(self) -> None:
        self.users: dict[str, UserView] = {}
        self.latencies: list[float] = []
        self.payloads = 0
        self.last_seq = 0

    def add(self, payload: Payload, received_at: float, *, measure: bool = True) -> None:
        """Take one payload that arrived at ``received_at`` (UNIX seconds); ``measure=False``
        leaves it out of the latency figures (a warm-up, while clients are still connecting)."""
        self.payloads += 1
        self.last_seq = max(self.last_seq, payload.seq)
        user = self.users.setdefault(payload.uid, UserView())
        user.payloads += 1
        ts = _timestamp(payload.d)
        if ts is not None and measure:
            self.latencies.append(received_at - ts)
        value = _value(payload.d)
        known = resolve(payload.t)
        if value is None or known is None:
            return
        if known is DataType.HEART_RATE:
            user.heart_rate = value
            user.hr_history.append((ts or received_at, value))
        elif known is DataType.SPEED:
            user.speed = value
        elif known is DataType.POWER:
            user.power = value
        elif known in (DataType.BIKE_CADENCE, DataType.STEPS_CADENCE):
            user.cadence = value
        elif known is DataType.STEPS:
            user.steps = value

    def render(self, now: float, width: int = 30) -> list[str]:
        lines = []
        for uid in sorted(self.users):
            user = self.users[uid]
            recent = [v for t, v in user.hr_history if now - t <= WINDOW_S]
            hr = f"{user.heart_rate:5.0f} bpm" if user.heart_rate is not None else "    — bpm"
            if user.power is not None:
                effort = f"{user.power:5.0f} W    "
            elif user.speed is not None:
                effort = f"{pace(user.speed):>5} /km "
            else:
                effort = " " * 11
            lines.append(
                f"{uid:<10} ♥{hr}  {sparkline(recent, width)}  {effort} {user.payloads:>7} payloads"
            )
        return lines

    def latency_ms(self, q: float) -> float | None:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else None
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[min(98, max(0, round(q * 100) - 1))] * 1000

    def summary(self, elapsed: float) -> str:
        rate = self.payloads / elapsed if elapsed > 0 else 0.0
        p50, p99 = self.latency_ms(0.50), self.latency_ms(0.99)
        lat = "n/a" if p50 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        return (
            f"{self.payloads} payloads from {len(self.users)} users in {elapsed:.1f} s "
            f"({rate:.0f}/s); end-to-end latency {lat}"
        )
