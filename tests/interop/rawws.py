"""A WebSocket client written by hand (RFC 6455), for tests that must send what no library will:
unmasked frames, reserved bits, invalid UTF-8, fragments with a ping between them.

Blocking sockets with a timeout on every read: a server that should answer and does not fails
the test instead of hanging it. Frames are parsed as the server wrote them, so a test asserts the
close code exactly as it arrived on the wire.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
from typing import Any, NamedTuple
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
READ_TIMEOUT_S = 5.0

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Frame(NamedTuple):
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame (None when it carries none)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def close_reason(self) -> str:
        return self.payload[2:].decode("utf-8", errors="replace")


class Closed(Exception):
    """The TCP connection ended before a whole frame arrived."""


def encode_frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bool = True
) -> bytes:
    """One frame as a client writes it: masked with a random key unless ``mask=False``."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    size = len(payload)
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


class RawClient:
    """One TCP connection that has done the opening handshake at a ``ws://`` URL."""

    def __init__(self, url: str, *, timeout: float = READ_TIMEOUT_S, receive_buffer: int | None = None) -> None:
        """``receive_buffer`` shrinks the socket's receive buffer (SO_RCVBUF, set before connect
        so the TCP window is small too): a client that stops reading then stalls the server's
        writes after a few kilobytes instead of megabytes."""
        parts = urlsplit(url)
        assert parts.scheme == "ws" and parts.hostname and parts.port
        family = socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((parts.hostname, parts.port))
        self.buffer = b""
        self.handshake(parts.netloc, parts.path or "/")

    def handshake(self, host: str, path: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith("HTTP/1.1 101"), f"no upgrade: {lines[0]!r}"
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        expected = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        assert headers.get("sec-websocket-accept") == expected, headers

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise Closed("the server closed the TCP connection")
        self.buffer += data

    def _take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, opcode: int, payload: bytes = b"", **options: object) -> None:
        self.send_raw(encode_frame(opcode, payload, **options))  # type: ignore[arg-type]

    def send_text(self, text: str) -> None:
        self.send(TEXT, text.encode())

    def send_json(self, frame: dict[str, object]) -> None:
        self.send_text(json.dumps(frame))

    def read_json(self) -> dict[str, Any]:
        """The next data message's JSON (fragmented messages are not expected from the server)."""
        frame = self.read_frame()
        assert frame.opcode == TEXT and frame.fin, frame
        return dict(json.loads(frame.payload))

    def read_frame(self) -> Frame:
        """The next frame the server sent (servers never mask, which is checked too)."""
        first, second = self._take(2)
        assert not second & 0x80, "a server frame must not be masked (RFC 6455 5.1)"
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._take(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._take(8))[0]
        return Frame(bool(first & 0x80), (first >> 4) & 0x7, first & 0x0F, self._take(size))

    def read_until(self, opcode: int) -> tuple[Frame, list[Frame]]:
        """The first frame of ``opcode``, and every frame that came before it."""
        before: list[Frame] = []
        while True:
            frame = self.read_frame()
            if frame.opcode == opcode:
                return frame, before
            before.append(frame)

    def read_close(self) -> Frame:
        """Skip data frames until the server's close frame."""
        return self.read_until(CLOSE)[0]

    def answer_close(self, close: Frame) -> None:
        """Echo the server's close frame (its status code, no reason), unless the server has
        already closed TCP, which it may do after a protocol error."""
        try:
            self.send(CLOSE, close.payload[:2])
        except (BrokenPipeError, ConnectionResetError):
            pass

    def tcp_closed(self) -> bool:
        """True once the server has closed the TCP connection (EOF within the read timeout)."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "RawClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
