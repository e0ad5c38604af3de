"""The ANT serial message format, as pure functions.

Every message on the wire between host and stick is ``0xA4, length, message id, payload…,
checksum`` where the checksum is the XOR of all bytes before it (ANT Message Protocol and Usage,
section 7.1). openant's reader trusts the stream: one corrupt byte fails an assertion in its
reader thread and silences the stick for good. ``FrameSplitter`` is the guard in front of it: it
passes whole, valid messages and skips anything else up to the next sync byte.
"""

from __future__ import annotations

import attrs

SYNC = 0xA4
MAX_PAYLOAD = 64  # the longest ANT message (extended data with every flag) is well below this
BROADCAST_DATA = 0x4E
EXTENDED_CHANNEL_ID = 0x80  # flag byte bit: the device number, type and transmission type follow


def checksum(data: bytes) -> int:
    result = 0
    for byte in data:
        result ^= byte
    return result


def encode_message(message_id: int, payload: bytes) -> bytes:
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"an ANT payload has 1 to {MAX_PAYLOAD} bytes, got {len(payload)}")
    head = bytes([SYNC, len(payload), message_id]) + payload
    return head + bytes([checksum(head)])


@attrs.define
class FrameSplitter:
    """Feeds on raw bytes, returns whole valid messages; counts the bytes it had to skip."""

    skipped: int = 0
    _buffer: bytearray = attrs.field(factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        frames = []
        while self._buffer:
            start = self._buffer.find(SYNC)
            if start < 0:
                self._skip(len(self._buffer))
                break
            self._skip(start)
            if len(self._buffer) < 2:
                break
            length = self._buffer[1]
            if not 1 <= length <= MAX_PAYLOAD:
                self._skip(1)
                continue
            end = length + 4
            if len(self._buffer) < end:
                break
            frame = bytes(self._buffer[:end])
            if checksum(frame[:-1]) != frame[-1]:
                self._skip(1)
                continue
            frames.append(frame)
            del self._buffer[:end]
        return frames

    def _skip(self, count: int) -> None:
        self.skipped += count
        del self._buffer[:count]


def extended_channel_id(data: bytes) -> tuple[int, int] | None:
    """(device number, device type) from the extended bytes after an 8-byte page, if present.

    With extended messages enabled the stick appends a flag byte and, when its 0x80 bit is set,
    the sender's channel ID: device number (2 bytes, little-endian), device type, transmission
    type (ANT Message Protocol and Usage, section 7.1.1).
    """
    if len(data) < 13 or not data[8] & EXTENDED_CHANNEL_ID:
        return None
    return data[9] | data[10] << 8, data[11] & 0x7F
