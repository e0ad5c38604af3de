"""Built-in TLS: `--certfile/--keyfile` serve wss:// and https:// on the one port (issue 13,
item 4), tested with a self-signed CA and certificate made here (trustme)."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator

import httpx
import orjson
import pytest
import trio
import trustme
from trio_websocket import open_websocket_url

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    wearstream_command,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_broker(
    tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA
) -> Iterator[tuple[BrokerProcess, DeveloperCredentials]]:
    data = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = data / "cert.pem", data / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(certfile), append=True)
    cert.private_key_pem.write_to_path(str(keyfile))
    developer = create_developer(data, "secure")
    args = ["--certfile", str(certfile), "--keyfile", str(keyfile)]
    with BrokerProcess.create(data, log_dir=data / "logs", extra=args) as process:
        yield process, developer


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_wss_and_https_on_one_port(tls_broker: tuple[BrokerProcess, DeveloperCredentials], ca: trustme.CA) -> None:
    broker, developer = tls_broker
    assert broker.ws_url.startswith("wss://") and broker.http_url.startswith("https://")
    assert broker.ws_url.split("/")[2] == broker.http_url.split("/")[2]  # one host:port
    context = client_context(ca)
    async with httpx.AsyncClient(base_url=broker.http_url, verify=context, headers=developer.headers()) as http:
        assert (await http.get("/healthz")).status_code == 200
        token = (await http.post("/auth/user", params={"id": "alice"})).json()["token"]
        config = (await http.get("/dashboard/config")).json()
    assert config["ws_url"] == broker.ws_url
    with trio.fail_after(10):
        async with open_websocket_url(broker.ws_url, ssl_context=context) as ws:
            assert orjson.loads(await ws.get_message())["op"] == 2
            await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": 0}}).decode())
            assert orjson.loads(await ws.get_message())["op"] == 4


async def test_plain_text_on_the_tls_port_is_closed_and_the_broker_carries_on(
    tls_broker: tuple[BrokerProcess, DeveloperCredentials], ca: trustme.CA
) -> None:
    broker, _ = tls_broker
    host, port = broker.http_url.split("/")[2].split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    with trio.fail_after(10):
        try:
            while chunk := await stream.receive_some(4096):
                answer += chunk
        except trio.BrokenResourceError:
            pass
    await stream.aclose()
    assert answer.startswith(b"HTTP/1.1 400") and b"use wss:// or https://" in answer, answer
    async with httpx.AsyncClient(base_url=broker.http_url, verify=client_context(ca)) as http:
        assert (await http.get("/healthz")).status_code == 200


def test_an_unusable_certificate_is_one_line_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    process = BrokerProcess.create(None, log_dir=tmp_path, extra=["--certfile", str(bad)])
    with pytest.raises(Exception):
        process.start(timeout=20)
    assert process.returncode == 2
    stderr = process.stderr_path.read_text()
    assert f"cannot use {bad}" in stderr and "Traceback" not in stderr


def test_wss_to_a_port_without_tls_stops_the_producer_at_once(tmp_path: Path) -> None:
    """The broker answers a TLS handshake on its plain port at once, so the client's own
    one-line error comes in a moment, not after --handshake-timeout, and the producer stops
    (it used to time out and reconnect for ever)."""
    developer = create_developer(tmp_path / "data", "plain")
    env = {**clean_environment(), "XDG_DATA_HOME": str(tmp_path / "home")}
    with BrokerProcess.create(tmp_path / "data", log_dir=tmp_path / "logs") as broker:
        started = time.monotonic()
        result = subprocess.run(
            [
                *wearstream_command(), "producer", "--broker-url", broker.ws_url.replace("ws://", "wss://"),
                "--api-url", broker.http_url, "--dev-id", developer.dev_id, "--api-key", developer.api_key,
                "--user-id", "alice", "--device", "sim:hr-strap",
            ],
            capture_output=True, text=True, timeout=60, env=env,
        )
        elapsed = time.monotonic() - started
    assert result.returncode in (1, 2), result
    assert "TLS handshake failed" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert elapsed < 8.0, f"stopped after {elapsed:.1f} s"


def test_http_to_the_tls_port_stops_the_consumer_saying_so(
    tls_broker: tuple[BrokerProcess, DeveloperCredentials], tmp_path: Path
) -> None:
    """A consumer given http:// and ws:// for a broker with --certfile used to retry for ever
    on 'Server disconnected without sending a response'."""
    broker, developer = tls_broker
    result = subprocess.run(
        [
            *wearstream_command(), "consumer", "--api-url", broker.http_url.replace("https://", "http://"),
            "--broker-url", broker.ws_url.replace("wss://", "ws://"), "--dev-id", developer.dev_id,
            "--api-key", developer.api_key, "--sink", f"jsonl:{tmp_path / 'out.jsonl'}",
        ],
        capture_output=True, text=True, timeout=60, env=clean_environment(),
    )
    assert result.returncode in (1, 2), result
    last = result.stderr.strip().splitlines()[-1]
    assert "use wss:// or https://" in last and "Traceback" not in result.stderr, result.stderr


async def test_a_0x16_inside_a_tls_session_is_a_bad_request_not_a_plain_port(
    tls_broker: tuple[BrokerProcess, DeveloperCredentials], ca: trustme.CA
) -> None:
    broker, _ = tls_broker
    host, port = broker.http_url.split("/")[2].split(":")
    stream = await trio.open_ssl_over_tcp_stream(host, int(port), ssl_context=client_context(ca))
    await stream.send_all(b"\x16GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with trio.fail_after(10):
        try:
            while await stream.receive_some(4096):
                pass
        except trio.BrokenResourceError:
            pass
    await stream.aclose()
    assert "a TLS handshake on a port without TLS" not in broker.output()
