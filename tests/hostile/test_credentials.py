"""What the real `wearstream broker`'s HTTP side tells a stranger: one 403 text for every wrong
credential (unknown id, wrong key, revoked developer), /metrics behind a token when asked, and
CORS only for the origins given."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from wearstream.testing.broker_process import (
    BrokerProcess,
    DeveloperCredentials,
    clean_environment,
    create_developers,
    wearstream_command,
)

pytestmark = pytest.mark.e2e

ORIGIN = "https://app.example"
METRICS_TOKEN = "scrape-me-3f9a"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("credentials")


@pytest.fixture(scope="module")
def developers(data_dir: Path) -> list[DeveloperCredentials]:
    live, revoked = create_developers(data_dir, ["live", "revoked"])
    done = subprocess.run(
        [*wearstream_command(), "developers", "revoke", revoked.dev_id, "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=30, env=clean_environment(),
    )
    assert done.returncode == 0, done.stderr
    return [live, revoked]


@pytest.fixture(scope="module")
def broker(data_dir: Path, developers: list[DeveloperCredentials]) -> Iterator[BrokerProcess]:
    extra = ["--cors-origin", f"{ORIGIN},https://other.example", "--metrics-token", METRICS_TOKEN]
    with BrokerProcess.create(data_dir, log_dir=data_dir / "logs", extra=extra) as process:
        yield process


def test_every_wrong_credential_gets_the_same_answer(
    broker: BrokerProcess, developers: list[DeveloperCredentials]
) -> None:
    live, revoked = developers
    wrong = [
        {"dev-id": "dev_0000000000000000", "x-api-key": live.api_key},  # unknown id
        {"dev-id": live.dev_id, "x-api-key": "not-the-key"},  # wrong key
        revoked.headers(),  # revoked developer, right key
    ]
    answers = set()
    with httpx.Client(base_url=broker.http_url, timeout=10) as http:
        for headers in wrong:
            for path in ("/auth/developer", "/auth/user?id=alice", "/auth/dashboard"):
                response = http.post(path, headers=headers)
                assert response.status_code == 403, (path, headers, response.text)
                answers.add(response.text)
        assert http.post("/auth/developer", headers=live.headers()).status_code == 200
    assert answers == {"wrong developer id or API key"}


def test_metrics_need_the_token(broker: BrokerProcess) -> None:
    with httpx.Client(base_url=broker.http_url, timeout=10) as http:
        anonymous = http.get("/metrics")
        right = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert anonymous.status_code == 401 and "wearstream_" not in anonymous.text
    assert right.status_code == 200 and "wearstream_connections" in right.text


def test_cors_for_the_given_origins_only(
    broker: BrokerProcess, developers: list[DeveloperCredentials]
) -> None:
    live = developers[0]
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "dev-id,x-api-key"}
    with httpx.Client(base_url=broker.http_url, timeout=10) as http:
        for origin in (ORIGIN, "https://other.example"):
            answer = http.options("/auth/user", headers={"Origin": origin, **preflight})
            assert answer.status_code == 200, answer.text
            assert answer.headers["access-control-allow-origin"] == origin
        stranger = http.options("/auth/user", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in stranger.headers
        minted = http.post("/auth/user?id=alice", headers={"Origin": ORIGIN, **live.headers()})
    assert minted.status_code == 200
    assert minted.headers["access-control-allow-origin"] == ORIGIN
