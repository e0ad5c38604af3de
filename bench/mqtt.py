"""Just enough MQTT 3.1.1 to drive Mosquitto from the same trio load generator as wearstream.

Why our own: the peer must be driven by the same kind of client (one trio task per connection,
no threads) as wearstream, so the load generator costs the same on both sides and never becomes
the bottleneck of one of them. Only what the benchmark uses is here: CONNECT/CONNACK, PUBLISH at
QoS 0 and 1, PUBACK, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP, DISCONNECT (OASIS MQTT 3.1.1, section 3).
"""

from __future__ import annotations

import struct
from typing import Iterator

import trio

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
PINGREQ_PACKET = bytes((PINGREQ << 4, 0))
DISCONNECT_PACKET = bytes((DISCONNECT << 4, 0))
RECEIVE_CHUNK = 65536


class MqttError(RuntimeError):
    """The broker refused us or broke the protocol."""


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def encode_string(text: str | bytes) -> bytes:
    data = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(data)) + data


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes(((kind << 4) | flags,)) + _remaining_length(len(body)) + body


def connect_packet(client_id: str, keepalive: int) -> bytes:
    """CONNECT with a clean session (flag 0x02): nothing is kept between benchmark runs."""
    header = encode_string("MQTT") + bytes((4, 0x02)) + struct.pack("!H", keepalive)
    return packet(CONNECT, 0, header + encode_string(client_id))


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    return packet(SUBSCRIBE, 0x02, struct.pack("!H", packet_id) + encode_string(topic) + bytes((qos,)))


def puback_packet(packet_id: int) -> bytes:
    return bytes((PUBACK << 4, 2)) + struct.pack("!H", packet_id)


def _body_span(buffer: bytearray, start: int, end: int) -> tuple[int, int] | None:
    """(body start, body size) of the packet at ``start``, or None while its header is incomplete."""
    size, shift, i = 0, 0, start + 1
    while i < end:
        byte = buffer[i]
        i += 1
        size |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return i, size
        shift += 7
    return None


class PacketReader:
    """Splits a byte stream into (first byte, body) packets."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, memoryview]]:
        self._buffer += data
        buffer = self._buffer
        start, end = 0, len(buffer)
        while end - start >= 2:
            span = _body_span(buffer, start, end)
            if span is None or span[0] + span[1] > end:
                break
            body_start, size = span
            yield buffer[start], memoryview(bytes(buffer[body_start : body_start + size]))
            start = body_start + size
        del buffer[:start]


def parse_publish(first: int, body: memoryview) -> tuple[int, int, bytes]:
    """(qos, packet id or 0, payload) of a PUBLISH body."""
    qos = (first >> 1) & 3
    topic_size = struct.unpack_from("!H", body, 0)[0]
    at = 2 + topic_size
    packet_id = 0
    if qos:
        packet_id = struct.unpack_from("!H", body, at)[0]
        at += 2
    return qos, packet_id, bytes(body[at:])


class MqttConnection:
    """One client connection over a trio stream: send packets, and receive them in order."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.reader = PacketReader()
        self._pending: list[tuple[int, memoryview]] = []
        self._next_id = 0
        self._send_lock = trio.StrictFIFOLock()  # publisher, pinger and acker share one stream

    @classmethod
    async def connect(cls, host: str, port: int, client_id: str, keepalive: int) -> "MqttConnection":
        stream = await trio.open_tcp_stream(host, port)
        connection = cls(stream)
        await connection.send(connect_packet(client_id, keepalive))
        first, body = await connection.receive()
        if first >> 4 != CONNACK or len(body) < 2 or body[1] != 0:
            raise MqttError(f"CONNACK refused: {bytes(body)!r}")
        return connection

    async def send(self, data: bytes) -> None:
        async with self._send_lock:
            await self.stream.send_all(data)

    def next_packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def receive_batch(self) -> list[tuple[int, memoryview]]:
        """Every packet of the next chunk read (at least one); raises MqttError on EOF."""
        if self._pending:
            batch, self._pending = self._pending, []
            return batch
        while True:
            data = await self.stream.receive_some(RECEIVE_CHUNK)
            if not data:
                raise MqttError("connection closed by the broker")
            batch = list(self.reader.feed(data))
            if batch:
                return batch

    async def receive(self) -> tuple[int, memoryview]:
        batch = await self.receive_batch()
        first, self._pending = batch[0], batch[1:]
        return first

    async def subscribe(self, topic: str, qos: int) -> None:
        await self.send(subscribe_packet(self.next_packet_id(), topic, qos))
        first, body = await self.receive()
        if first >> 4 != SUBACK or body[-1] == 0x80:
            raise MqttError(f"SUBACK refused: {bytes(body)!r}")

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            try:
                await self.send(DISCONNECT_PACKET)
            except trio.BrokenResourceError:
                pass
        await self.stream.aclose()
