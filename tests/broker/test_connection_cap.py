"""--max-connections: a refused client reads a whole 503, and service comes back; the listener's
other plain answers (431, 400) are whole too."""

from __future__ import annotations

import re

import trio

from wearstream.adapters.clock import SystemClock
from wearstream.adapters.storage.memory import MemoryDeveloperStore, MemoryStreamLog, MemoryTokenStore
from wearstream.adapters.websocket.broker import Broker, BrokerConfig
from wearstream.adapters.websocket.hub import Hub
from wearstream.adapters.websocket import handshake
from wearstream.adapters.websocket.listener import ListenerLimits

UPGRADE = (
    b"GET /connect HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def _handshake(port: int, pause: float = 0.0) -> tuple[trio.SocketStream, bytes]:
    """Connect, send an upgrade request (``pause`` s after connecting), and read the answer: its
    head, or for a refusal everything until the broker closes: (the stream, what was read)."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await trio.sleep(pause)
    await stream.send_all(UPGRADE)
    answer = b""
    with trio.fail_after(5):
        while not answer.startswith(b"HTTP/1.1 101") or b"\r\n\r\n" not in answer:
            data = await stream.receive_some(4096)
            if not data:
                break
            answer += data
    return stream, answer


def _body_is_whole(answer: bytes) -> bool:
    """The body is as long as the head's Content-Length says (a client reads exactly that)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"\r\nContent-Length: (\d+)(?:\r\n|$)", head)
    return length is not None and int(length.group(1)) == len(body)


async def _broker(nursery: trio.Nursery, limits: ListenerLimits) -> int:
    hub = Hub(MemoryStreamLog())
    broker = Broker(hub, MemoryDeveloperStore(), MemoryTokenStore(), SystemClock(), BrokerConfig(limits=limits))
    await nursery.start(hub.run)
    return int(await nursery.start(broker.serve, "127.0.0.1", 0))


async def test_at_the_cap_every_refused_client_reads_503_and_a_freed_slot_is_used(
    nursery: trio.Nursery,
) -> None:
    port = await _broker(nursery, ListenerLimits(max_connections=2))
    held = [await _handshake(port) for _ in range(2)]
    assert all(answer.startswith(b"HTTP/1.1 101") for _, answer in held)

    for n in range(20):  # a reset would throw the 503 away before it is read
        stream, answer = await _handshake(port, pause=0.02 * (n % 2))  # request after the 503, too
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nRetry-After: 1\r\n" in answer and _body_is_whole(answer)
        await stream.aclose()

    await held[0][0].aclose()  # one slot frees up once the broker has seen the close
    with trio.fail_after(5):
        while True:
            stream, answer = await _handshake(port)
            await stream.aclose()
            if answer.startswith(b"HTTP/1.1 101"):
                break
            await trio.sleep(0.05)


async def test_a_head_too_large_and_a_bad_request_are_whole_answers(nursery: trio.Nursery) -> None:
    assert _body_is_whole(handshake.answer(b"garbage\r\n\r\n").response)  # 400
    port = await _broker(nursery, ListenerLimits(max_head_bytes=100))
    head = b"GET /connect HTTP/1.1\r\nX-Filler: " + b"x" * 200
    for sent in (head, head + b"\r\n\r\n"):  # more to come, or whole in one read
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        await stream.send_all(sent)
        answer = b""
        with trio.fail_after(5):
            while data := await stream.receive_some(4096):
                answer += data
        assert answer.startswith(b"HTTP/1.1 431 ") and _body_is_whole(answer)
