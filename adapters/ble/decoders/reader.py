"""A little-endian cursor over one characteristic value, raising DecodeError with the offset.

Every GATT characteristic of the SIG profiles is little-endian with fields whose presence is
driven by a flags field; the decoders read field after field and let this cursor say where a
value was cut short.
"""

from __future__ import annotations

from ..errors import DecodeError
from .sfloat import decode_sfloat


class Reader:
    def __init__(self, characteristic: str, data: bytes | bytearray | memoryview) -> None:
        self.characteristic = characteristic
        self._data = bytes(data)
        self.offset = 0

    def _take(self, size: int, field: str) -> bytes:
        end = self.offset + size
        if end > len(self._data):
            raise DecodeError(
                self.characteristic,
                self.offset,
                f"truncated {field} (needs {size} bytes, {len(self._data) - self.offset} left)",
            )
        chunk = self._data[self.offset : end]
        self.offset = end
        return chunk

    def uint(self, size: int, field: str) -> int:
        return int.from_bytes(self._take(size, field), "little")

    def sint(self, size: int, field: str) -> int:
        return int.from_bytes(self._take(size, field), "little", signed=True)

    def sfloat(self, field: str) -> float:
        return decode_sfloat(self.uint(2, field))

    def remaining(self) -> int:
        return len(self._data) - self.offset

    def fail(self, reason: str) -> DecodeError:
        return DecodeError(self.characteristic, self.offset, reason)
