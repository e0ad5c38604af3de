"""One origin (issue 13, item 4): `/connect` and the HTTP API on one port by default, the HTTP
API also on a port of its own with `http_port`, and the dashboard told the WebSocket URL of the
origin it was loaded from."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import orjson
import trio
from trio_websocket import open_websocket_url

from wearstream.testing.fixtures import start_broker


def origin(url: str) -> str:
    return urlsplit(url).netloc


async def hello(ws_url: str) -> int:
    with trio.fail_after(10):
        async with open_websocket_url(ws_url) as ws:
            return int(orjson.loads(await ws.get_message())["op"])


async def test_websocket_and_http_share_one_port(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery)
    assert origin(broker.ws_url) == origin(broker.api_url)
    async with httpx.AsyncClient(base_url=broker.api_url) as http:
        assert (await http.get("/healthz")).status_code == 200
        config = (await http.get("/dashboard/config")).json()
    async with httpx.AsyncClient(base_url=broker.api_url) as http:  # a connection of its own
        assert (await http.get("/connect")).status_code == 426  # a plain GET of the endpoint
    assert config["ws_url"] == broker.ws_url
    assert await hello(broker.ws_url) == 2


async def test_a_separate_http_port_is_an_option(nursery: trio.Nursery) -> None:
    broker = await start_broker(nursery, http_port=0)
    assert origin(broker.ws_url) != origin(broker.api_url)
    one_port = broker.ws_url.replace("ws://", "http://").removesuffix("/connect")
    for base in (broker.api_url, one_port):
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).status_code == 200
    assert await hello(broker.ws_url) == 2
