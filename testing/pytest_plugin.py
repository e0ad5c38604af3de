"""The pytest plug-in of the testing kit, registered as the ``pytest11`` entry point
``wearstream``: installing wearstream makes these fixtures available to every test suite.

Fixtures (async ones need pytest-trio, e.g. ``trio_mode = true``):

- ``wearstream_broker``: a real broker on free ports of 127.0.0.1 with memory stores and a
  developer (``LiveBroker``: URLs, credentials, token helpers, ``producer()``, ``consumer()``).
- ``fake_device``: a ``FakeDevice`` (id ``fake-1``, HEART_RATE) the test drives.
- ``device_events``: an ``EventRecorder`` to run a device session against.
- ``fake_sink``: a ``MemorySink``, an in-memory sink that passes the sink contract.
"""

from __future__ import annotations

import pytest
import trio

from .fake_device import EventRecorder, FakeDevice
from .fixtures import LiveBroker, start_broker
from .memory_sink import MemorySink


def pytest_configure(config: pytest.Config) -> None:
    """The contract suites mark their real-process tests ``e2e``; plug-in projects get the mark
    registered without declaring it themselves."""
    config.addinivalue_line("markers", "e2e: starts real processes (slower)")


@pytest.fixture
async def wearstream_broker(nursery: trio.Nursery) -> LiveBroker:
    """A real broker on free ports of 127.0.0.1 (memory stores) with one developer."""
    return await start_broker(nursery)


@pytest.fixture
def fake_device() -> FakeDevice:
    """A SampleSource the test drives: ``send``, ``drop``, ``reconnect``, ``fail``, ``end``."""
    return FakeDevice()


@pytest.fixture
def device_events() -> EventRecorder:
    """DeviceEvents that keep every sample and status; ``await wait_for(samples=n)``."""
    return EventRecorder()


@pytest.fixture
def fake_sink() -> MemorySink:
    """An in-memory SampleSink (passes the sink contract)."""
    return MemorySink()
