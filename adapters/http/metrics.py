"""Prometheus metrics of one broker, served at ``GET /metrics`` in the text exposition format.

Each broker gets its own registry (not prometheus-client's global one), so a process running
several brokers, as tests and the demo do, reports each on its own and nothing collides.

Two kinds of numbers. Events that happen in passing (payloads stored and dispatched, log append
times, token mints) are counted as they happen, through small hooks: the hub's ``on_dispatch``, a
StreamLog wrapper and a TokenStore wrapper, so neither the hub nor the token API knows Prometheus.
The per-payload counts go into plain dicts (a dict increment, not a locked Counter child per
payload) that a collector reports when scraped.
State that already lives in the broker (open connections by role, queue depths, close codes
sent, replay requests) is read when scraped, so it can never drift from the truth.

What it tells (and so who may read it, see docs/metrics.md): counts and timings only, never a
token, key or payload; but developer ids appear as label values, and the counts show how busy
each developer is. ``route(token)`` makes the endpoint require a bearer token.

Cardinality is bounded: a ``type`` label is a known data type or ``other`` (a producer may send
any label), and a ``developer`` label is the developer id for the first ``max_developers`` ids
seen (100 by default), ``other`` after that.
"""

from __future__ import annotations

import bisect
import collections
import hmac
import time
from typing import Any, Iterator, Mapping, Sequence, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ...domain.datatypes import DataType
from ...domain.identity import Role, Token
from ...domain.stream import Payload
from ...ports.storage import AppendsNow, SharedStreamLog, StreamLog, Submission, TokenStore

F = TypeVar("F", bound=Metric)

MAX_DEVELOPER_LABELS = 100
# A payload's type label: its own for the data types of the protocol, else "other" (bounded).
# Looked up with TYPE_LABELS.get(t, "other"): one C call per reading, no Python call.
TYPE_LABELS = {t.value: t.value for t in DataType}
ROLES = [role.name.lower() for role in Role]
# Log appends: sub-millisecond in memory, milliseconds for SQLite and Redis, more is trouble.
APPEND_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class DeveloperLabels:
    """The first ``cap`` developer ids seen are labels of their own; the rest share ``other``."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._seen: set[str] = set()

    def __call__(self, developer_id: str) -> str:
        if developer_id in self._seen:
            return developer_id
        if len(self._seen) < self.cap:
            self._seen.add(developer_id)
            return developer_id
        return "other"


class BrokerMetrics:
    """The registry of one broker and the hooks that feed it."""

    def __init__(self, *, max_developers: int = MAX_DEVELOPER_LABELS) -> None:
        self.registry = CollectorRegistry()
        self.developer = DeveloperLabels(max_developers)
        # Counted on every append and dispatch: plain dicts by label values (both bounded),
        # read when scraped (_Counted). A prometheus Counter child's inc() takes a lock, and
        # its labels() lookup costs more than the count itself.
        self.stored_counts: dict[tuple[str, str], int] = {}  # (type, developer) → payloads
        self.dispatched_counts: dict[str, int] = {}  # type → frames queued
        self.append_seconds = AppendTimes(APPEND_BUCKETS)  # the same for the append times
        self.registry.register(_Counted(self))
        self.tokens_minted = Counter(
            "wearstream_tokens_minted", "Tokens minted over HTTP, by role and developer",
            ["role", "developer"], registry=self.registry,
        )

    def watch(self, broker: Any, hub: Any) -> None:
        """Report this broker's state and its hub's dispatches (the hub is built after its log,
        which already reports here, hence a second step)."""
        self.registry.register(_BrokerState(broker, hub, self.developer))
        hub.on_dispatch = self.dispatched

    def dispatched(self, payload: Payload, queues: int) -> None:
        t = TYPE_LABELS.get(payload.t, "other")
        counts = self.dispatched_counts
        counts[t] = counts.get(t, 0) + queues

    def stored(self, payloads: Sequence[Payload], seconds: float) -> None:
        self.append_seconds.observe(seconds)
        counts, developer = self.stored_counts, self.developer
        for payload in payloads:
            key = (TYPE_LABELS.get(payload.t, "other"), developer(payload.developer_id))
            counts[key] = counts.get(key, 0) + 1

    def minted(self, token: Token) -> None:
        self.tokens_minted.labels(token.role.name.lower(), self.developer(token.developer_id)).inc()

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def route(self, token: str | None = None) -> Route:
        """``GET /metrics``, open to anyone, or with ``token`` only to a scraper that sends
        ``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials: …}``)."""
        if token is None:
            return Route("/metrics", self.endpoint, methods=["GET"])
        expected = f"Bearer {token}".encode()

        async def guarded(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return PlainTextResponse(
                    "send Authorization: Bearer <the broker's --metrics-token>",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            return await self.endpoint(request)

        return Route("/metrics", guarded, methods=["GET"])


class AppendTimes:
    """A histogram of log append times kept in plain numbers, read when scraped.

    Why not prometheus-client's Histogram: its ``observe`` takes a lock per bucket and one for
    the sum, and at 1,000 producers × 1 Hz every reading is an append of its own, so that cost
    a reading more than the memory log's append itself (docs/benchmarks.md, "Metrics")."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # per bucket, not cumulative; last: +Inf
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1  # le is inclusive
        self.sum += seconds

    def family(self, name: str, documentation: str) -> HistogramMetricFamily:
        cumulative, buckets = 0, []
        for bound, count in zip([*map(str, self.bounds), "+Inf"], self.counts):
            cumulative += count
            buckets.append((bound, cumulative))
        return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=self.sum)


