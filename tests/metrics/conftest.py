"""A scrape of a broker's /metrics, for tests that run real traffic through ``wearstream_broker``."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from wearstream.testing.fixtures import LiveBroker

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(broker: LiveBroker) -> Samples:
    """Every sample of ``/metrics``, by name and label set."""
    async with httpx.AsyncClient(base_url=broker.api_url) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
