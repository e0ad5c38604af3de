"""`wearstream producer-link` when the user got something wrong: one line on stderr naming the
thing and the fix, no traceback, exit 2 for a usage mistake and 1 for the rest. (An expired or
spent link is the page's to say: tests/producer_link/test_flow.py, tests/web_producer.)"""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import trio

from wearstream.testing.broker_process import clean_environment
from wearstream.testing.fixtures import LiveBroker, start_broker

PREFIX = "wearstream producer-link: "


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    return await start_broker(nursery, "producer-link-cli")


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "wearstream.entrypoints.cli", "producer-link", *args]
    done: subprocess.CompletedProcess[bytes] = await trio.run_process(
        command, env={**clean_environment(), **(env or {})}, capture_stdout=True, capture_stderr=True, check=False
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def creds(broker: LiveBroker, **changed: str) -> dict[str, str]:
    return {"WEARSTREAM_DEV_ID": broker.dev_id, "WEARSTREAM_API_KEY": broker.api_key, **changed}


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr and stderr.count("\n") == 1, stderr
    assert stderr.startswith(PREFIX), stderr
    return stderr[len(PREFIX):]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_missing_credentials_name_the_options_and_the_environment(broker: LiveBroker) -> None:
    code, out, err = await run("alice", "--api-url", broker.api_url)
    assert (code, out) == (2, "")
    assert one_line(err) == "missing --dev-id (or WEARSTREAM_DEV_ID), --api-key (or WEARSTREAM_API_KEY)\n"
    code, _, err = await run("alice", "--api-url", broker.api_url, env={"WEARSTREAM_DEV_ID": broker.dev_id})
    assert code == 2 and one_line(err) == "missing --api-key (or WEARSTREAM_API_KEY)\n"


async def test_a_broker_that_is_not_running(broker: LiveBroker) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = await run("alice", "--api-url", url, env=creds(broker))
    assert (code, out) == (1, "")
    assert one_line(err) == f"{url}/auth/producer-link: connection refused; is the broker running there? (try again later)\n"


@pytest.mark.parametrize("url", ["127.0.0.1:8765", "ws://127.0.0.1:8765/connect"])
async def test_an_api_url_that_is_not_http(broker: LiveBroker, url: str) -> None:
    code, _, err = await run("alice", "--api-url", url, env=creds(broker))
    assert code == 1 and "the API URL must start with http:// or https://" in one_line(err)


async def test_the_websocket_path_as_api_url(broker: LiveBroker) -> None:
    code, _, err = await run("alice", "--api-url", broker.api_url + "/connect", env=creds(broker))
    assert code == 1 and "give the API URL (--api-url) as its base, http://HOST:PORT" in one_line(err)


async def test_wrong_credentials_or_an_unknown_developer(broker: LiveBroker) -> None:
    for changed in ({"WEARSTREAM_API_KEY": "not-the-key"}, {"WEARSTREAM_DEV_ID": "dev_unknown"}):
        code, out, err = await run("alice", "--api-url", broker.api_url, env=creds(broker, **changed))
        assert (code, out) == (1, "")
        line = one_line(err)
        assert "(HTTP 403: wrong developer id or API key); check the developer id and API key" in line


async def test_a_revoked_developer(broker: LiveBroker) -> None:
    assert await broker.running.stores.developers.revoke(broker.dev_id)
    code, _, err = await run("alice", "--api-url", broker.api_url, env=creds(broker))
    assert code == 1 and "the developer may have been revoked" in one_line(err)


@pytest.mark.parametrize("user", ["", "x" * 129, "tab\there"])
async def test_a_user_id_the_broker_cannot_take(broker: LiveBroker, user: str) -> None:
    code, out, err = await run(user, "--api-url", broker.api_url, env=creds(broker))
    assert (code, out) == (1, "")
    line = one_line(err)
    assert line.endswith("refused the request (HTTP 400: user id must be 1-128 printable characters)\n"), line
    assert "API key" not in line  # the user id is what to fix, not the credentials


async def test_no_user_is_a_usage_error() -> None:
    code, out, err = await run()
    assert (code, out) == (2, "")
    assert "Traceback" not in err and err.rstrip().endswith("the following arguments are required: USER")


async def test_a_link_is_printed_with_its_qr_code(broker: LiveBroker) -> None:
    code, out, err = await run("alice", "--api-url", broker.api_url, env=creds(broker))
    assert (code, err) == (0, "")
    *qr, url, note = out.splitlines()
    assert url.startswith(broker.api_url + "/produce#link=") and len(qr) > 10 and "█" in qr[0]
    assert note == "Open it on the phone within 15 min; it works once, for user 'alice'."


async def test_https_to_a_broker_without_tls(broker: LiveBroker) -> None:
    url = broker.api_url.replace("http://", "https://")
    code, _, err = await run("alice", "--api-url", url, "--timeout", "1", env=creds(broker))
    # The broker answers a TLS handshake on its plain port at once: a TLS error, not a timeout.
    assert code == 1 and "does this port speak TLS?" in one_line(err), err


def test_the_default_api_url_is_the_broker_s_default_port() -> None:
    import attrs

    from wearstream.entrypoints.broker import BrokerSettings
    from wearstream.entrypoints.token import DEFAULT_API_URL

    assert DEFAULT_API_URL == f"http://127.0.0.1:{attrs.fields(BrokerSettings).port.default}"
