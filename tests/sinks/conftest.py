"""A real webhook receiver for the sink tests: a Starlette app on hypercorn, 127.0.0.1 port 0.

It checks every request's HMAC signature (a bad one gets 401 and is not recorded), records each
accepted body per URL key in arrival order, and can be told to fail the next requests first.
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import attrs
import orjson
import pytest
import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from wearstream.adapters.http.server import serve_http
from wearstream.adapters.sinks.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)

SECRET = "s3cret-for-tests"


@attrs.define
class Receiver:
    """What the webhook receiver saw; ``fail_next`` holds statuses to answer before accepting."""

    base_url: str = ""
    bodies: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    deliveries: list[str] = attrs.field(factory=list)
    refused: list[int] = attrs.field(factory=list)
    fail_next: list[int] = attrs.field(factory=list)
    bad_signatures: int = 0

    def url(self, key: str) -> str:
        return f"{self.base_url}/hook/{key}"

    def payloads(self, key: str) -> list[dict[str, Any]]:
        return [p for body in self.bodies.get(key, []) for p in body["payloads"]]

    async def hook(self, request: Request) -> Response:
        raw = await request.body()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not verify_signature(SECRET, timestamp, raw, request.headers.get(SIGNATURE_HEADER, "")):
            self.bad_signatures += 1
            return PlainTextResponse("bad signature", status_code=401)
        if self.fail_next:
            status = self.fail_next.pop(0)
            self.refused.append(status)
            return PlainTextResponse("not now", status_code=status)
        self.deliveries.append(request.headers[DELIVERY_HEADER])
        self.bodies.setdefault(request.path_params["key"], []).append(orjson.loads(raw))
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook/{key}", self.hook, methods=["POST"])])


@pytest.fixture
async def receiver(nursery: trio.Nursery) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    port = await nursery.start(serve_http, receiver.app(), "127.0.0.1", 0)
    receiver.base_url = f"http://127.0.0.1:{port}"
    yield receiver
