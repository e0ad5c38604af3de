"""The broker's one port, between a client and hypercorn (adapters/http/exchange.py): answers carry
reason phrases (``HTTP/1.1 403 Forbidden``), headers and bodies unchanged, over kept-alive and
pipelined requests; hypercorn reads only HTTP/1.1 that h11 wrote (no upgrade, one request at a
time, nothing h11 refuses); the machine alone, then a real broker."""

from __future__ import annotations

import logging
import socket

import h11
import pytest
import trio

from wearstream.adapters.http.exchange import Exchange

HELD = 16 * 1024  # the broker's --max-head-bytes by default


def answer(status: int, body: bytes, *, reason: bytes = b"") -> bytes:
    """An answer as hypercorn writes it: an empty reason phrase."""
    head = f"HTTP/1.1 {status} ".encode() + reason + b"\r\ncontent-length: " + str(len(body)).encode()
    return head + b"\r\ncontent-type: text/plain\r\n\r\n" + body


def client_says(exchange: Exchange, data: bytes) -> bytes:
    """What the client is sent at once for ``data`` (a refusal, or nothing)."""
    exchange.from_client(data)
    return exchange.to_client()


def app_says(exchange: Exchange, data: bytes) -> bytes:
    """What the client is sent for the app's ``data``."""
    exchange.from_app(data)
    return exchange.to_client()


def test_reason_phrases_are_added_and_the_rest_kept() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"POST /auth/user?id=a HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
    out = app_says(exchange, answer(403, b"wrong developer id or API key\n"))
    assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert out.endswith(b"\r\n\r\nwrong developer id or API key\n")
    assert b"content-type: text/plain" in out.lower()


def test_kept_alive_and_pipelined_requests_each_get_theirs() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nHEAD /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    both = answer(200, b'{"status":"ok"}') + b"HTTP/1.1 503 \r\ncontent-length: 9\r\n\r\n"
    out = b"".join(app_says(exchange, both[i : i + 7]) for i in range(0, len(both), 7))  # in pieces
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 1 and out.count(b"HTTP/1.1 503 Service Unavailable\r\n") == 1
    assert out.endswith(b"content-length: 9\r\n\r\n")  # HEAD: no body follows


def test_a_phrase_the_app_gave_is_kept_and_an_unknown_status_gets_none() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert app_says(exchange, answer(200, b"", reason=b"Fine")).startswith(b"HTTP/1.1 200 Fine\r\n")
    exchange = Exchange(HELD)
    exchange.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert app_says(exchange, answer(299, b"")).startswith(b"HTTP/1.1 299 \r\n")


def test_an_answer_that_runs_until_the_apps_close_ends_when_it_closes() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    out = app_says(exchange, b"HTTP/1.1 200 \r\n\r\nsome")  # no length: it ends with the close
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert app_says(exchange, b"").endswith(b"0\r\n\r\n")  # chunked for the client: its last chunk


UPGRADE = (
    b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: keep-alive, Upgrade\r\nupgrade: websocket\r\n"
    b"sec-websocket-version: 13\r\nsec-websocket-key: bKdPyn3u98cTfZJSh4TNeQ==\r\n\r\n"
)
REFUSED = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


def test_what_h11_cannot_read_is_refused_here_and_never_reaches_the_app() -> None:
    exchange = Exchange(HELD)
    assert client_says(exchange, b"\x16\x03\x01 not http at all\r\n\r\n") == REFUSED
    assert exchange.ended and exchange.to_app() == b""
    for request, status in (
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"505 HTTP Version Not Supported"),
        (b"CONNECT a:443 HTTP/1.1\r\nhost: a:443\r\n\r\n", b"501 Not Implemented"),
        (b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * HELD, b"431 Request Header Fields Too Large"),
    ):
        exchange = Exchange(HELD)
        assert client_says(exchange, request).startswith(b"HTTP/1.1 " + status + b"\r\n")
        assert exchange.ended and exchange.to_app() == b""


