"""PMD data frames: the header, and the ECG and acceleration payloads, uncompressed or delta-coded.

Header (10 bytes): measurement type (1), timestamp (uint64 little-endian, nanoseconds of the
device clock, the time of the frame's LAST sample), frame type (1; bit 7 set = delta-compressed,
bits 0-6 the frame type). Payloads:

- ECG, frame type 0: samples of 3-byte signed little-endian µV (the H10, 130 Hz).
- ECG, compressed: the generic delta format of ``delta`` with one channel at the stream's
  resolution. No public source shows a device sending it; it is decoded by the same rules as
  compressed acceleration.
- ACC, frame types 0, 1, 2: x, y, z as signed 1-, 2- or 3-byte integers in mG (the H10 sends 1).
- ACC, compressed type 0: delta format, 16-bit reference, values × factor are g (the Verity
  Sense); compressed type 1: delta format, 16-bit, values × factor are mG. The factor comes in
  the start response (setting FACTOR); 1.0 when absent.

Anything else, or a payload that does not divide into whole samples, raises DecodeError naming
the measurement, the frame-type byte and the offset.
"""

from __future__ import annotations

import attrs

from ..decoders.reader import Reader
from ..errors import DecodeError
from .delta import decode_delta_payload
from .service import Measurement

HEADER_SIZE = 10
COMPRESSED = 0x80
ECG_RESOLUTION_BITS = 14  # the H10's; the start settings may say otherwise
ACC_COMPRESSED_RESOLUTION_BITS = 16
_ACC_RAW_SIZES = {0: 1, 1: 2, 2: 3}

Vector = tuple[float, float, float]


@attrs.frozen
class DataFrame:
    measurement: int
    timestamp_ns: int
    frame_type_byte: int
    payload: bytes

    @property
    def compressed(self) -> bool:
        return bool(self.frame_type_byte & COMPRESSED)

    @property
    def frame_type(self) -> int:
        return self.frame_type_byte & 0x7F

    @property
    def name(self) -> str:
        """How error messages name this frame: measurement and frame-type byte."""
        return f"PMD data ({Measurement.name_of(self.measurement)} frame type 0x{self.frame_type_byte:02X})"


@attrs.frozen
class EcgFrame:
    timestamp_ns: int  # device clock, last sample
    microvolts: tuple[int, ...]


@attrs.frozen
class AccFrame:
    timestamp_ns: int  # device clock, last sample
    millig: tuple[Vector, ...]


def decode_header(data: bytes) -> DataFrame:
    r = Reader("PMD data", data)
    measurement = r.uint(1, "measurement type")
    timestamp = r.uint(8, "timestamp")
    frame_type = r.uint(1, "frame type")
    return DataFrame(measurement, timestamp, frame_type, bytes(data[HEADER_SIZE:]))


def decode_frame(
    data: bytes, *, factor: float = 1.0, ecg_resolution: int = ECG_RESOLUTION_BITS
) -> EcgFrame | AccFrame:
    """A whole data notification; ``factor`` is the ACC stream's, from its start response."""
    frame = decode_header(data)
    if frame.measurement == Measurement.ECG:
        return decode_ecg(frame, ecg_resolution)
    if frame.measurement == Measurement.ACC:
        return decode_acc(frame, factor)
    raise DecodeError(frame.name, 0, "this measurement type is not decoded")


def decode_ecg(frame: DataFrame, resolution: int = ECG_RESOLUTION_BITS) -> EcgFrame:
    if frame.compressed:
        samples = decode_delta_payload(frame.payload, 1, resolution, frame.name, HEADER_SIZE)
        return EcgFrame(frame.timestamp_ns, tuple(s[0] for s in samples))
    if frame.frame_type != 0:
        raise DecodeError(frame.name, 9, "unsupported ECG frame type")
    values = _fixed(frame, 3, channels=1)
    return EcgFrame(frame.timestamp_ns, tuple(v[0] for v in values))


def decode_acc(frame: DataFrame, factor: float = 1.0) -> AccFrame:
    if frame.compressed:
        if frame.frame_type not in (0, 1):
            raise DecodeError(frame.name, 9, "unsupported compressed ACC frame type")
        raw = decode_delta_payload(
            frame.payload, 3, ACC_COMPRESSED_RESOLUTION_BITS, frame.name, HEADER_SIZE
        )
        scale = factor * 1000 if frame.frame_type == 0 else factor  # type 0 is in g
        return AccFrame(frame.timestamp_ns, tuple(_vector(s, scale) for s in raw))
    size = _ACC_RAW_SIZES.get(frame.frame_type)
    if size is None:
        raise DecodeError(frame.name, 9, "unsupported ACC frame type")
    return AccFrame(frame.timestamp_ns, tuple(_vector(s, 1.0) for s in _fixed(frame, size, 3)))


def _vector(sample: tuple[int, ...], scale: float) -> Vector:
    return (sample[0] * scale, sample[1] * scale, sample[2] * scale)


def _fixed(frame: DataFrame, size: int, channels: int) -> list[tuple[int, ...]]:
    """Whole samples of ``channels`` signed ``size``-byte fields, refusing a partial one."""
    payload = frame.payload
    step = size * channels
    if not payload:
        raise DecodeError(frame.name, HEADER_SIZE, "the frame carries no samples")
    if len(payload) % step:
        whole = len(payload) - len(payload) % step
        raise DecodeError(
            frame.name, HEADER_SIZE + whole, f"{len(payload) % step} bytes left over (samples are {step} bytes)"
        )
    return [
        tuple(
            int.from_bytes(payload[i + c * size : i + (c + 1) * size], "little", signed=True)
            for c in range(channels)
        )
        for i in range(0, len(payload), step)
    ]
