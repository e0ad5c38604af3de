"""`wearstream overlay-url`, run as a user runs it, against an in-process broker."""

from __future__ import annotations

import subprocess
import sys

import httpx
import trio

from wearstream.testing.broker_process import clean_environment
from wearstream.testing.fixtures import LiveBroker


async def overlay_url(broker: LiveBroker, *args: str, creds: bool = True) -> subprocess.CompletedProcess[bytes]:
    env = clean_environment()
    if creds:
        env.update(WEARSTREAM_DEV_ID=broker.dev_id, WEARSTREAM_API_KEY=broker.api_key)
    command = [sys.executable, "-m", "wearstream.entrypoints.cli", "overlay-url", *args, "--api-url", broker.api_url]
    return await trio.run_process(command, env=env, capture_stdout=True, capture_stderr=True, check=False)


async def test_it_prints_a_url_that_shows_the_overlay(broker: LiveBroker) -> None:
    done = await overlay_url(broker, "alice", "--color", "#00ff88", "--size", "90", "--days", "7")
    assert done.returncode == 0, done.stderr
    url = done.stdout.decode().strip()
    assert url.startswith(f"{broker.api_url}/overlay/alice?type=HEART_RATE&token=ov1.")
    assert "color=%2300ff88" in url and "size=90" in url and broker.api_key not in url
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 200


async def test_a_theme_the_broker_refuses_is_reported_now(broker: LiveBroker) -> None:
    done = await overlay_url(broker, "alice", "--color", "url(x)")
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().startswith("wearstream overlay-url: the broker refuses this overlay: ?color=")
    assert b"Traceback" not in done.stderr


async def test_missing_credentials_or_a_wrong_key_are_one_line(broker: LiveBroker) -> None:
    missing = await overlay_url(broker, "alice", creds=False)
    assert missing.returncode == 2 and b"missing --dev-id" in missing.stderr
    wrong = await overlay_url(broker, "alice", "--api-key", "not-the-key")
    assert wrong.returncode == 1 and b"Traceback" not in wrong.stderr
    assert len(wrong.stderr.decode().strip().splitlines()) == 1
