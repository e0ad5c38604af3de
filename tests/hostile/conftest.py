"""Shared helpers of the hostile tests: the real `wearstream broker` process, its tenants, and the
three checks every attack ends with (the broker is alive, another tenant's round trip still works,
its memory stays bounded).

Fixtures (import the plain helpers with ``from .conftest import ...``):

- ``broker``: one `wearstream broker` process (SQLite under a data dir) shared by the session;
  if a test killed it, the next test that asks gets a fresh one on the same data dir.
- ``start_broker``: a factory for a test's own broker with its own flags:
  ``start_broker("--max-devices-per-user", "8")`` (stopped at the end of the test).
- ``attacker``: a ``Tenant`` of ``broker`` (credentials + token helpers) the test may abuse.
- ``witness``: another ``Tenant`` of ``broker``, used only for ``round_trip()``; never abuse it.
- ``hostile_data_dir``: the shared broker's data dir (to create more developers in it).

Checks, after an attack (each raises AssertionError naming what broke, with the broker's logs):

- ``await assert_alive(broker)``: the process runs and ``GET /healthz`` answers.
- ``await witness.round_trip()``: a fresh producer -> consumer payload of the witness tenant
  arrives within ``ROUND_TRIP_BOUND_S``; returns the seconds it took.
- ``rss_bytes(broker.process.pid)``: resident memory from /proc/PID/status; ``cpu_seconds(pid)``.
- ``RoundTrips``: the witness's round trips timed while an attack goes on (``worst``).

Tests that must see everything stored: ``own_broker`` (a fresh broker and developer of the test's
own), ``async with jsonl_consumer(broker, dev, tmp_path) as (consumer, out)`` (a real `wearstream
consumer` writing to a jsonl file, READY before the body runs), and ``jsonl_values(out)``.

Raw clients for byte-level attacks: ``ws_address(broker)``, ``await raw_connect(broker)``,
``reset(sock)`` (RST via SO_LINGER 0), ``upgrade_request(...)``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import socket
import struct
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterator
from urllib.parse import urlsplit

import attrs
import httpx
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from wearstream.adapters.http.tokens_client import mint_developer_token, mint_user_token
from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    create_developer,
    create_developers,
)
from wearstream.testing.consumer_process import ConsumerProcess

pytestmark = pytest.mark.e2e

ROUND_TRIP_BOUND_S = 5.0  # generous: a loaded 2-core CI box, not a latency target
ALIVE_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0
CONSUMER_CAP = 4002  # the witness's previous consumer may still be leaving: retry within the bound
_markers = itertools.count(1)


# Process facts ---------------------------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` in bytes (VmRSS of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far (/proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    """How many file descriptors ``pid`` holds."""
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def broker_pid(broker: BrokerProcess) -> int:
    assert broker.process is not None
    return broker.process.pid


def last_words(broker: BrokerProcess, lines: int = 60) -> str:
    """The end of the broker's stderr for a failure message: its last log lines and, apart, what
    is not a log line (a traceback), which a long log would otherwise bury."""
    text = broker.stderr_path.read_text(errors="replace") if broker.stderr_path.exists() else ""
    logged = [line for line in text.splitlines() if line.startswith("{")]
    other = [line for line in text.splitlines() if line.strip() and not line.startswith("{")]
    return "\n".join(["--- last log lines ---", *logged[-10:], "--- not log lines ---", *other[-lines:]])


async def assert_alive(broker: BrokerProcess, *, timeout: float = ALIVE_TIMEOUT_S) -> int:
    """The broker process runs and ``GET /healthz`` answers (any status: degraded is alive);
    returns the status code."""
    if not broker.running:
        raise AssertionError(f"broker exited with {broker.process and broker.process.poll()}\n{last_words(broker)}")
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            response = await client.get(f"{broker.http_url}/healthz")
    except httpx.HTTPError as error:
        alive = "running" if broker.running else f"exited {broker.process.poll()}"  # type: ignore[union-attr]
        raise AssertionError(f"/healthz did not answer ({error!r}); process {alive}\n{last_words(broker)}") from None
    return response.status_code


# Tenants -----------------------------------------------------------------------------------------


async def receive(ws: WebSocketConnection, timeout: float = READ_TIMEOUT_S) -> dict[str, Any]:
    """The next frame, decoded (hang-guarded)."""
    with trio.fail_after(timeout):
        return dict(json.loads(await ws.get_message()))


@attrs.frozen
class Tenant:
    """One developer of a running broker: its credentials, token minting, identified clients."""

    broker: BrokerProcess
    credentials: DeveloperCredentials

    @property
    def dev_id(self) -> str:
        return self.credentials.dev_id

    @property
    def api_key(self) -> str:
        return self.credentials.api_key

    async def user_token(self, user: str) -> str:
        """A producer token for ``user`` (``POST /auth/user``)."""
        return await mint_user_token(self.broker.http_url, self.dev_id, self.api_key, user)

    async def developer_token(self) -> str:
        """A consumer token (``POST /auth/developer``)."""
        return await mint_developer_token(self.broker.http_url, self.dev_id, self.api_key)

    async def dashboard_token(self) -> str:
        """A dashboard token (``POST /auth/dashboard``)."""
        async with httpx.AsyncClient(base_url=self.broker.http_url) as client:
            response = await client.post("/auth/dashboard", headers=self.credentials.headers())
        response.raise_for_status()
        return str(response.json()["token"])

    @asynccontextmanager
    async def session(self, token: str, role: int, **identify: Any) -> AsyncIterator[WebSocketConnection]:
        """A WebSocket past HELLO and IDENTIFY with ``token`` as ``role`` (0 producer, 1 consumer,
        2 dashboard); raises ConnectionClosed if the broker refused it."""
        async with open_websocket_url(self.broker.ws_url, disconnect_timeout=1) as ws:
            assert (await receive(ws))["op"] == 2  # HELLO
            await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": role, **identify}}))
            frame = await receive(ws)
            assert frame["op"] == 4, f"expected READY, got {frame}"
            yield ws

    @asynccontextmanager
    async def producer(self, user: str = "hostile-user", **identify: Any) -> AsyncIterator[WebSocketConnection]:
        async with self.session(await self.user_token(user), 0, **identify) as ws:
            yield ws

    @asynccontextmanager
    async def consumer(self) -> AsyncIterator[WebSocketConnection]:
        async with self.session(await self.developer_token(), 1) as ws:
            yield ws

    async def round_trip(self, bound: float = ROUND_TRIP_BOUND_S) -> float:
        """A fresh consumer, a fresh producer, one SUBMIT: its DISPATCH must arrive within
        ``bound`` seconds of the start (token mints included). Returns the seconds it took."""
        start = trio.current_time()
        marker = next(_markers) + uuid.uuid4().int % 1_000_000 * 1000
        try:
            with trio.fail_after(bound):
                await self._round_trip(marker)
        except trio.TooSlowError:
            raise AssertionError(
                f"tenant {self.dev_id}: round trip not done within {bound:g} s\n{last_words(self.broker)}"
            ) from None
        return trio.current_time() - start

    async def _round_trip(self, marker: int) -> None:
        while True:
            try:
                async with self.consumer() as consumer:
                    async with self.producer(f"witness-{marker}") as producer:
                        frame = {"op": 6, "t": "HEART_RATE", "d": {"ts": "2022-05-04T10:26:11+00:00", "val": marker}}
                        await producer.send_message(json.dumps(frame))
                        while True:
                            got = json.loads(await consumer.get_message())
                            if got.get("op") == 5 and got.get("d", {}).get("val") == marker:
                                return
            except ConnectionClosed as closed:
                if closed.reason.code != CONSUMER_CAP:
                    raise AssertionError(f"round trip closed: {closed.reason}") from None
                await trio.sleep(0.05)


async def send(ws: WebSocketConnection, frame: dict[str, Any]) -> None:
    await ws.send_message(json.dumps(frame))


@asynccontextmanager
async def dashboard(tenant: Tenant) -> AsyncIterator[WebSocketConnection]:
    """An identified dashboard session (IDENTIFY type 2) of ``tenant``."""
    async with tenant.session(await tenant.dashboard_token(), 2) as ws:
        yield ws


@attrs.define
class RoundTrips:
    """A tenant's round trips timed *while* an attack goes on (``round_trip()`` checks one after):
    one producer and one consumer, a SUBMIT every ``every`` seconds, each DISPATCH timed.
    Start with ``await nursery.start(trips.run, witness)``; ``worst`` is the longest one."""

    times: list[float] = attrs.field(factory=list)

    @property
    def worst(self) -> float:
        return max(self.times, default=math.inf)

    async def run(
        self, tenant: Tenant, *, every: float = 0.05, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with tenant.consumer() as consumer, tenant.producer("prober") as producer:
            task_status.started()
            for n in itertools.count(1):
                started = trio.current_time()
                await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"val": n}})
                while not ((frame := await receive(consumer, 60))["op"] == 5 and frame["d"]["val"] == n):
                    pass
                self.times.append(trio.current_time() - started)
                await trio.sleep(every)

    async def wait_for_more(self, count: int = 2, timeout: float = 120) -> None:
        """Wait for ``count`` more round trips: the witness's SUBMITs go through the same hub
        writer as the attacker's, so everything the attacker sent before is stored by then."""
        done = len(self.times)
        with trio.fail_after(timeout):
            while len(self.times) < done + count:
                await trio.sleep(0.05)


