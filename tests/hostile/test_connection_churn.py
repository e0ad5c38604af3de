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
