"""The webhook sink against a real receiver: signatures, retries, refusals, batching, cursor."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path

import pytest

from wearstream.adapters.http.server import listen_socket
from wearstream.adapters.sinks.webhook import (
    WebhookRejected,
    WebhookSink,
    WebhookUnavailable,
    signature,
    verify_signature,
)
from wearstream.domain.backoff import Backoff
from wearstream.ports.sinks import SinkOptions
from wearstream.testing.contracts.sinks import readings

from .conftest import SECRET, Receiver


def webhook(url: str, path: Path, *, secret: str = SECRET, **kwargs: object) -> WebhookSink:
    options = SinkOptions(webhook_secret=secret, cursor_dir=str(path))
    return WebhookSink(url, options, backoff=Backoff(0.01, 0.05), **kwargs)  # type: ignore[arg-type]


async def test_failed_requests_are_retried_and_nothing_is_lost_or_duplicated(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.fail_next = [500, 503, 429, 408]
    sink = webhook(receiver.url("k"), tmp_path, max_batch=4)
    assert await sink.open() == 0
    try:
        await sink.write(readings(range(1, 11)), 10)
        receiver.fail_next = [502]
        await sink.write(readings(range(8, 14)), 13)  # a resend overlapping the cursor
    finally:
        await sink.aclose()
    assert receiver.refused == [500, 503, 429, 408, 502]
    assert [p["seq"] for p in receiver.payloads("k")] == list(range(1, 14))
    assert receiver.deliveries == ["dev_1:1-4", "dev_1:5-8", "dev_1:9-10", "dev_1:11-13"]
    assert receiver.bad_signatures == 0


async def test_the_body_carries_the_developer_and_the_records(receiver: Receiver, tmp_path: Path) -> None:
    sink = webhook(receiver.url("k"), tmp_path)
    await sink.open()
    try:
        await sink.write(readings([1, 2]), 2)
    finally:
        await sink.aclose()
    (body,) = receiver.bodies["k"]
    assert body["developer_id"] == "dev_1"
    assert [sorted(p) for p in body["payloads"]] == [["d", "seq", "t", "uid"]] * 2


async def test_a_refusal_is_a_clear_error_and_commits_nothing(receiver: Receiver, tmp_path: Path) -> None:
    receiver.fail_next = [422]
    sink = webhook(receiver.url("k"), tmp_path)
    await sink.open()
    try:
        with pytest.raises(WebhookRejected, match="HTTP 422.*not now"):
            await sink.write(readings([1, 2]), 2)
        await sink.write(readings([1, 2]), 2)  # the receiver is fixed: the same batch goes
    finally:
        await sink.aclose()
    assert [p["seq"] for p in receiver.payloads("k")] == [1, 2]


async def test_a_wrong_secret_is_refused_by_the_receiver(receiver: Receiver, tmp_path: Path) -> None:
    sink = webhook(receiver.url("k"), tmp_path, secret="not-the-secret")
    await sink.open()
    try:
        with pytest.raises(WebhookRejected, match="HTTP 401"):
            await sink.write(readings([1]), 1)
    finally:
        await sink.aclose()
    assert receiver.bad_signatures == 1
    reopened = webhook(receiver.url("k"), tmp_path)
    assert await reopened.open() == 0
    await reopened.aclose()


async def test_an_unreachable_receiver_is_retried_then_reported(tmp_path: Path) -> None:
    sock = listen_socket("127.0.0.1", 0)  # a bound port that nobody answers once closed
    port = sock.getsockname()[1]
    sock.close()
    sink = webhook(f"http://127.0.0.1:{port}/hook", tmp_path, max_attempts=3)
    await sink.open()
    try:
        with pytest.raises(WebhookUnavailable, match="failed 3 times.*Connect"):
            await sink.write(readings([1]), 1)
    finally:
        await sink.aclose()


async def test_filtered_out_seqs_advance_the_cursor_without_a_request(
    receiver: Receiver, tmp_path: Path
) -> None:
    sink = webhook(receiver.url("k"), tmp_path)
    await sink.open()
    try:
        await sink.write([], 40)
    finally:
        await sink.aclose()
    assert receiver.bodies == {}
    reopened = webhook(receiver.url("k"), tmp_path)
    assert await reopened.open() == 40
    await reopened.aclose()


def test_only_http_urls_are_targets() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSink("ftp://example.org/x", SinkOptions())


# The signature scheme -----------------------------------------------------------------------


def test_a_signature_binds_the_body_and_the_timestamp() -> None:
    body, now = b'{"payloads":[]}', time.time()
    stamp = str(int(now))
    header = signature(SECRET, stamp, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, stamp, body, header, now=now)
    assert not verify_signature(SECRET, stamp, body + b" ", header, now=now)
    assert not verify_signature("other", stamp, body, header, now=now)
    assert not verify_signature(SECRET, str(int(now) + 1), body, header, now=now)
    assert not verify_signature(SECRET, stamp, body, header, now=now + 301)  # a replay
    assert not verify_signature(SECRET, "yesterday", body, header, now=now)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    want = hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature("key", "1700000000", b"{}") == f"sha256={want}"
