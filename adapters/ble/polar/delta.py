"""Delta-compressed PMD payloads: a reference sample, then blocks of packed signed deltas.

Layout (as the Polar SDK reads it: ``BlePMDClient.parseDeltaFramesAll``, and its ``AccDataTest``):

- the reference sample: one signed little-endian integer per channel, ``ceil(resolution / 8)``
  bytes each;
- then, to the end of the payload, blocks of ``[delta bit width, sample count]`` followed by
  ``ceil(count × channels × width / 8)`` bytes of deltas: ``count`` samples of ``channels``
  signed (two's complement) ``width``-bit fields, packed least significant bit first across byte
  boundaries. Each sample is the previous one plus its deltas.

Random bytes can claim up to 255 samples per two-byte block header, so a zero bit width (which
would make samples out of nothing) is refused rather than expanded.
"""

from __future__ import annotations

from ..errors import DecodeError

MAX_DELTA_BITS = 32


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def decode_delta_payload(
    payload: bytes, channels: int, resolution: int, name: str, base: int = 0
) -> list[tuple[int, ...]]:
    """The samples of a compressed payload; ``base`` is its offset in the frame, for errors."""
    size = (resolution + 7) // 8
    if len(payload) < channels * size:
        raise DecodeError(name, base, f"truncated reference sample (needs {channels * size} bytes)")
    field = (1 << resolution) - 1  # bits above the resolution are sign copies, or padding
    reference = tuple(
        _signed(int.from_bytes(payload[i * size : (i + 1) * size], "little") & field, resolution)
        for i in range(channels)
    )
    samples = [reference]
    offset = channels * size
    while offset < len(payload):
        if offset + 2 > len(payload):
            raise DecodeError(name, base + offset, "truncated delta block header")
        width, count = payload[offset], payload[offset + 1]
        if not 1 <= width <= MAX_DELTA_BITS:
            raise DecodeError(name, base + offset, f"delta bit width {width} is not 1..32")
        length = (count * channels * width + 7) // 8
        start = offset + 2
        if start + length > len(payload):
            raise DecodeError(
                name, base + start, f"truncated delta block ({count} samples of {width} bits need {length} bytes)"
            )
        bits = int.from_bytes(payload[start : start + length], "little")
        mask = (1 << width) - 1
        for k in range(count):
            previous = samples[-1]
            samples.append(
                tuple(
                    previous[c] + _signed(bits >> ((k * channels + c) * width) & mask, width)
                    for c in range(channels)
                )
            )
        offset = start + length
    return samples