# Raw sockets -------------------------------------------------------------------------------------


def ws_address(broker: BrokerProcess) -> tuple[str, int]:
    """(host, port) of the broker's WebSocket listener."""
    url = urlsplit(broker.ws_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def http_address(broker: BrokerProcess) -> tuple[str, int]:
    """(host, port) of the broker's HTTP listener (the same as the WebSocket one on one origin)."""
    url = urlsplit(broker.http_url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


async def raw_connect(broker: BrokerProcess, *, http: bool = False) -> trio.SocketStream:
    """A plain TCP connection to the WebSocket listener (``http``: the HTTP one), for
    byte-level attacks."""
    host, port = http_address(broker) if http else ws_address(broker)
    return await trio.open_tcp_stream(host, port)


def reset(stream: trio.SocketStream) -> None:
    """Abort the connection with RST (SO_LINGER on, timeout 0, then close)."""
    stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.socket.close()


def upgrade_request(
    path: str = "/connect", *, version: str = "13", host: str = "127.0.0.1", extra: str = ""
) -> bytes:
    """An HTTP/1.1 WebSocket upgrade request head."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n"
        f"{extra}\r\n"
    ).encode()


# Fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hostile_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-data")


@pytest.fixture(scope="session")
def _developers(hostile_data_dir: Path) -> list[DeveloperCredentials]:
    return create_developers(hostile_data_dir, ["hostile-attacker", "hostile-witness"])


@pytest.fixture(scope="session")
def _shared_broker(
    hostile_data_dir: Path, _developers: list[DeveloperCredentials], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerProcess]:
    process = BrokerProcess.create(hostile_data_dir, log_dir=tmp_path_factory.mktemp("hostile-broker-logs"))
    with process:
        yield process


@pytest.fixture
def broker(_shared_broker: BrokerProcess) -> BrokerProcess:
    """The session's shared broker, restarted first if an earlier test took it down (that test
    failed already; one crash must not fail every test after it)."""
    if not _shared_broker.running:
        _shared_broker.start()
    return _shared_broker


@pytest.fixture
def attacker(broker: BrokerProcess, _developers: list[DeveloperCredentials]) -> Tenant:
    return Tenant(broker, _developers[0])


@pytest.fixture
def witness(broker: BrokerProcess, _developers: list[DeveloperCredentials]) -> Tenant:
    return Tenant(broker, _developers[1])


@pytest.fixture
def start_broker(tmp_path: Path) -> Iterator[Callable[..., tuple[BrokerProcess, Tenant, Tenant]]]:
    """A factory for a test's own broker: ``broker, attacker, witness = start_broker(*flags)``
    (a fresh data dir with two developers; extra ``wearstream broker`` flags as strings)."""
    started: list[BrokerProcess] = []

    def start(*flags: str, data_dir: Path | None = None) -> tuple[BrokerProcess, Tenant, Tenant]:
        where = data_dir or tmp_path / f"data{len(started)}"
        where.mkdir(parents=True, exist_ok=True)
        attacker_dev, witness_dev = create_developers(where, ["attacker", "witness"])
        process = BrokerProcess.create(where, log_dir=tmp_path / f"logs{len(started)}", extra=list(flags))
        started.append(process)
        process.start()
        return process, Tenant(process, attacker_dev), Tenant(process, witness_dev)

    yield start
    for process in started:
        if process.running:
            try:
                process.stop()
            except Exception:  # killed by stop(); the test's own result is what matters
                pass


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[BrokerProcess, DeveloperCredentials]]:
    """A broker of this test's own on a fresh data dir, with one developer: for attacks whose
    proof is exactly what got stored, which a shared broker's other tenants would muddle."""
    dev = create_developer(tmp_path / "data", f"own-{uuid.uuid4().hex[:8]}")
    with BrokerProcess.create(tmp_path / "data", log_dir=tmp_path / "logs") as process:
        yield process, dev


@asynccontextmanager
async def jsonl_consumer(
    broker: BrokerProcess, dev: DeveloperCredentials, tmp_path: Path
) -> AsyncIterator[tuple[ConsumerProcess, Path]]:
    """A real `wearstream consumer` with a jsonl sink, READY before the body runs, stopped after."""
    out = tmp_path / "out.jsonl"
    consumer = ConsumerProcess.create(broker, dev, tmp_path / "consumer", "--sink", f"jsonl:{out}")
    consumer.start()
    try:
        await consumer.until(lambda: "ready" in consumer.stderr(), "the consumer's READY")
        yield consumer, out
    finally:
        consumer.stop()


def jsonl_values(path: Path) -> list[Any]:
    """The ``val`` of every payload a jsonl sink stored, in order."""
    if not path.exists():
        return []
    return [json.loads(line)["d"]["val"] for line in path.read_bytes().split(b"\n")[:-1]]