def test_an_upgrade_is_dropped_and_answered_as_a_plain_request() -> None:
    """hypercorn issue #225: an upgrade with bytes after it ended hypercorn's whole server."""
    exchange = Exchange(HELD)
    assert client_says(exchange, UPGRADE + b"x\n") == b""
    sent = exchange.to_app()
    assert sent.startswith(b"GET /healthz HTTP/1.1\r\n") and b"upgrade" not in sent.lower()
    assert b"connection: keep-alive\r\n" in sent
    assert app_says(exchange, answer(200, b"ok")).startswith(b"HTTP/1.1 200 OK\r\n")
    assert client_says(exchange, b"\r\n") == REFUSED  # the bytes after it: not a request
    assert exchange.ended and exchange.to_app() == b""


def test_pipelined_requests_reach_the_app_one_answer_at_a_time() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nhost: x\r\n\r\n")
    assert exchange.to_app() == b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n"
    exchange.from_app(answer(200, b"a"))
    assert exchange.to_app() == b"GET /b HTTP/1.1\r\nhost: x\r\n\r\n"


def test_a_refusal_waits_for_the_answer_under_way() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\n")
    exchange.to_app()
    assert client_says(exchange, b"GET /b HTTP/1.1\r\nhost: x\r\n" + b"x" * (HELD + 1)) == b""  # held back
    assert not exchange.ended and not exchange.reading
    out = app_says(exchange, answer(200, b"a"))
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
    assert exchange.ended and exchange.to_app() == b""


def test_no_refusal_follows_an_answer_that_ends_the_connection() -> None:
    for request in (b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"):
        exchange = Exchange(HELD)
        exchange.from_client(request + b"zz\r\n\r\n")  # bytes after a last request: refused
        assert exchange.to_app().startswith(b"GET / HTTP/1.1\r\n")
        out = app_says(exchange, answer(200, b"ok"))
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\nok")  # nothing after it
        assert exchange.ended


def test_an_answer_before_the_requests_end_lets_the_next_request_through() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"POST /a HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")
    exchange.to_app()
    assert app_says(exchange, answer(409, b"")).startswith(b"HTTP/1.1 409 Conflict\r\n")
    exchange.from_client(b"cdGET /b HTTP/1.1\r\nhost: x\r\n\r\n")
    assert exchange.to_app() == b"cdGET /b HTTP/1.1\r\nhost: x\r\n\r\n"


def test_http_1_0_reaches_the_app_as_1_1_and_ends_after_its_answer() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert exchange.to_app() == b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n"
    assert app_says(exchange, answer(200, b"ok")).startswith(b"HTTP/1.1 200 OK\r\n")
    assert exchange.ended


def test_a_client_that_leaves_with_nothing_asked_ends_the_exchange() -> None:
    exchange = Exchange(HELD)
    exchange.from_client(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    exchange.from_app(answer(200, b""))
    assert not exchange.ended
    exchange.from_client(b"")
    assert exchange.ended


async def test_upgrades_with_bytes_after_them_leave_the_http_api_up(
    wearstream_broker: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Pipelined after a plain request (the listener answers a first request that asks for an
    upgrade itself): each answered as a plain request; the health check right after each one is
    answered too, and the HTTP server never fails (it used to end, and be started again half a
    second later)."""
    api_url = wearstream_broker.api_url  # type: ignore[attr-defined]
    host, port = api_url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    with caplog.at_level(logging.ERROR, logger="wearstream.http"):
        for _ in range(5):
            first = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"
            got = await trio.to_thread.run_sync(_exchange, host, int(port), first + UPGRADE + b"x\r\n\r\n")
            assert got.count(b"HTTP/1.1 200 OK\r\n") == 2 and got.endswith(REFUSED)
            health = b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            assert (await trio.to_thread.run_sync(_exchange, host, int(port), health)).startswith(b"HTTP/1.1 200 OK")
    assert not [r for r in caplog.records if r.name.startswith("wearstream.http")]


def _exchange(host: str, port: int, data: bytes) -> bytes:
    """Send ``data``, then read until the broker closes."""
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


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
