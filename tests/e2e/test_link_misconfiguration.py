"""A permanent misconfiguration stops `wearstream producer` and `wearstream consumer` within
seconds, with one line naming the URL and what to do, and exit 2 (issue 15.6): through the real
CLI, against a real broker and a few real wrong servers (one answering a bare HTTP 400, one
speaking TLS with a certificate nobody trusts)."""

from __future__ import annotations

import shutil
import socket
import socketserver
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import attrs
import pytest

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developer,
    wearstream_command,
)

pytestmark = pytest.mark.e2e

FEW_SECONDS = 15.0  # generous for a loaded 2-core box; a link that retries never ends at all


@attrs.frozen
class Setup:
    broker: BrokerProcess
    dev: DeveloperCredentials
    bare_400: str  # http:// URL of a server answering every request with an empty 400
    untrusted_tls: str  # host:port of a TLS server whose certificate nobody trusts


class _Bare400(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")


class _UntrustedTls(socketserver.BaseRequestHandler):
    context: ssl.SSLContext

    def handle(self) -> None:
        try:
            with self.context.wrap_socket(self.request, server_side=True) as tls:
                tls.recv(1)
        except (OSError, ssl.SSLError):
            pass  # the client refused the certificate: that is the point


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a self-signed certificate (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("misconfig")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    tls_handler = type("Tls", (_UntrustedTls,), {"context": context})
    dev = create_developer(tmp / "data", "misconfig")
    with BrokerProcess.create(tmp / "data", log_dir=tmp / "logs") as broker:
        bare = _serve(_Bare400)
        tls = _serve(tls_handler)
        setup = Setup(broker, dev, f"http://{next(bare)}", next(tls))
        yield setup
        for server in (bare, tls):
            server.close()


def _ws_path(s: Setup) -> tuple[str, str]:
    return s.broker.ws_url.replace("/connect", "/stream"), s.broker.http_url


CASES: dict[str, tuple[Callable[[Setup], tuple[str, str]], str, str]] = {
    # name: (broker URL and API URL, what the line must say, the URL it must name)
    "wrong WebSocket path": (_ws_path, "HTTP 404", "/stream"),
    "API URL at a server that is not the API": (
        lambda s: (s.broker.ws_url, s.bare_400), "not the broker's token API", "/auth/"
    ),
    "API URL with a wrong path": (
        lambda s: (s.broker.ws_url, s.broker.http_url + "/v2"), "not the broker's token API", "/v2/auth/"
    ),
    "WebSocket with an untrusted certificate": (
        lambda s: (f"wss://{s.untrusted_tls}/connect", s.broker.http_url), "certificate", "wss://"
    ),
    "token API with an untrusted certificate": (
        lambda s: (s.broker.ws_url, f"https://{s.untrusted_tls}"), "certificate", "https://"
    ),
}


def _command(role: str, setup: Setup, broker_url: str, api_url: str, tmp: Path, key: str) -> list[str]:
    common = ["--broker-url", broker_url, "--api-url", api_url,
              "--dev-id", setup.dev.dev_id, "--api-key", key]
    if role == "producer":
        return [*wearstream_command(), "producer", "--user-id", "u1", "--device", "sim:hr-strap",
                "--outbox", str(tmp / "outbox.db"), *common]
    return [*wearstream_command(), "consumer", "--cursor-dir", str(tmp / "cursors"), *common]


def _run(command: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=clean_environment(),
                                timeout=60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"still running after 60 s (retrying forever?):\n{error.stderr}")
    return result, time.monotonic() - began


def _check_one_line(result: subprocess.CompletedProcess[str], role: str, words: str, url: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "b'" not in result.stderr
    assert "reconnecting" not in result.stderr and "retrying" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"wearstream {role}: "), result.stderr
    assert words in last and url in last, last
    return last


@pytest.mark.parametrize("role", ["producer", "consumer"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_permanent_misconfiguration_stops_with_one_line(setup, tmp_path, role, case) -> None:
    urls, words, url = CASES[case]
    broker_url, api_url = urls(setup)
    result, took = _run(_command(role, setup, broker_url, api_url, tmp_path, setup.dev.api_key))
    _check_one_line(result, role, words, url)
    assert took < FEW_SECONDS


@pytest.mark.parametrize("role", ["producer", "consumer"])
def test_a_wrong_api_key_stops_with_one_line(setup, tmp_path, role) -> None:
    command = _command(role, setup, setup.broker.ws_url, setup.broker.http_url, tmp_path, "wrong")
    result, took = _run(command)
    last = _check_one_line(result, role, "HTTP 403", setup.broker.http_url)
    assert "--api-key" in last and took < FEW_SECONDS


def test_a_refused_port_is_retried_not_stopped(setup, tmp_path) -> None:
    """The broker may be starting or restarting: a refused connection is no misconfiguration."""
    with socket.socket() as closed:  # bound, not listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        command = _command("consumer", setup, f"ws://127.0.0.1:{port}/connect",
                           setup.broker.http_url, tmp_path, setup.dev.api_key)
        log = tmp_path / "stderr"
        with log.open("w") as err:
            process = subprocess.Popen(command, stderr=err, env=clean_environment(),
                                       stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while log.read_text().count("retrying") < 3 and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.1)
        finally:
            process.terminate()
            process.wait(timeout=20)
    text = log.read_text()
    assert text.count("connection refused") >= 3 and "retrying" in text