class _Counted:
    """A collector of what BrokerMetrics counts in plain numbers (payloads stored and
    dispatched, append times)."""

    def __init__(self, metrics: BrokerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield _labelled(CounterMetricFamily(
            "wearstream_payloads_in", "Payloads stored in the log, by data type and developer",
            labels=["type", "developer"],
        ), self.metrics.stored_counts)
        yield _labelled(CounterMetricFamily(
            "wearstream_payloads_out",
            "Live DISPATCH frames queued for consumers and dashboards, by data type",
            labels=["type"],
        ), self.metrics.dispatched_counts)
        yield self.metrics.append_seconds.family(
            "wearstream_log_append_seconds", "Time of one log append (one batch of payloads)"
        )


class _BrokerState:
    """A collector that reads the broker's own state at scrape time."""

    def __init__(self, broker: Any, hub: Any, developer: DeveloperLabels) -> None:
        self.broker = broker
        self.hub = hub
        self.developer = developer

    def collect(self) -> Iterator[Metric]:
        connections = collections.Counter({role: 0 for role in [*ROLES, "unidentified"]})
        depth: dict[tuple[str, str], int] = {}
        lagging = 0
        for connection in list(self.broker.connections):
            who = connection.principal
            role = who.role.name.lower() if who is not None else "unidentified"
            connections[role] += 1
            queue = connection.queue
            if queue is not None:
                key = (role, self.developer(queue.developer_id))
                depth[key] = max(depth.get(key, 0), queue.depth)
                lagging += getattr(queue, "lagging", False)
        yield _labelled(GaugeMetricFamily(
            "wearstream_connections", "Open WebSocket connections by role", labels=["role"]
        ), connections)
        yield _labelled(GaugeMetricFamily(
            "wearstream_queue_depth",
            "Frames waiting in the deepest consumer or dashboard queue, by role and developer",
            labels=["role", "developer"],
        ), depth)
        yield GaugeMetricFamily(
            "wearstream_consumers_lagging", "Consumers catching up from the log", value=lagging
        )
        yield _labelled(CounterMetricFamily(
            "wearstream_closes", "Connections closed by the broker, by close code", labels=["code"]
        ), self.broker.closes)
        yield _labelled(CounterMetricFamily(
            "wearstream_frames_dropped",
            "Frames dropped without closing (a malformed SUBMIT, REPLAY or STATUS), by op",
            labels=["op"],
        ), self.broker.dropped)
        yield CounterMetricFamily(
            "wearstream_replay_requests", "REPLAY requests from consumers", value=self.broker.replay_requests
        )


def _labelled(family: F, values: Mapping[Any, int]) -> F:
    """``family`` with one sample per key of ``values`` (a label value, or a tuple of them), in
    sorted order so that scrapes read alike."""
    for key, value in sorted(values.items()):
        family.add_metric([str(k) for k in (key if isinstance(key, tuple) else (key,))], value)
    return family


class MeteredStreamLog:
    """A StreamLog that times each append and counts what it stored (everything else passes)."""

    def __init__(self, inner: StreamLog, metrics: BrokerMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def append(self, payloads: Sequence[Payload]) -> None:
        started = time.perf_counter()
        await self._inner.append(payloads)
        self._metrics.stored(payloads, time.perf_counter() - started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeteredSharedStreamLog(MeteredStreamLog):
    """The same for a log shared by several nodes, which numbers and stores in one call."""

    async def append_new(
        self, submissions: Sequence[Submission], floors: dict[str, int]
    ) -> list[Payload | None]:
        started = time.perf_counter()
        payloads = await self._inner.append_new(submissions, floors)  # type: ignore[attr-defined]
        self._metrics.stored([p for p in payloads if p is not None], time.perf_counter() - started)
        return payloads


class MeteredLogThatAppendsNow(MeteredStreamLog):
    """The same for a log that appends without waiting (ports.storage.AppendsNow)."""

    def append_now(self, payloads: Sequence[Payload]) -> None:
        started = time.perf_counter()
        self._inner.append_now(payloads)  # type: ignore[attr-defined]
        self._metrics.stored(payloads, time.perf_counter() - started)


def metered_log(inner: StreamLog, metrics: BrokerMetrics) -> StreamLog:
    """Wrap ``inner`` so that it stays a SharedStreamLog, or AppendsNow, exactly when it was."""
    if isinstance(inner, SharedStreamLog):
        return MeteredSharedStreamLog(inner, metrics)  # type: ignore[return-value]
    if isinstance(inner, AppendsNow):
        return MeteredLogThatAppendsNow(inner, metrics)  # type: ignore[return-value]
    return MeteredStreamLog(inner, metrics)  # type: ignore[return-value]


class MeteredTokenStore:
    """A TokenStore that counts the tokens put into it (the mints), by role and developer."""

    def __init__(self, inner: TokenStore, metrics: BrokerMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def put(self, token: Token) -> None:
        await self._inner.put(token)
        self._metrics.minted(token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
