"""Device clock -> UTC: per-sample times within a frame, and a slow, latency-proof clock sync.

A PMD frame carries one device timestamp, that of its last sample, in nanoseconds of the
sensor's own clock. That clock has an epoch (2000-01-01 on Polar devices) but not a trustworthy
value: an H10 that was off restarts from a firmware default (2019-01-01), and only Polar's
file-transfer protocol sets it. So wearstream never reads the device time as a date: it maps
device nanoseconds to host nanoseconds (UTC) with an offset learnt from the frames themselves.

``ClockSync``: every frame gives one observation ``host receive time - device time of its last
sample``. That difference is the true offset plus the BLE delivery latency (connection interval,
radio retries, BlueZ, the asyncio bridge), and latency is never negative, so the smallest
observations are the best ones. The observations are kept as per-bucket minima (10 s of device
time each, over the last 5 minutes); a least-squares line through those minima gives the target
offset and the drift (the crystal's ppm error, clamped to ±500 ppm). The offset in use starts at
the first observation and then only slews towards the target, by at most 500 µs per second of
device time, so that consecutive frames never overlap and one late or early frame never jerks
the timeline. A jump of more than 2 s (the device clock was reset) starts over.

``sample_times``: the samples of a frame get device times counted back from the last one: spaced
evenly since the previous frame of the same stream when that spacing is within 10 % of the
nominal rate (the device's own clock then spaces them, as the Polar SDK does), else by the
nominal 1/sample-rate (first frame, or frames lost in between).
"""

from __future__ import annotations

from collections import deque

import attrs

NS_PER_S = 1_000_000_000
BUCKET_NS = 10 * NS_PER_S
BUCKETS = 30
MAX_DRIFT = 500e-6  # 500 ppm: far above any crystal's, below anything that looks like noise
MAX_SLEW = 500e-6  # of elapsed device time
STEP_NS = 2 * NS_PER_S
SPACING_TOLERANCE = 0.10


def sample_times(last_ns: int, count: int, rate_hz: float, previous_last_ns: int | None) -> list[int]:
    """Device times of ``count`` samples whose last is at ``last_ns``, oldest first."""
    nominal = NS_PER_S / rate_hz
    step = nominal
    if previous_last_ns is not None and count:
        measured = (last_ns - previous_last_ns) / count
        if abs(measured - nominal) <= SPACING_TOLERANCE * nominal:
            step = measured
    return [last_ns - round((count - 1 - i) * step) for i in range(count)]


@attrs.define
class ClockSync:
    """Maps device nanoseconds to host nanoseconds; feed it ``observe`` once per frame."""

    _minima: deque[tuple[int, int]] = attrs.field(factory=lambda: deque(maxlen=BUCKETS))
    _anchor_device: int | None = None
    _anchor_offset: float = 0.0
    _drift: float = 0.0

    @property
    def synced(self) -> bool:
        return self._anchor_device is not None

    @property
    def drift_ppm(self) -> float:
        """How fast the device clock runs against the host's (its offset shrinks as it gains)."""
        return -self._drift * 1e6

    def offset_at(self, device_ns: int) -> float:
        assert self._anchor_device is not None, "observe() first"
        return self._anchor_offset + self._drift * (device_ns - self._anchor_device)

    def to_host_ns(self, device_ns: int) -> int:
        return device_ns + round(self.offset_at(device_ns))

    def observe(self, device_ns: int, host_ns: int) -> None:
        """One frame: the device time of its last sample, and when the host received it."""
        observed = host_ns - device_ns
        if self._anchor_device is None or abs(observed - self.offset_at(device_ns)) > STEP_NS:
            self._restart(device_ns, observed)
            return
        self._remember(device_ns, observed)
        target, drift = self._fit(device_ns)
        current = self.offset_at(device_ns)
        limit = MAX_SLEW * max(device_ns - self._anchor_device, 0)
        self._anchor_offset = current + max(-limit, min(limit, target - current))
        self._anchor_device = device_ns
        self._drift = drift

    def _restart(self, device_ns: int, observed: int) -> None:
        self._minima.clear()
        self._minima.append((device_ns, observed))
        self._anchor_device, self._anchor_offset, self._drift = device_ns, float(observed), 0.0

    def _remember(self, device_ns: int, observed: int) -> None:
        last_device, last_offset = self._minima[-1]
        if device_ns // BUCKET_NS == last_device // BUCKET_NS:
            if observed < last_offset:
                self._minima[-1] = (device_ns, observed)
        else:
            self._minima.append((device_ns, observed))

    def _fit(self, device_ns: int) -> tuple[float, float]:
        """The target offset at ``device_ns`` and the drift, from the bucket minima."""
        points = list(self._minima)
        if len(points) > 3:  # the newest bucket is still filling: its minimum is not one yet
            points = points[:-1]
        if len(points) < 3:
            return float(min(o for _, o in points)), 0.0
        mean_d = sum(d for d, _ in points) / len(points)
        mean_o = sum(o for _, o in points) / len(points)
        var = sum((d - mean_d) ** 2 for d, _ in points)
        slope = sum((d - mean_d) * (o - mean_o) for d, o in points) / var if var else 0.0
        slope = max(-MAX_DRIFT, min(MAX_DRIFT, slope))
        return mean_o + slope * (device_ns - mean_d), slope
