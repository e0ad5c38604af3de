"""Built-in TLS: `--certfile/--keyfile` serve wss:// and https:// on the one port (issue 13,
item 4), tested with a self-signed CA and certificate made here (trustme)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Iterator

import httpx
import orjson
import pytest
import trio
import trustme
from trio_websocket import open_websocket_url

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials, create_developer

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
    with trio.fail_after(10):
        try:
            while await stream.receive_some(4096):
                pass
        except trio.BrokenResourceError:
            pass
    await stream.aclose()
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
