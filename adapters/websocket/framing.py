"""RFC 6455 data framing for the server side: client frames in, server frames out (sans I/O).

Why our own, and so small: the handshake goes through websockets' public sans-I/O API
(adapters/websocket/handshake.py), but a library's general frame layer costs several µs per
frame in Python-level generators, and a reading is one small frame. This parser takes a whole
receive buffer per call and returns every complete message in it, unmasking with websockets'
C ``apply_mask``. It negotiates nothing (no extensions, no subprotocols), so RSV bits must be 0.

What it enforces (each broken rule is a ``FrameError`` with the close code RFC 6455 names):
client frames masked (1002), no reserved bits or opcodes (1002), control frames final and at
most 125 bytes (1002), continuation only inside a fragmented message and no new data frame
inside one (1002), a message at most ``max_message`` bytes, checked from the header before the
payload is buffered (1009), text valid UTF-8 (1007), a close frame's code and reason valid
(1002/1007). Control frames may arrive between the fragments of a message.
"""

from __future__ import annotations

import codecs
import struct
from typing import Union

import attrs

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask

from ...domain.closecodes import CloseCode

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_CONTROL_PAYLOAD = 125
NO_STATUS = 1005  # a close frame without a code (never sent on the wire)
# Codes a peer may send in a close frame (RFC 6455 7.4.1 and the IANA registry): 1004-1006 and
# 1015 are reserved for reporting only.
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))
_PACK_16 = struct.Struct("!BBH").pack
_PACK_64 = struct.Struct("!BBQ").pack
_UTF8 = codecs.getincrementaldecoder("utf-8")


