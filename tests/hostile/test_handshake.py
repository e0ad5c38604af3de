"""Aborted and hostile handshakes against the real `wearstream broker` process (issue 12, item 1).

Each case is something a stranger on the network can do without a credential. Before the
broker's own listener, the first four each made the process exit with status 1. After each
case the broker must still be running and another tenant's producer -> consumer round trip
must work.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import trio
from trio_websocket import open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    broker_arguments,
    create_developers,
)

pytestmark = pytest.mark.e2e

UPGRADE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\r\n"
)
HANDSHAKE_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("handshake")


@pytest.fixture(scope="module")
def developers(data_dir: Path) -> list[DeveloperCredentials]:
    return create_developers(data_dir, ["attacked", "bystander"])


@pytest.fixture(scope="module")
def broker(data_dir: Path, developers: list[DeveloperCredentials]) -> Iterator[BrokerProcess]:
    extra = ["--handshake-timeout", f"{HANDSHAKE_TIMEOUT:g}", "--http-idle-timeout", "3"]
    with BrokerProcess.create(data_dir, log_dir=data_dir / "logs", extra=extra) as process:
        yield process


def address(broker: BrokerProcess) -> tuple[str, int]:
    url = urlsplit(broker.ws_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def connect(broker: BrokerProcess) -> socket.socket:
    sock = socket.create_connection(address(broker), timeout=5)
    return sock


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER on, 0 seconds)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def round_trip(broker: BrokerProcess, developer: DeveloperCredentials) -> None:
    """A producer's SUBMIT reaches the developer's consumer as DISPATCH."""
    async with httpx.AsyncClient(base_url=broker.http_url, headers=developer.headers()) as http:
        consumer_token = (await http.post("/auth/developer")).json()["token"]
        producer_token = (await http.post("/auth/user", params={"id": "walker"})).json()["token"]
    with trio.fail_after(15):
        async with open_websocket_url(broker.ws_url) as consumer:
            await consumer.get_message()  # HELLO
            await consumer.send_message(orjson.dumps({"op": 3, "d": {"token": consumer_token, "type": 1}}).decode())
            assert orjson.loads(await consumer.get_message())["op"] == 4
            async with open_websocket_url(broker.ws_url) as producer:
                await producer.get_message()
                await producer.send_message(orjson.dumps({"op": 3, "d": {"token": producer_token, "type": 0}}).decode())
                assert orjson.loads(await producer.get_message())["op"] == 4
                reading = {"ts": "2026-01-01T00:00:00Z", "val": 61}
                await producer.send_message(orjson.dumps({"op": 6, "t": "HEART_RATE", "d": reading}).decode())
                while True:
                    frame = orjson.loads(await consumer.get_message())
                    if frame["op"] == 5:
                        assert frame["uid"] == "walker" and frame["d"]["val"] == 61
                        return


async def still_serving(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    await trio.sleep(0.3)  # the broker has met the case by now
    assert broker.running, f"the broker exited {broker.process.poll()}\n{broker.output()}"  # type: ignore[union-attr]
    await round_trip(broker, developers[1])


def read_response(sock: socket.socket) -> bytes:
    """One whole /healthz answer (its JSON body ends with a brace)."""
    data = b""
    while not data.endswith(b"}"):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def upgrade(path: str = "/connect", version: int = 13) -> bytes:
    return UPGRADE.format(path=path, version=version).encode()


async def test_upgrade_request_then_fin(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    sock = connect(broker)
    sock.sendall(upgrade())
    sock.close()
    await still_serving(broker, developers)


async def test_upgrade_request_then_rst(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    for _ in range(20):
        sock = connect(broker)
        sock.sendall(upgrade())
        reset(sock)
    await still_serving(broker, developers)


async def test_plain_get_of_connect_then_rst(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    for _ in range(20):
        sock = connect(broker)
        sock.sendall(b"GET /connect HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reset(sock)
    await still_serving(broker, developers)


async def test_upgrade_to_another_path(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    sock = connect(broker)
    sock.sendall(upgrade("/elsewhere"))
    assert sock.recv(4096).startswith(b"HTTP/1.1 404")
    sock.close()
    for _ in range(20):
        sock = connect(broker)
        sock.sendall(upgrade("/elsewhere"))
        reset(sock)
    await still_serving(broker, developers)


async def test_a_target_that_does_not_parse_is_400(
    broker: BrokerProcess, developers: list[DeveloperCredentials]
) -> None:
    """``//[`` makes urlsplit raise: answered 400 like any malformed head, with no traceback."""
    for target in ("//[/connect", "http://[::1/connect"):
        sock = connect(broker)
        sock.sendall(upgrade(target))
        assert sock.recv(4096).startswith(b"HTTP/1.1 400")
        sock.close()
    await still_serving(broker, developers)
    assert "Invalid IPv6 URL" not in broker.output()


