"""``webhook:URL``: each batch POSTed as JSON to a backend, signed, retried until it is taken.

Request: ``POST URL`` with ``Content-Type: application/json`` and the body
``{"developer_id": "...", "payloads": [{"seq", "uid", "t", "d"}, ...]}`` (at most ``max_batch``
payloads per request, seqs ascending). Headers:

- ``X-Wearstream-Delivery``: ``<developer id>:<first seq>-<last seq>``, the same on every retry.
- ``X-Wearstream-Timestamp``: Unix time in whole seconds when this attempt was signed.
- ``X-Wearstream-Signature``: ``sha256=`` + hex HMAC-SHA256, keyed with the webhook secret, of
  ``<timestamp> + "." + <raw body bytes>``. Binding the timestamp stops an old request being
  replayed later: a receiver rejects timestamps more than 5 minutes from its clock, and compares
  signatures in constant time (``verify_signature`` does both). Without a secret the header is
  left out.

Delivery is at least once: the cursor file is replaced (atomically) only after a 2xx answer, so a
crash between the answer and that write sends the batch again after a restart, possibly cut into
other requests. Receivers dedupe by ``seq`` (unique and increasing per developer).

Retries, with ``Backoff`` (exponential, full jitter; ``Retry-After`` respected up to its cap): on
connection errors and timeouts, 408, 429 and 5xx. Any other answer is a receiver's refusal: the
sink raises WebhookRejected naming the status and the start of the body, and commits nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Callable, Sequence

import httpx
import orjson
import trio

from ...domain.backoff import Backoff
from ...domain.stream import Payload
from ...ports.sinks import SinkOptions
from .cursor import CursorFile, cursor_file_name, new_payloads
from .records import json_record

log = logging.getLogger("wearstream.sinks.webhook")

SIGNATURE_HEADER = "X-Wearstream-Signature"
TIMESTAMP_HEADER = "X-Wearstream-Timestamp"
DELIVERY_HEADER = "X-Wearstream-Delivery"
MAX_BATCH = 500
REQUEST_TIMEOUT = 30.0
SIGNATURE_TOLERANCE = 300.0  # seconds a receiver accepts between the timestamp and its clock


class WebhookRejected(Exception):
    """The receiver refused a batch (a 3xx or 4xx other than 408/429): retrying cannot help."""


class WebhookUnavailable(Exception):
    """The receiver kept failing for ``max_attempts`` attempts."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Wearstream-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: float = SIGNATURE_TOLERANCE,
) -> bool:
    """For receivers: whether ``header`` signs ``body`` with ``secret`` at a recent time."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


class WebhookSink:
    """The ``webhook`` SinkFactory: ``WebhookSink("https://backend.example/hook", options)``.

    ``client``, ``backoff``, ``max_attempts`` (None: retry for ever) and ``clock`` are for
    embedding applications and tests; the entry point uses the defaults.
    """

    usage = "webhook:URL"  # what `wearstream sinks` shows

    def __init__(
        self,
        target: str,
        options: SinkOptions,
        *,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
        max_attempts: int | None = None,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not target.startswith(("http://", "https://")):
            raise ValueError(f"the webhook sink needs an http(s) URL, got {target!r}")
        self.url = target
        self.options = options
        self._client = client
        self._owns_client = client is None
        self._backoff = backoff or Backoff()
        self._max_attempts = max_attempts
        self._max_batch = max_batch
        self._clock = clock
        self._cursor_file = CursorFile(options.cursor_dir, cursor_file_name("webhook", target))
        self._cursor = 0

    async def open(self) -> int:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=REQUEST_TIMEOUT)
        self._cursor = await self._cursor_file.load()
        return self._cursor

    async def write(self, payloads: Sequence[Payload], cursor: int) -> None:
        fresh = new_payloads(payloads, self._cursor, cursor)
        records = [json_record(p) for p in fresh]  # an unencodable payload fails before any POST
        for start in range(0, len(fresh), self._max_batch):
            end = start + self._max_batch
            await self._deliver(fresh[start:end], records[start:end])
            await self._commit(fresh[start:end][-1].seq)
        await self._commit(cursor)

    async def aclose(self) -> None:
        """Close the HTTP client this sink made (an injected one belongs to its owner)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            with trio.CancelScope(shield=True):
                await client.aclose()

    async def _commit(self, cursor: int) -> None:
        if cursor > self._cursor:
            await self._cursor_file.save(cursor)
            self._cursor = cursor

    async def _deliver(self, chunk: list[Payload], records: list[bytes]) -> None:
        """POST one chunk until a 2xx; raise on a refusal or after ``max_attempts``."""
        if self._client is None:
            raise RuntimeError(f"webhook sink {self.url} is not open")
        first = chunk[0]
        delivery = f"{first.developer_id}:{first.seq}-{chunk[-1].seq}"
        body = b'{"developer_id":%s,"payloads":[%s]}' % (
            orjson.dumps(first.developer_id),
            b",".join(records),
        )
        attempt = 0
        while True:
            attempt += 1
            problem, wait_at_least = await self._attempt(body, delivery)
            if problem is None:
                self._backoff.reset()
                return
            if self._max_attempts is not None and attempt >= self._max_attempts:
                raise WebhookUnavailable(
                    f"webhook {self.url}: delivery {delivery} failed {attempt} times, "
                    f"last: {problem}"
                )
            delay = max(self._backoff.next_delay(), min(wait_at_least, self._backoff.maximum))
            log.warning(
                "webhook %s: %s; retrying delivery %s in %.1f s", self.url, problem, delivery, delay
            )
            await trio.sleep(delay)

    async def _attempt(self, body: bytes, delivery: str) -> tuple[str | None, float]:
        """One POST: (None, 0) on success, else (what went wrong, Retry-After seconds or 0)."""
        assert self._client is not None
        try:
            headers = self._headers(body, delivery)
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.TransportError as error:
            return f"{type(error).__name__}: {error}", 0.0
        status = response.status_code
        if 200 <= status < 300:
            return None, 0.0
        if not _retryable(status):
            raise WebhookRejected(
                f"webhook {self.url} refused delivery {delivery} with HTTP {status}: "
                f"{response.text[:200]!r}"
            )
        return f"HTTP {status}", _retry_after(response)

    def _headers(self, body: bytes, delivery: str) -> dict[str, str]:
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: delivery,
            TIMESTAMP_HEADER: timestamp,
        }
        if self.options.webhook_secret is not None:
            headers[SIGNATURE_HEADER] = signature(self.options.webhook_secret, timestamp, body)
        return headers


def _retry_after(response: httpx.Response) -> float:
    """Retry-After in seconds (the delta form; an HTTP date counts as no hint)."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0
