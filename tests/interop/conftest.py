"""One real `wearstream broker` subprocess for the interoperability suite, its developers, token
minting over HTTP, and the one check every client's round trip is held to.

The client tests share one developer (each with its own user, and its consumer skips the
DISPATCH of other users); a test of tenant isolation takes developers of its own. Every
developer costs a CLI process, which is most of the suite's start-up time.

A second broker serves TLS (`--certfile/--keyfile`, a certificate of a CA made in the test with
trustme) for the clients whose TLS stacks differ: Python's OpenSSL, Node's and Chromium's.

Only the broker's public surface is used: the URLs it announces, its HTTP token API and its
WebSocket endpoint. So the suite holds whichever WebSocket server the broker runs.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Iterator

import attrs
import httpx
import pytest
import trustme

from wearstream.testing.broker_process import BrokerProcess, DeveloperCredentials, create_developers

HEARTBEAT_INTERVAL_MS = 2000  # the HELLO every client must read; the 4005 window is 1.5x this
TENANTS = 2  # developers beyond the shared one
MAX_CONSUMERS = 4  # the shared developer's: a closing consumer never blocks the next test's
PRODUCER, CONSUMER = 0, 1
NORMAL, INVALID_TOKEN = 1000, 4001


@attrs.define
class Interop:
    """The running broker, the developer the client tests share, and the tenants' ones."""

    process: BrokerProcess
    shared: DeveloperCredentials
    tenants: list[DeveloperCredentials]
    ca: trustme.CA | None = None  # set when the broker serves TLS with a certificate of this CA
    ca_file: Path | None = None  # the CA's certificate as PEM, for clients outside Python

    def client_ssl(self) -> ssl.SSLContext | None:
        """A context that trusts the broker's CA (None without TLS)."""
        if self.ca is None:
            return None
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    @property
    def ws_url(self) -> str:
        return self.process.ws_url

    @property
    def http_url(self) -> str:
        return self.process.http_url

    def mint(self, dev: DeveloperCredentials, user: str | None = None) -> str:
        """POST /auth/user?id=USER (a producer token), or /auth/developer when ``user`` is None."""
        path, params = ("/auth/developer", {}) if user is None else ("/auth/user", {"id": user})
        response = httpx.post(
            self.http_url + path, params=params, headers=dev.headers(), timeout=10,
            verify=self.client_ssl() or True,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        return str(response.json()["token"])


@pytest.fixture(scope="session")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    data = tmp_path_factory.mktemp("interop-data")
    shared, *tenants = create_developers(data, [f"interop{i}" for i in range(1 + TENANTS)])
    broker = BrokerProcess.create(
        data, log_dir=tmp_path_factory.mktemp("interop-logs"),
        heartbeat_interval=HEARTBEAT_INTERVAL_MS, identify_timeout=5.0, max_consumers=MAX_CONSUMERS,
    )
    with broker:
        yield Interop(broker, shared, tenants)
        assert broker.running, f"the broker died during the suite\n{broker.output()}"


@pytest.fixture(scope="session")
def tls_interop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Interop]:
    """A broker serving wss:// and https:// on its one port, with one developer."""
    data = tmp_path_factory.mktemp("interop-tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile, ca_file = data / "cert.pem", data / "key.pem", data / "ca.pem"
    cert.private_key_pem.write_to_path(str(keyfile))
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(str(certfile), append=True)
    ca.cert_pem.write_to_path(str(ca_file))
    (shared,) = create_developers(data, ["interop-tls"])
    broker = BrokerProcess.create(
        data, log_dir=data / "logs", heartbeat_interval=HEARTBEAT_INTERVAL_MS,
        max_consumers=MAX_CONSUMERS, extra=["--certfile", str(certfile), "--keyfile", str(keyfile)],
    )
    with broker:
        assert broker.ws_url.startswith("wss://"), broker.ws_url
        yield Interop(broker, shared, [], ca, ca_file)
        assert broker.running, f"the TLS broker died during the suite\n{broker.output()}"


def running(interop: Interop) -> Interop:
    if not interop.process.running:
        pytest.fail(f"the broker is not running\n{interop.process.output()}")
    return interop


@pytest.fixture
def broker(interop: Interop) -> Interop:
    return running(interop)


@pytest.fixture(params=["ws", "wss"])
def any_broker(request: pytest.FixtureRequest) -> Interop:
    """The plain broker, then the TLS one: for the clients with a TLS stack of their own."""
    return running(request.getfixturevalue("interop" if request.param == "ws" else "tls_interop"))


LARGE_NOTE = 70_000  # a field that makes a frame need a 64-bit length (over 65,535 bytes)


def readings_for(client: str) -> dict[str, Any]:
    """What a client's producer SUBMITs: its own user, a small reading (a 7-bit or 16-bit frame
    length) and a large one (a 64-bit length, both ways), so a mix-up or a framing slip would show."""
    ts = "2026-12-06T03:00:00.123456+01:00"
    return {
        "user": f"user-{client}",
        "readings": [
            {"t": "HEART_RATE", "d": {"ts": ts, "val": 61 + len(client)}},
            {"t": "HEART_RATE", "d": {"ts": ts, "val": 62, "note": "x" * LARGE_NOTE + "é♥"}},
        ],
    }


def check_round_trip(result: dict[str, Any], sent: dict[str, Any]) -> None:
    """What every client must have seen, each as its own library reported it.

    ``result`` keys: ``hello`` (the consumer's HELLO frame), ``ready`` (op of the answers to the
    consumer's and producer's IDENTIFY), ``acks`` (HEARTBEAT_ACKs received by the consumer, and
    by the producer), ``dispatches`` (the DISPATCH frames of the user), ``closes`` (the close code
    the producer, then the consumer, got back after closing with 1000) and ``spent`` ([code,
    reason] of the server's close when the used producer token is presented again)."""
    assert result["hello"]["op"] == 2
    assert result["hello"]["d"]["heartbeat_interval"] == HEARTBEAT_INTERVAL_MS
    assert result["ready"] == [4, 4]
    consumer_acks, producer_acks = result["acks"]
    assert consumer_acks >= 4 and producer_acks >= 1, result["acks"]
    dispatches = result["dispatches"]
    assert [(f["op"], f["uid"], f["t"], f["d"]) for f in dispatches] == [
        (5, sent["user"], r["t"], r["d"]) for r in sent["readings"]
    ]
    seqs = [f["seq"] for f in dispatches]
    assert all(isinstance(seq, int) for seq in seqs) and seqs == sorted(set(seqs)), seqs
    assert result["closes"] == [NORMAL, NORMAL]
    code, reason = result["spent"]
    assert code == INVALID_TOKEN and reason, result["spent"]
