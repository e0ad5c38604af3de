"""An in-process broker with one developer and consumers capped at one, for dashboard tests."""

from __future__ import annotations

import pytest
import trio

from wearstream.testing.fixtures import LiveBroker, start_broker


@pytest.fixture
async def broker(nursery: trio.Nursery) -> LiveBroker:
    """Consumers capped at one, to show that a dashboard is outside the cap."""
    return await start_broker(nursery, "dashboard-tests", max_consumers=1)
