"""``connect_consumer(link=...)``: the broker connection is swappable, as httpx's transport is."""

from __future__ import annotations

import pytest
import trio

import wearstream
from wearstream.testing.fake_feed import FakeFeed


async def test_connect_consumer_streams_from_a_fake_feed() -> None:
    feed = FakeFeed("dev-1")
    for n in range(3):
        feed.publish("u1", "HEART_RATE", {"val": n})
    with trio.fail_after(5):
        async with wearstream.connect_consumer(link=feed.link, cursor=1) as stream:
            got = [(await stream.__anext__()).seq for _ in range(2)]
    assert got == [2, 3]


async def test_refusal_comes_out_as_consumer_stopped() -> None:
    feed = FakeFeed()
    feed.refuse("no entry")
    with pytest.raises(wearstream.ConsumerStopped, match="no entry"):
        with trio.fail_after(5):
            async with wearstream.connect_consumer(link=feed.link) as stream:
                async for _ in stream:
                    pass


async def test_without_link_the_connection_arguments_are_required() -> None:
    with pytest.raises(TypeError, match="api_url, broker_url, dev_id and api_key, or link="):
        async with wearstream.connect_consumer(api_url="http://127.0.0.1:1"):
            pass
