"""PMD frames -> domain Samples with per-sample UTC timestamps.

One ``PmdReceiver`` lives as long as a BLE session (across reconnects: the device clock and so
its sync survive a drop). The asyncio side reports each stream it started (``StreamStarted``,
with the sample rate and factor the device accepted) before any frame of that stream.

- ECG: one ``ECG`` sample per frame, ``d`` = the frame's values in mV (µV / 1000), ``ts`` = the
  time of its FIRST sample; sample i of the chunk is at ``ts + i / sample_rate``. The SERIES
  shape is a waveform chunk, and 1.8 payloads a second beat 130.
- ACC: one ``ACCELERATION`` sample per sample, ``d`` = x, y, z in m/s² (mG × 9.80665 / 1000),
  each with its own time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import attrs

from ....domain.datatypes import DataType
from ....domain.samples import Sample
from ..errors import DecodeError
from .clock import ClockSync, sample_times
from .frames import ECG_RESOLUTION_BITS, AccFrame, EcgFrame, decode_acc, decode_ecg, decode_header
from .service import Measurement

STANDARD_GRAVITY = 9.80665
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


@attrs.frozen
class StreamStarted:
    """The device accepted a start request with these settings."""

    measurement: Measurement
    sample_rate: int
    resolution: int | None = None
    factor: float = 1.0


@attrs.frozen
class StreamFailed:
    """A stream could not be started; the rest of the session goes on."""

    measurement: Measurement | None
    reason: str


@attrs.define
class _Stream:
    started: StreamStarted
    previous_ns: int | None = None  # device time of the previous frame's last sample


def host_ns(ts: datetime) -> int:
    return (ts - _EPOCH) // _US * 1000


def utc(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


@attrs.define
class PmdReceiver:
    clock: ClockSync = attrs.field(factory=ClockSync)
    _streams: dict[int, _Stream] = attrs.field(factory=dict)

    def started(self, event: StreamStarted) -> None:
        self._streams[event.measurement] = _Stream(event)

    def samples(self, data: bytes, received: datetime, user_id: str, device_id: str) -> list[Sample]:
        """The samples of one data notification; DecodeError when it cannot be decoded."""
        frame = decode_header(data)
        stream = self._streams.get(frame.measurement)
        if stream is None:
            raise DecodeError(frame.name, 0, "a frame of a stream that was not started")
        settings = stream.started
        if frame.measurement == Measurement.ECG:
            decoded: EcgFrame | AccFrame = decode_ecg(frame, settings.resolution or ECG_RESOLUTION_BITS)
            count = len(decoded.microvolts)
        else:
            decoded = decode_acc(frame, settings.factor)
            count = len(decoded.millig)
        self.clock.observe(frame.timestamp_ns, host_ns(received))
        times = sample_times(frame.timestamp_ns, count, settings.sample_rate, stream.previous_ns)
        stream.previous_ns = frame.timestamp_ns
        at = [utc(self.clock.to_host_ns(t)) for t in times]
        if isinstance(decoded, EcgFrame):
            millivolts = tuple(uv / 1000 for uv in decoded.microvolts)
            return [Sample(DataType.ECG.value, at[0], millivolts, user_id, device_id)]
        scale = STANDARD_GRAVITY / 1000
        return [
            Sample(DataType.ACCELERATION.value, when, (x * scale, y * scale, z * scale), user_id, device_id)
            for when, (x, y, z) in zip(at, decoded.millig)
        ]
