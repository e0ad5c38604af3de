"""Plain WebSocket producers that submit numbered readings: reading n has ``val`` = n (and, when
acknowledged, SUBMIT ``id`` = n), so a test knows exactly what the broker stored: 1…N, each once.

``open_numbered_producer`` is one connection with ``submit(n)``, for tests of an in-process
broker. ``AckedProducer`` uses the acknowledged-submit extension (docs/protocol.md): it reconnects
whenever the broker process goes away and resends what was not acknowledged, for tests that kill
and restart brokers.
"""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import attrs
import httpx
import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from ..adapters.http.tokens_client import TokenMintError, mint_user_token
from .broker_process import BrokerProcess, DeveloperCredentials

TS = "2022-05-04T10:26:11.268507+01:00"
RECONNECT_S = 0.1
POLL_S = 0.01


def numbered_submit(number: int, t: str = "HEART_RATE", *, with_id: bool = False) -> str:
    """The SUBMIT of reading ``number``: ``val`` is the number (and so is ``id``, ``with_id``)."""
    frame: dict[str, Any] = {"op": 6, "t": t, "d": {"ts": TS, "val": number}}
    if with_id:
        frame["id"] = number
    return json.dumps(frame)


@asynccontextmanager
async def identified_producer(
    api_url: str, ws_url: str, dev_id: str, api_key: str, user: str, **identify: Any
) -> AsyncIterator[WebSocketConnection]:
    """A WebSocket past HELLO, IDENTIFY type 0 for ``user`` (``identify``: more fields of it), READY."""
    token = await mint_user_token(api_url, dev_id, api_key, user)
    async with open_websocket_url(ws_url, disconnect_timeout=1) as ws:
        await ws.get_message()  # HELLO
        await ws.send_message(json.dumps({"op": 3, "d": {"token": token, "type": 0, **identify}}))
        await ws.get_message()  # READY
        yield ws


@attrs.define
class NumberedProducer:
    """Submits readings 1, 2, … on one connection, as the test says when."""

    ws: WebSocketConnection
    user: str
    sent: int = 0

    async def submit(self, n: int, t: str = "HEART_RATE") -> None:
        """Submit the next ``n`` readings."""
        for _ in range(n):
            self.sent += 1
            await self.ws.send_message(numbered_submit(self.sent, t))


@asynccontextmanager
async def open_numbered_producer(
    api_url: str, ws_url: str, dev_id: str, api_key: str, user: str
) -> AsyncIterator[NumberedProducer]:
    """A producer identified for ``user``; it never heartbeats, so keep tests short."""
    async with identified_producer(api_url, ws_url, dev_id, api_key, user) as ws:
        yield NumberedProducer(ws, user)


@attrs.define
class AckedProducer:
    """Submits readings 1, 2, … (``val`` = number, SUBMIT ``id`` = number) until stopped, resending
    whatever the broker has not acknowledged after every reconnect. ``broker`` may be swapped for
    another process while it runs."""

    broker: BrokerProcess
    dev: DeveloperCredentials
    user: str = "runner"
    interval: float = 0.004
    sent: int = 0
    acked: int = 0
    stopping: bool = False
    done: bool = False  # set once stopped with everything acknowledged: ``sent`` is final

    async def run(self) -> None:
        while not (self.stopping and self.acked >= self.sent):
            try:
                await self._session()
            except* (ConnectionClosed, HandshakeError, OSError, httpx.HTTPError, TokenMintError):
                pass  # the broker went away: reconnect and resend what is unacknowledged
            await trio.sleep(RECONNECT_S)
        self.done = True

    async def _session(self) -> None:
        broker, dev = self.broker, self.dev
        async with identified_producer(
            broker.http_url, broker.ws_url, dev.dev_id, dev.api_key, self.user,
            source=f"e2e-{self.user}", ack=True,
        ) as ws:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._acks, ws, nursery.cancel_scope)
                number = self.acked
                while not (self.stopping and number >= self.sent):
                    number += 1
                    await ws.send_message(numbered_submit(number, with_id=True))
                    self.sent = max(self.sent, number)
                    await trio.sleep(self.interval)
                while self.acked < self.sent:
                    await trio.sleep(POLL_S)
                nursery.cancel_scope.cancel()

    async def _acks(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        try:
            while True:
                frame = json.loads(await ws.get_message())
                if frame.get("op") == 9:
                    self.acked = max(self.acked, frame["d"]["upto"])
        except ConnectionClosed:
            scope.cancel()
