"""Just enough of RFC 6455, written out byte by byte, for a fuzzer that must send what no
well-behaved library would (unmasked frames, reserved bits, bad opcodes, a frame cut in half) and
read the close code the broker answers with. A client library would refuse or hide all of that.
"""

from __future__ import annotations

import struct

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
MASK_KEY = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """One client frame (masked unless told otherwise, as RFC 6455 requires of clients)."""
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0xF])
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    return head + MASK_KEY + _mask(payload)


def _mask(payload: bytes) -> bytes:
    key = (MASK_KEY * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload), "big")


def text(message: str | bytes) -> bytes:
    data = message.encode("utf-8", "surrogatepass") if isinstance(message, str) else message
    return frame(TEXT, data)


def close(code: int | None = 1000, reason: str = "") -> bytes:
    payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
    return frame(CLOSE, payload)


class ServerFrames:
    """Parses what the broker sends after its handshake answer; remembers the close code."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head_done = False
        self.status_line = b""
        self.close_code: int | None = None
        self.closed = False
        self.frames = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._head_done:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.status_line = bytes(self._buffer[: self._buffer.find(b"\r\n")])
            del self._buffer[: end + 4]
            self._head_done = True
            if b" 101 " not in self.status_line + b" ":
                self._buffer.clear()  # an HTTP refusal: its body is not frames
                return
        while self._next_frame():
            pass

    @property
    def upgraded(self) -> bool:
        return self.status_line.startswith(b"HTTP/1.1 101")

    def _next_frame(self) -> bool:
        buf = self._buffer
        if not self.upgraded or len(buf) < 2:
            return False
        size, offset = buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return False
            size, offset = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return False
            size, offset = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < offset + size:
            return False
        opcode, payload = buf[0] & 0xF, bytes(buf[offset : offset + size])
        del buf[: offset + size]
        self.frames += 1
        if opcode == CLOSE:
            self.closed = True
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        return True
