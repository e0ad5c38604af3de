"""Mosquitto clients for the load generator: the same readings, one topic per developer."""

from __future__ import annotations

from typing import Callable

import trio

from .mqtt import (
    PINGREQ_PACKET,
    PUBLISH,
    MqttConnection,
    MqttError,
    encode_string,
    packet,
    parse_publish,
    puback_packet,
)
from .recorder import Recorder


def topic(developer: int) -> str:
    return f"bench/dev{developer}"


def encoded_topic(developer: int) -> bytes:
    return encode_string(topic(developer))


def publish_packet(connection: MqttConnection, topic_bytes: bytes, qos: int, payload: bytes) -> bytes:
    """One PUBLISH; at QoS 1 with the connection's next packet id."""
    if qos:
        packet_id = connection.next_packet_id()
        body = topic_bytes + packet_id.to_bytes(2, "big") + payload
    else:
        body = topic_bytes + payload
    return packet(PUBLISH, qos << 1, body)


async def keepalive(connection: MqttConnection, interval: float) -> None:
    """PINGREQ within each keepalive interval (MQTT's heartbeat), a little early so that a busy
    load generator is not what closes the connection."""
    try:
        while True:
            await trio.sleep(interval * 0.8)
            await connection.send(PINGREQ_PACKET)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


async def drain(connection: MqttConnection, on_close: Callable[[], None]) -> None:
    """Read and drop PUBACKs and PINGRESPs, noting when the broker closes."""
    try:
        while True:
            await connection.receive_batch()
    except (MqttError, trio.BrokenResourceError, trio.ClosedResourceError):
        on_close()


async def consume(
    connection: MqttConnection, recorder: Recorder, clock: Callable[[], float]
) -> None:
    """Record every PUBLISH; at QoS 1 acknowledge each chunk's PUBLISHes in one write."""
    try:
        while True:
            batch = await connection.receive_batch()
            now = clock()
            acks = []
            for first, body in batch:
                if first >> 4 != PUBLISH:
                    continue
                qos, packet_id, payload = parse_publish(first, body)
                recorder.record(payload, now)
                if qos:
                    acks.append(puback_packet(packet_id))
            if acks:
                await connection.send(b"".join(acks))
    except (MqttError, trio.BrokenResourceError, trio.ClosedResourceError):
        pass