class FrameError(Exception):
    """The peer broke RFC 6455: close with ``code`` (1002, 1007 or 1009) and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@attrs.frozen
class Control:
    """A control frame the socket layer must act on (ping, pong or close)."""

    opcode: int
    payload: bytes


Message = Union[str, bytes]


class FrameParser:
    """Client frames to messages (text as ``str``, binary as ``bytes``) and control frames."""

    # One per connection, most of them idle: slots, and the state of a fragmented message made
    # only when one comes (the buffer holds only an unfinished frame's bytes between reads).
    __slots__ = ("max_message", "_buffer", "_parts", "_opcode", "_size", "_text", "closed")

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self._buffer = bytearray()
        self._parts: bytearray | None = None  # the message in progress, fragment by fragment
        self._opcode = 0  # TEXT or BINARY while a fragmented message is in progress, else 0
        self._size = 0
        self._text: codecs.IncrementalDecoder | None = None  # for fragmented text
        self.closed = False  # a close frame was parsed; nothing after it is read

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def release(self) -> None:
        """The connection has ended: drop what is buffered (an unfinished frame or message)."""
        self._buffer = bytearray()
        self._parts = None
        self._text = None
        self._size = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def parse(self) -> list[Message | Control]:
        """Every complete message and control frame buffered so far, in order; stops after a
        close frame. Raises FrameError for a frame that breaks the protocol."""
        buf = self._buffer
        end = len(buf)
        pos = 0
        out: list[Message | Control] = []
        while end - pos >= 2 and not self.closed:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            size = b1 & 0x7F
            head = pos + 2
            if size >= 126:
                if size == 126:
                    if end - pos < 4:
                        break
                    size = (buf[pos + 2] << 8) | buf[pos + 3]
                    head = pos + 4
                else:
                    if end - pos < 10:
                        break
                    size = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                    head = pos + 10
            opcode = b0 & 0x0F
            # A final, masked, unfragmented text frame within the limit (nearly every frame) has
            # nothing more to check; anything else is checked in full.
            if b0 != 0x81 or b1 < 0x80 or self._opcode or size > self.max_message:
                if out and size > self.max_message:
                    break  # left buffered: the limit may be raised first (ServerSocket.allow_messages)
                self._check_header(b0, b1, opcode, size)
            start = head + 4
            if end - start < size:
                break
            payload = apply_mask(buf[start : start + size], buf[head:start]) if size else b""
            pos = start + size
            if b0 & 0x80 and opcode == TEXT and not self._opcode:  # the hot path: one frame
                try:
                    out.append(payload.decode())
                except UnicodeDecodeError:
                    raise FrameError(CloseCode.INVALID_DATA, "text message is not valid UTF-8") from None
            else:
                item = self._frame(b0 & 0x80, opcode, payload)
                if item is not None:
                    out.append(item)
        if pos == end:
            buf.clear()
        elif pos:
            del buf[:pos]
        return out

    def _check_header(self, b0: int, b1: int, opcode: int, size: int) -> None:
        if not b1 & 0x80:
            raise FrameError(CloseCode.PROTOCOL_ERROR, "client frames must be masked")
        if b0 & 0x70:
            raise FrameError(CloseCode.PROTOCOL_ERROR, "reserved bits set (no extension was negotiated)")
        if opcode >= 8:
            if opcode not in (CLOSE, PING, PONG):
                raise FrameError(CloseCode.PROTOCOL_ERROR, f"reserved opcode {opcode}")
            if size > MAX_CONTROL_PAYLOAD or not b0 & 0x80:
                raise FrameError(CloseCode.PROTOCOL_ERROR, "control frames must be final and at most 125 bytes")
            return
        if opcode not in (CONTINUATION, TEXT, BINARY):
            raise FrameError(CloseCode.PROTOCOL_ERROR, f"reserved opcode {opcode}")
        if opcode == CONTINUATION and not self._opcode:
            raise FrameError(CloseCode.PROTOCOL_ERROR, "continuation frame outside a fragmented message")
        if opcode != CONTINUATION and self._opcode:
            raise FrameError(CloseCode.PROTOCOL_ERROR, "new message inside a fragmented message")
        if self._size + size > self.max_message:
            raise FrameError(CloseCode.MESSAGE_TOO_BIG, f"message larger than {self.max_message} bytes")

    def _frame(self, fin: int, opcode: int, payload: bytes) -> Message | Control | None:
        if opcode >= 8:
            if opcode == CLOSE:
                check_close_payload(payload)
                self.closed = True
            return Control(opcode, payload)
        if opcode != CONTINUATION:
            self._opcode = opcode
        text = self._opcode == TEXT
        if text:
            self._check_utf8(payload, fin)
        parts = self._parts
        if not fin:
            # One buffer of the bytes themselves: memory follows the size that is limited, not
            # the number of fragments (a list of them let empty fragments grow it without end).
            if parts is None:
                self._parts = parts = bytearray()
            parts += payload
            self._size += len(payload)
            return None
        if parts is not None:
            parts += payload
            payload = bytes(parts)
        self._parts = None
        self._size = 0
        self._opcode = 0
        return payload.decode() if text else payload

    def _check_utf8(self, payload: bytes, final: int) -> None:
        """Check a fragment as it arrives, so invalid text fails at once, not at the end (the
        whole message is decoded once it is complete)."""
        text = self._text
        if text is None:
            self._text = text = _UTF8()
        try:
            text.decode(payload, final=bool(final))
        except UnicodeDecodeError:
            raise FrameError(CloseCode.INVALID_DATA, "text message is not valid UTF-8") from None
        finally:
            if final:
                self._text = None


def check_close_payload(payload: bytes) -> tuple[int, str]:
    """The code and reason of a close frame's payload; FrameError if either is invalid."""
    if not payload:
        return NO_STATUS, ""
    if len(payload) == 1:
        raise FrameError(CloseCode.PROTOCOL_ERROR, "close frame with a 1-byte payload")
    code = int.from_bytes(payload[:2], "big")
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise FrameError(CloseCode.PROTOCOL_ERROR, f"close code {code} may not be sent")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise FrameError(CloseCode.INVALID_DATA, "close reason is not valid UTF-8") from None


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked server frame."""
    size = len(payload)
    b0 = 0x80 | opcode
    if size < 126:
        return bytes((b0, size)) + payload
    if size < 65536:
        return _PACK_16(b0, 126, size) + payload
    return _PACK_64(b0, 127, size) + payload


def text_frames(messages: list[str]) -> bytes:
    """Several text messages as consecutive frames, for one write."""
    return b"".join([frame(TEXT, message.encode()) for message in messages])


def close_frame(code: int, reason: str) -> bytes:
    """A close frame with ``code`` and ``reason`` cut to fit 125 bytes (NO_STATUS: empty)."""
    if code == NO_STATUS:
        return frame(CLOSE, b"")
    data = reason.encode()[: MAX_CONTROL_PAYLOAD - 2].decode(errors="ignore").encode()
    return frame(CLOSE, code.to_bytes(2, "big") + data)
