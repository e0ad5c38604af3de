"""Connections that end leave nothing behind, and strangers buffer little (the hostile-client
audit of 2026-12-07).

Before: the broker's deadline heap kept every ended connection, and with it the frame its socket
had buffered, until that connection's deadline would have come (IDENTIFY's 15 s; a heartbeat
window, 60 s, once identified). Clients that each sent most of a 1 MiB frame and then reset, one
connection open at a time, so that --max-connections never applied, took the broker from 48 to
1,258 MiB in 7 s. Measured here before the fix: 150 such connections held about 150 MiB. And a
connection without a credential could make the broker buffer a whole --max-message-bytes: now
--max-identify-bytes (16 KiB) until READY.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

import trio

from .conftest import RoundTrips, broker_pid, rss_bytes

MIB = 1024 * 1024
CONNECTIONS = 150


def upgraded(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /connect HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the broker closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def most_of_a_frame(size: int) -> bytes:
    """A masked binary frame of ``size`` bytes, all but its last byte (never complete)."""
    head = struct.pack("!BBQ", 0x82, 0x80 | 127, size) + b"\x01\x02\x03\x04"
    return head + b"x" * (size - 1)


def identify(sock: socket.socket, token: str) -> None:
    """IDENTIFY as a producer and read up to READY (HELLO first)."""
    text = ('{"op":3,"d":{"token":"%s","type":0}}' % token).encode()
    sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(text)) + b"\0\0\0\0" + text)  # mask 0
    seen = b""
    while b'"op":4' not in seen:
        chunk = sock.recv(4096)
        assert chunk, f"closed before READY: {seen!r}"
        seen += chunk


def churn(host: str, port: int, tokens: list[str]) -> None:
    frame = most_of_a_frame(MIB - 64)
    for token in tokens:
        sock = upgraded(host, port)
        identify(sock, token)
        sock.sendall(frame)
        time.sleep(0.005)  # the broker reads it before the reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


async def test_ended_connections_do_not_keep_their_buffers(start_broker: Any) -> None:
    broker, _, witness = start_broker()
    pid = broker_pid(broker)
    url = urlsplit(broker.ws_url)
    assert url.hostname is not None and url.port is not None
    trips = RoundTrips()
    async with trio.open_nursery() as nursery:
        await nursery.start(trips.run, witness)
        tokens = [await witness.user_token(f"churn{n}") for n in range(CONNECTIONS)]
        before = rss_bytes(pid)
        await trio.to_thread.run_sync(churn, url.hostname, url.port, tokens)
        await trio.sleep(0.5)
        grown = rss_bytes(pid) - before
        await trips.wait_for_more()
        nursery.cancel_scope.cancel()
    assert broker.running, broker.output()
    print(f"MEASURE grown={grown / MIB:.0f}MiB worst={trips.worst:.3f}")
    assert grown < 50 * MIB, f"{grown / MIB:.0f} MiB held after {CONNECTIONS} connections ended"


async def test_a_stranger_cannot_send_a_big_message(start_broker: Any) -> None:
    broker, _, witness = start_broker()
    url = urlsplit(broker.ws_url)
    assert url.hostname is not None and url.port is not None
    sock = upgraded(url.hostname, url.port)
    sock.sendall(most_of_a_frame(64 * 1024)[:1024])  # the header says 64 KiB: refused from it
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    assert b"\x88" in answer and (1009).to_bytes(2, "big") in answer, answer  # close 1009
    sock.close()
    assert (await witness.round_trip()) < 5.0


async def test_a_large_submit_right_behind_the_identify_is_taken(start_broker: Any) -> None:
    """A client that sends a 24 KiB SUBMIT without waiting for READY: the SUBMIT waits in the
    buffer until READY has raised the limit, instead of closing with 1009."""
    broker, _, witness = start_broker()
    url = urlsplit(broker.ws_url)
    assert url.hostname is not None and url.port is not None
    token = await witness.user_token("early")
    identify = ('{"op":3,"d":{"token":"%s","type":0}}' % token).encode()
    series = ",".join(["0.125"] * 4000)
    submit = ('{"op":6,"t":"ECG","d":{"ts":"2026-01-01T00:00:00Z","d":[%s]}}' % series).encode()
    assert len(submit) > 16 * 1024
    async with witness.consumer() as consumer:
        sock = upgraded(url.hostname, url.port)
        sock.sendall(text_frame(identify) + text_frame(submit))
        with trio.fail_after(10):
            while True:
                frame = json.loads(await consumer.get_message())
                if frame["op"] == 5:
                    break
        sock.close()
    assert frame["uid"] == "early" and len(frame["d"]["d"]) == 4000


def text_frame(payload: bytes) -> bytes:
    """A masked final text frame (mask key 0: the bytes as they are)."""
    size = len(payload)
    head = struct.pack("!BB", 0x81, 0x80 | size) if size < 126 else (
        struct.pack("!BBH", 0x81, 0x80 | 126, size) if size < 65536 else struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    )
    return head + b"\0\0\0\0" + payload