async def test_version_8_then_rst(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    sock = connect(broker)
    sock.sendall(upgrade(version=8))
    answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 426") and b"Sec-WebSocket-Version: 13" in answer
    sock.close()
    for _ in range(20):
        sock = connect(broker)
        sock.sendall(upgrade(version=8))
        reset(sock)
    await still_serving(broker, developers)


async def test_garbage_and_half_heads(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    for data in (b"\x16\x03\x01\x00\xa5", b"\x00" * 100, b"GET /connect HTTP/1.1\r\nUpgr", b"\r\n\r\n"):
        sock = connect(broker)
        sock.sendall(data)
        reset(sock)
    await still_serving(broker, developers)


async def test_slowloris_head_is_cut_off(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    """A head sent a byte at a time is closed after --handshake-timeout, whatever it sends."""
    sock = connect(broker)
    started = time.monotonic()
    closed = False
    for byte in upgrade() * 100:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            closed = True
            break
        await trio.sleep(0.05)
        if time.monotonic() - started > HANDSHAKE_TIMEOUT + 3:
            break
    if not closed:
        sock.settimeout(2)
        try:
            closed = sock.recv(1) == b""
        except OSError:
            closed = True
    sock.close()
    assert closed and time.monotonic() - started < HANDSHAKE_TIMEOUT + 3
    await still_serving(broker, developers)


async def test_many_idle_http_connections(broker: BrokerProcess, developers: list[DeveloperCredentials]) -> None:
    """Connections that say nothing, and keep-alive connections left idle after one request,
    are closed by their timeouts while the broker serves others."""
    silent = [connect(broker) for _ in range(200)]
    kept = []
    for _ in range(100):
        sock = connect(broker)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        kept.append(sock)
    for sock in kept:
        assert read_response(sock).startswith(b"HTTP/1.1 200")
    await still_serving(broker, developers)
    await trio.sleep(HANDSHAKE_TIMEOUT + 3.5)  # past both timeouts (handshake 2 s, idle 3 s)
    for sock in silent + kept:
        sock.settimeout(2)
        assert sock.recv(4096) == b"", "the broker closed the idle connection"
        sock.close()
    await still_serving(broker, developers)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def test_closed_http_connections_leave_no_descriptors(
    broker: BrokerProcess, developers: list[DeveloperCredentials]
) -> None:
    """1,200 clients that each ask /healthz and close: the broker's descriptors come back."""
    assert broker.process is not None
    before = open_fds(broker.process.pid)
    host, port = address(broker)
    for _ in range(1200):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 10
    while open_fds(broker.process.pid) > before + 20 and time.monotonic() < deadline:
        await trio.sleep(0.2)
    assert open_fds(broker.process.pid) <= before + 20
    await still_serving(broker, developers)


async def test_at_the_descriptor_limit_new_clients_are_refused_and_service_recovers(
    data_dir: Path, developers: list[DeveloperCredentials], tmp_path: Path
) -> None:
    """A broker held to 200 open files, then 400 clients that connect and wait: the broker
    stays up, a client beyond the limit is refused at once (not left hanging), and when the
    crowd leaves the broker serves a round trip again."""
    args = ["prlimit", "--nofile=200:200", *broker_arguments(data_dir, extra=["--handshake-timeout", "30"])]
    with BrokerProcess(args, tmp_path) as limited:
        crowd = []
        for _ in range(400):
            try:
                crowd.append(connect(limited))
            except OSError:
                break
        await trio.sleep(1)
        assert limited.running, limited.output()
        late = connect(limited)
        late.settimeout(5)
        try:
            assert late.recv(100) in (b"", b"HTTP/1.1 503")  # closed, not left waiting
        except ConnectionResetError:
            pass
        late.close()
        for sock in crowd:
            sock.close()
        await trio.sleep(1)
        assert "refusing new connections" in limited.output()
        await still_serving(limited, developers)
