"""What a consumer saw: deliveries in the window, latencies, and per-producer order for losses."""

from __future__ import annotations

from array import array
from typing import Any

import attrs

from .reading import read_frame


@attrs.define
class Window:
    """The measurement window, in wall-clock seconds (time.time(), shared by every process)."""

    start: float
    end: float


class Recorder:
    """Fed every message a consumer receives; cheap per message (it runs in the load generator)."""

    def __init__(self) -> None:
        self.window: Window | None = None
        self.latencies = array("d")  # seconds, for readings sent inside the window
        self.in_window = 0  # deliveries received inside the window
        self.received = 0
        self.out_of_order = 0  # duplicates and reorderings, per producer
        self._last: dict[int, int] = {}

    def record(self, message: bytes | str, now: float) -> None:
        frame = read_frame(message)
        if frame is None:
            return
        producer, counter, sent = frame
        self.received += 1
        if counter <= self._last.get(producer, -1):
            self.out_of_order += 1
        else:
            self._last[producer] = counter
        window = self.window
        if window is not None:
            if window.start <= now < window.end:
                self.in_window += 1
            if window.start <= sent < window.end:
                self.latencies.append(now - sent)

    @property
    def distinct(self) -> int:
        return self.received - self.out_of_order

    def result(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "distinct": self.distinct,
            "out_of_order": self.out_of_order,
            "in_window": self.in_window,
            "latencies": self.latencies.tobytes(),
        }
