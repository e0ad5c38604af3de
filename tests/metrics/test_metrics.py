"""GET /metrics after real traffic: connections, payloads by type, closes, replays, mints, latency."""

from __future__ import annotations

import httpx
import trio
from trio_websocket import open_websocket_url

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from wearstream.adapters.http.metrics import APPEND_BUCKETS, TYPE_LABELS, AppendTimes, DeveloperLabels
from wearstream.testing.fixtures import LiveBroker, start_broker
from wearstream.testing.wire import identify, mint, receive, send

from .conftest import scrape, value

TS = "2024-05-04T10:26:11.268507+00:00"


async def test_metrics_count_what_really_happened(wearstream_broker: LiveBroker) -> None:
    broker, dev = wearstream_broker, wearstream_broker.dev_id
    async with open_websocket_url(broker.ws_url) as consumer, open_websocket_url(broker.ws_url) as producer:
        assert (await identify(consumer, await mint(broker, "/auth/developer"), 1))["op"] == 4
        assert (await identify(producer, await mint(broker, "/auth/user?id=u1"), 0))["op"] == 4
        for bpm in (60, 61, 62):
            await send(producer, {"op": 6, "t": "HEART_RATE", "d": {"ts": TS, "val": bpm}})
        await send(producer, {"op": 6, "t": "MY_OWN_SENSOR", "d": {"ts": TS, "val": 1}})
        seqs = [(await receive(consumer))["seq"] for _ in range(4)]
        await send(consumer, {"op": 7, "d": {"after": 0, "before": seqs[-1] + 1}})
        for _ in range(4):
            await receive(consumer)  # the replay
        async with open_websocket_url(broker.ws_url) as stranger:
            assert (await identify(stranger, "not-a-token", 0))["close"] == 4001

        samples = await scrape(broker)
        assert value(samples, "wearstream_connections", role="consumer") == 1
        assert value(samples, "wearstream_connections", role="producer") == 1
        assert value(samples, "wearstream_queue_depth", role="consumer", developer=dev) == 0
    assert value(samples, "wearstream_payloads_in_total", type="HEART_RATE", developer=dev) == 3
    assert value(samples, "wearstream_payloads_in_total", type="other", developer=dev) == 1
    assert value(samples, "wearstream_payloads_out_total", type="HEART_RATE") == 3
    assert value(samples, "wearstream_tokens_minted_total", role="consumer", developer=dev) == 1
    assert value(samples, "wearstream_tokens_minted_total", role="producer", developer=dev) == 1
    assert value(samples, "wearstream_closes_total", code="4001") == 1
    assert value(samples, "wearstream_replay_requests_total") == 1
    assert value(samples, "wearstream_log_append_seconds_count") >= 1
    assert value(samples, "wearstream_log_append_seconds_bucket", le="+Inf") >= 1


async def test_each_broker_in_a_process_reports_only_itself(
    wearstream_broker: LiveBroker, nursery: trio.Nursery
) -> None:
    other = await start_broker(nursery, "other")
    await mint(wearstream_broker, "/auth/developer")
    here, there = await scrape(wearstream_broker), await scrape(other)
    dev = wearstream_broker.dev_id
    assert value(here, "wearstream_tokens_minted_total", role="consumer", developer=dev) == 1
    assert not any(name == "wearstream_tokens_minted_total" for name, _ in there)


def test_labels_stay_bounded() -> None:
    labels = DeveloperLabels(cap=2)
    assert [labels(d) for d in ("a", "b", "c", "a", "d")] == ["a", "b", "other", "a", "other"]
    labels_of = [TYPE_LABELS.get(t, "other") for t in ("HEART_RATE", "RUNNING_HEART_RATE", "x")]
    assert tuple(labels_of) == (
        "HEART_RATE", "other", "other",
    )


def test_append_times_expose_what_a_prometheus_histogram_would() -> None:
    """AppendTimes keeps plain numbers instead of prometheus-client's locked Histogram: the
    exposition must not tell the difference (boundaries are inclusive, as ``le`` says)."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    times = AppendTimes(APPEND_BUCKETS)
    histogram = Histogram("t_seconds", "help", buckets=APPEND_BUCKETS, registry=theirs)

    class Collector:
        def collect(self):  # type: ignore[no-untyped-def]
            yield times.family("t_seconds", "help")

    ours.register(Collector())
    for seconds in (0.0, 0.00005, 0.0001, 0.00011, 0.001, 0.0049, 0.3, 1.0, 1.5, 7.0):
        times.observe(seconds)
        histogram.observe(seconds)
    assert _without_created(generate_latest(ours)) == _without_created(generate_latest(theirs))


def _without_created(exposition: bytes) -> list[str]:
    return [line for line in exposition.decode().splitlines() if "_created" not in line]


async def test_a_metrics_token_is_required_when_set(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, metrics_token="s3cret")
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        anonymous = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert anonymous.status_code == wrong.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "wearstream_" not in anonymous.text
    assert right.status_code == 200 and "wearstream_connections" in right.text
