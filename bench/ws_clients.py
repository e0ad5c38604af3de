"""wearstream clients for the load generator: plain Terra-protocol producers and consumers.

They speak the wire protocol directly, not through wearstream's own producer, so the benchmark
measures the broker and a client any Terra user could write. The WebSocket layer is websockets'
sans-I/O ``ClientProtocol`` (its C masking) on a trio TCP stream: a few µs per frame, where
trio-websocket's pure-Python wsproto costs ~30, so the load generator is not what limits a
maximum-rate run (or thousands of connections), and it is as lean as bench's MQTT client.
"""

from __future__ import annotations

import collections
import random
from typing import Callable
from urllib.parse import urlsplit

import attrs
import httpx
import orjson
import trio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from .recorder import Recorder

PRODUCER, CONSUMER = 0, 1
HEARTBEAT = '{"op":0}'
CONNECT_TIMEOUT = 30.0
# hypercorn closes a keep-alive connection idle for 5 s; a request sent on it just then is cut
# off ("Server disconnected without sending a response", or a reset). Minting is safe to repeat:
# a token minted by a cut-off request is simply never used.
MINT_ATTEMPTS = 4
CUT_OFF = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


RECEIVE_BYTES = 65_536
MAX_MESSAGE = 1 << 20


class SetupError(RuntimeError):
    """A client could not get a token, connect or identify."""


class ConnectionClosed(Exception):
    """The broker closed the WebSocket (or the TCP connection ended)."""


class WebSocket:
    """One client WebSocket: websockets' sans-I/O protocol on a trio stream.

    Any number of tasks may send (a lock keeps their writes whole; a sender that finds its
    bytes already taken by another's write just returns); one task receives.
    """

    def __init__(self, stream: trio.SocketStream, protocol: ClientProtocol) -> None:
        self.stream = stream
        self.protocol = protocol
        self.messages: collections.deque[str | bytes] = collections.deque()
        self.sending = trio.Lock()
        self.parts: list[bytes] = []  # a fragmented message so far (the broker sends none)
        self.binary = False  # the message in parts is binary
        self.opened = False  # the broker answered 101

    @classmethod
    async def connect(cls, url: str) -> "WebSocket":
        where = urlsplit(url)
        stream = await trio.open_tcp_stream(where.hostname or "127.0.0.1", where.port or 80)
        protocol = ClientProtocol(parse_uri(url), max_size=MAX_MESSAGE)
        protocol.send_request(protocol.connect())
        ws = cls(stream, protocol)
        await ws.flush()
        try:
            while protocol.handshake_exc is None and not ws.opened:
                await ws.receive_more()
        except ConnectionClosed:
            if protocol.handshake_exc is None:
                raise
        if protocol.handshake_exc is not None:  # e.g. 503 from a broker at --max-connections
            raise SetupError(f"WebSocket handshake failed: {protocol.handshake_exc}")
        return ws

    async def flush(self) -> None:
        async with self.sending:
            data = self.protocol.data_to_send()
            if data:
                try:
                    await self.stream.send_all(b"".join(data))
                except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
                    raise ConnectionClosed(str(error)) from None

    async def send_message(self, text: str) -> None:
        await self.send_messages([text])

    async def send_messages(self, texts: list[str]) -> None:
        """Several messages in one write (a maximum-rate producer's batch). A connection the
        broker has begun to close (e.g. going away at the end of a run) is ConnectionClosed,
        like one whose socket is gone."""
        try:
            for text in texts:
                self.protocol.send_text(text.encode())
        except InvalidState as error:
            raise ConnectionClosed(str(error)) from None
        await self.flush()

    async def get_message(self) -> str | bytes:
        while not self.messages:
            await self.receive_more()
        return self.messages.popleft()

    async def receive_more(self) -> None:
        try:
            data = await self.stream.receive_some(RECEIVE_BYTES)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise ConnectionClosed(str(error)) from None
        if data:
            self.protocol.receive_data(data)
        else:
            self.protocol.receive_eof()
        closing = self._take(self.protocol.events_received())
        if closing or not data:
            await self._answer_and_close()
            raise ConnectionClosed(f"closed: {self.protocol.close_code} {self.protocol.close_reason}")

    def _take(self, events: list[object]) -> bool:
        """File messages from ``events``; True when the broker closed."""
        closing = False
        for event in events:
            if isinstance(event, Response):
                self.opened = event.status_code == 101
            elif isinstance(event, Frame):
                closing |= self._frame(event)
        return closing

    def _frame(self, frame: Frame) -> bool:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            if frame.opcode is not Opcode.CONT:
                self.binary = frame.opcode is Opcode.BINARY
            self.parts.append(frame.data)
            if frame.fin:
                data = b"".join(self.parts)
                self.parts = []
                self.messages.append(data if self.binary else data.decode())
        return frame.opcode is Opcode.CLOSE

    async def _answer_and_close(self) -> None:
        with trio.move_on_after(1):
            try:
                await self.flush()  # the close frame the protocol answers with
            except ConnectionClosed:
                pass
        await self.stream.aclose()

    async def aclose(self) -> None:
        await self.stream.aclose()


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


async def open_session(url: str, token: str, role: int) -> tuple[WebSocket, Heartbeats]:
    """Connect, IDENTIFY and wait for READY; returns the connection and its heartbeat schedule."""
    with trio.fail_after(CONNECT_TIMEOUT):
        ws = await WebSocket.connect(url)
        hello = orjson.loads(await ws.get_message())
        hello_at = trio.current_time()
        if hello.get("op") != 2:
            raise SetupError(f"expected HELLO, got {hello}")
        await ws.send_message(orjson.dumps({"op": 3, "d": {"token": token, "type": role}}).decode())
        ready = orjson.loads(await ws.get_message())
        if ready.get("op") != 4:
            raise SetupError(f"expected READY, got {ready}")
    return ws, Heartbeats(hello_at, hello["d"]["heartbeat_interval"] / 1000)


async def heartbeat(ws: WebSocket, schedule: Heartbeats) -> None:
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


async def drain(ws: WebSocket, on_close: Callable[[], None]) -> None:
    """Read and drop what the broker sends a producer (heartbeat acks), noting when it closes."""
    try:
        while True:
            await ws.get_message()
    except ConnectionClosed:
        on_close()


async def consume(ws: WebSocket, recorder: Recorder, clock: Callable[[], float]) -> None:
    try:
        while True:
            message = await ws.get_message()
            recorder.record(message, clock())
    except ConnectionClosed:
        pass
