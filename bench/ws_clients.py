"""wearstream clients for the load generator: plain Terra-protocol producers and consumers.

They speak the wire protocol directly (trio-websocket, orjson), not through wearstream's own
producer, so the benchmark measures the broker and a client any Terra user could write.
"""

from __future__ import annotations

import random
from typing import Callable

import attrs
import httpx
import orjson
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from .recorder import Recorder

PRODUCER, CONSUMER = 0, 1
HEARTBEAT = '{"op":0}'
CONNECT_TIMEOUT = 30.0
# hypercorn closes a keep-alive connection idle for 5 s; a request sent on it just then is cut
# off ("Server disconnected without sending a response", or a reset). Minting is safe to repeat:
# a token minted by a cut-off request is simply never used.
MINT_ATTEMPTS = 4
CUT_OFF = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


class SetupError(RuntimeError):
    """A client could not get a token, connect or identify."""


@attrs.frozen
class Developer:
    dev_id: str
    api_key: str

    def headers(self) -> dict[str, str]:
        return {"dev-id": self.dev_id, "x-api-key": self.api_key}


async def mint(http: httpx.AsyncClient, developer: Developer, user: str | None) -> str:
    """A producer token for ``user``, or a consumer token when ``user`` is None."""
    for attempt in range(MINT_ATTEMPTS):
        try:
            response = await _post_mint(http, developer, user)
            break
        except CUT_OFF:
            if attempt == MINT_ATTEMPTS - 1:
                raise
    if response.status_code != 200:
        raise SetupError(f"token API said {response.status_code}: {response.text.strip()}")
    return str(response.json()["token"])


async def _post_mint(http: httpx.AsyncClient, developer: Developer, user: str | None) -> httpx.Response:
    if user is None:
        return await http.post("/auth/developer", headers=developer.headers())
    return await http.post("/auth/user", params={"id": user}, headers=developer.headers())


@attrs.frozen
class Heartbeats:
    """When to heartbeat: every ``interval`` s, counted from HELLO (the broker's window runs from
    the connection's start, so a client that waited for READY before starting its jitter could
    miss the first window whenever identifying was slow)."""

    hello_at: float  # trio time
    interval: float  # s


async def open_session(
    nursery: trio.Nursery, url: str, token: str, role: int
) -> tuple[WebSocketConnection, Heartbeats]:
    """Connect, IDENTIFY and wait for READY; returns the connection and its heartbeat schedule."""
    with trio.fail_after(CONNECT_TIMEOUT):
        ws = await connect_websocket_url(nursery, url)
        hello = orjson.loads(await ws.get_message())
        hello_at = trio.current_time()
        if hello.get("op") != 2:
            raise SetupError(f"expected HELLO, got {hello}")
        await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": role}}).decode())
        ready = orjson.loads(await ws.get_message())
        if ready.get("op") != 4:
            raise SetupError(f"expected READY, got {ready}")
    return ws, Heartbeats(hello_at, hello["d"]["heartbeat_interval"] / 1000)


async def heartbeat(ws: WebSocketConnection, schedule: Heartbeats) -> None:
    """Heartbeat as the protocol asks: first interval × jitter after HELLO, then once per
    interval on a fixed schedule (a late send does not push the next one later)."""
    due = schedule.hello_at + schedule.interval * random.random()
    try:
        while True:
            await trio.sleep_until(due)
            await ws.send_message(HEARTBEAT)
            due += schedule.interval
    except ConnectionClosed:
        pass


async def drain(ws: WebSocketConnection, on_close: Callable[[], None]) -> None:
    """Read and drop what the broker sends a producer (heartbeat acks), noting when it closes."""
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed:
        on_close()


async def consume(ws: WebSocketConnection, recorder: Recorder, clock: Callable[[], float]) -> None:
    try:
        while True:
            message = await ws.get_message()
            recorder.record(message, clock())
    except ConnectionClosed:
        pass
