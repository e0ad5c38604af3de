"""Answers on the broker's one port carry reason phrases (``HTTP/1.1 403 Forbidden``), headers and
bodies unchanged, over kept-alive and pipelined requests; the machine alone, then a real broker."""

from __future__ import annotations

import socket

import h11
import trio

from wearstream.adapters.http.status_lines import StatusLines


def answer(status: int, body: bytes, *, reason: bytes = b"") -> bytes:
    """An answer as hypercorn writes it: an empty reason phrase."""
    head = f"HTTP/1.1 {status} ".encode() + reason + b"\r\ncontent-length: " + str(len(body)).encode()
    return head + b"\r\ncontent-type: text/plain\r\n\r\n" + body


def test_reason_phrases_are_added_and_the_rest_kept() -> None:
    lines = StatusLines()
    lines.from_client(b"POST /auth/user?id=a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
    out = lines.from_app(answer(403, b"wrong developer id or API key\n"))
    assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert out.endswith(b"\r\n\r\nwrong developer id or API key\n")
    assert b"content-type: text/plain" in out.lower()


def test_kept_alive_and_pipelined_requests_each_get_theirs() -> None:
    lines = StatusLines()
    lines.from_client(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    both = answer(200, b'{"status":"ok"}') + b"HTTP/1.1 503 \r\ncontent-length: 9\r\n\r\n"
    out = b"".join(lines.from_app(both[i : i + 7]) for i in range(0, len(both), 7))  # in pieces
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 1 and out.count(b"HTTP/1.1 503 Service Unavailable\r\n") == 1
    assert out.endswith(b"content-length: 9\r\n\r\n")  # HEAD: no body follows


def test_a_phrase_the_app_gave_is_kept_and_an_unknown_status_gets_none() -> None:
    lines = StatusLines()
    lines.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert lines.from_app(answer(200, b"", reason=b"Fine")).startswith(b"HTTP/1.1 200 Fine\r\n")
    lines = StatusLines()
    lines.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert lines.from_app(answer(299, b"")).startswith(b"HTTP/1.1 299 \r\n")


def test_a_client_h11_cannot_follow_gets_the_apps_bytes_unchanged() -> None:
    lines = StatusLines()
    lines.from_client(b"\x16\x03\x01 not http at all\r\n\r\n")
    raw = answer(400, b"bad request")
    assert lines.from_app(raw) == raw


async def test_the_brokers_answers_carry_reason_phrases(wearstream_broker: object) -> None:
    api_url = wearstream_broker.api_url  # type: ignore[attr-defined]
    host, port = api_url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    statuses = await trio.to_thread.run_sync(_two_requests, host, int(port))
    assert statuses == [(400, b"Bad Request"), (200, b"OK")]


def _two_requests(host: str, port: int) -> list[tuple[int, bytes]]:
    """A pipelined token mint without credentials and a health check, read with h11."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /auth/developer HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    client = h11.Connection(h11.CLIENT)
    statuses = []
    for method, target in ((b"POST", b"/auth/developer"), (b"GET", b"/healthz")):
        client.send(h11.Request(method=method, target=target, headers=[("host", "x"), ("content-length", "0")]))
        client.send(h11.EndOfMessage())
        client.receive_data(received)
        received = b""
        event = client.next_event()
        while not isinstance(event, h11.Response):
            event = client.next_event()
        statuses.append((event.status_code, event.reason))
        while not isinstance(client.next_event(), h11.EndOfMessage):
            pass
        if client.our_state is h11.DONE and client.their_state is h11.DONE:
            client.start_next_cycle()
    return statuses
